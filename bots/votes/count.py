"""What a formal vote's count gives back (bots/votes/tally_store.py counts it in SQL): the count
itself, the error of a count that does not add up, and weights read exactly."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from bots.votes.rules import Totals


class CountError(ValueError):
    """A formal count that does not add up: the vote stays open, and the committee is told
    why (`key` names the reason in the texts)."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key} {detail}".strip())
        self.key = key


@dataclass(frozen=True)
class FormalCount:
    """What a formal vote's close adds up: the electorate's size and area, and the totals of
    every ballot that counted (open and secret), areas exact."""

    electorate_heads: Fraction  # persons as the rule counts them (owners for owners' votes)
    electorate_area: Fraction
    totals: Totals
    online: int
    paper: int
    secret: int
    electorate_parts: int  # households (or people) in the electorate

    @property
    def voted_parts(self) -> int:
        return self.online + self.paper + self.secret


def exact(weight: str) -> Fraction:
    return Fraction(Decimal(weight))
