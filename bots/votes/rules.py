"""The votes bot's pure rules: which answer counts, the tally of a quick poll, and the
thresholds of a formal vote (Civil Code art. 278) in exact `Fraction` arithmetic.

Nothing here reads the clock, the database or the network: callers pass plain values.

Civil Code art. 278 (2021), the words the thresholds follow:
- participation: owners holding "三分之二以上" (at least 2/3, "以上" includes the number) of the
  floor area AND "三分之二以上" of the owners take part;
- ordinary matter: "过半数" (more than half, strictly) of the participating area AND of the
  participating owners agree;
- major matter (maintenance fund, rebuilding, change of use of common parts, business on them):
  "四分之三以上" (at least 3/4) of the participating area AND of the participating owners agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

# A voter's weight: a floor area (exact), 1 where votes are not weighted, or either scaled to
# whole hundredths of a square metre, where adding 100,000 of them must be fast.
Weight = int | Fraction

# The options of a formal vote, in the order they are shown.
YES, NO, ABSTAIN = "yes", "no", "abstain"
FORMAL_CHOICES: tuple[str, ...] = (YES, NO, ABSTAIN)


@dataclass(frozen=True)
class Answer:
    """One response to a poll, as the bot stored it."""

    voter: str  # who answered: a Matrix user ID, or a household for paper ballots
    household: str | None  # "3-2-1101" when the voter is bound to one
    choices: tuple[str, ...]  # option IDs
    ts: int  # origin_server_ts: the latest response wins (MSC3381)
    seq: int  # arrival order, to break ties between equal timestamps


def latest_answers(answers: Iterable[Answer], per_household: bool) -> dict[str, Answer]:
    """The answer that counts for each voter (or each household): the latest one."""
    latest: dict[str, Answer] = {}
    for answer in answers:
        key = answer.household if per_household and answer.household else answer.voter
        held = latest.get(key)
        if held is None or (answer.ts, answer.seq) > (held.ts, held.seq):
            latest[key] = answer
    return latest


def reminder_time(opened_at: datetime, closes_at: datetime) -> datetime:
    """When voters who have not answered hear about it: a day before the close, or halfway
    for a shorter vote."""
    return closes_at - min(timedelta(days=1), (closes_at - opened_at) / 2)


def quick_tally(option_ids: Sequence[str], counted: Iterable[Answer]) -> dict[str, int]:
    """Votes per option (a multiple-choice answer counts once for each option chosen)."""
    counts = dict.fromkeys(option_ids, 0)
    for answer in counted:
        for choice in answer.choices:
            if choice in counts:
                counts[choice] += 1
    return counts


class Comparison(StrEnum):
    AT_LEAST = "at_least"  # ≥ ("以上")
    MORE_THAN = "more_than"  # > ("过半数")


@dataclass(frozen=True)
class Threshold:
    share: Fraction
    comparison: Comparison

    def met(self, part: Weight, whole: Weight) -> bool:
        """Whether part/whole reaches the threshold; nothing of nothing reaches none."""
        if whole == 0:
            return False
        ratio = Fraction(part) / Fraction(whole)
        if self.comparison is Comparison.AT_LEAST:
            return ratio >= self.share
        return ratio > self.share


@dataclass(frozen=True)
class Rule:
    """What a vote needs: participation (of the whole electorate) and approval (of those who
    took part), each by head and by area; None where the rule sets none."""

    name: str
    participation_heads: Threshold | None
    participation_area: Threshold | None
    approval_heads: Threshold
    approval_area: Threshold | None


HALF_PLUS = Threshold(Fraction(1, 2), Comparison.MORE_THAN)
TWO_THIRDS = Threshold(Fraction(2, 3), Comparison.AT_LEAST)
THREE_QUARTERS = Threshold(Fraction(3, 4), Comparison.AT_LEAST)

SIMPLE = Rule("simple", None, None, HALF_PLUS, None)
ORDINARY = Rule("ordinary", TWO_THIRDS, TWO_THIRDS, HALF_PLUS, HALF_PLUS)
MAJOR = Rule("major", TWO_THIRDS, TWO_THIRDS, THREE_QUARTERS, THREE_QUARTERS)
RULES: dict[str, Rule] = {r.name: r for r in (SIMPLE, ORDINARY, MAJOR)}


def custom_rule(participation: Fraction, approval: Fraction) -> Rule:
    """Custom thresholds, by head and by area alike, each "at least". Neither may be 0: a
    vote nobody takes part in, or that passes without a yes, decides nothing."""
    for share in (participation, approval):
        if not 0 < share <= 1:
            raise ValueError("a threshold is a share above 0 and at most 1")
    take = Threshold(participation, Comparison.AT_LEAST)
    agree = Threshold(approval, Comparison.AT_LEAST)
    return Rule("custom", take, take, agree, agree)


_SHARE = re.compile(r"^(?:\d{1,3}/\d{1,3}|\d{1,3}(?:\.\d{1,2})?%|[01](?:\.\d{1,4})?)$")


def parse_share(text: str) -> Fraction:
    """ "2/3", "75%", "0.5" → an exact share; ValueError otherwise (other forms too:
    "1e-5", "0x1", a fraction of long numbers)."""
    text = text.strip().replace("％", "%")
    if not _SHARE.match(text):
        raise ValueError("a share is written 2/3, 75% or 0.5")
    if text.endswith("%"):
        value = Fraction(Decimal(text[:-1])) / 100
    elif "/" in text:
        top, bottom = text.split("/", 1)
        value = Fraction(int(top), int(bottom))
    else:
        value = Fraction(Decimal(text))
    if not 0 <= value <= 1:
        raise ValueError("a share is between 0 and 1")
    return value


@dataclass(frozen=True)
class Outcome:
    """A formal vote's figures and verdict, every ratio exact."""

    rule: str
    electorate_heads: Weight
    electorate_area: Fraction
    voted_heads: Weight
    voted_area: Fraction
    yes_heads: Weight
    yes_area: Fraction
    no_heads: Weight
    no_area: Fraction
    abstain_heads: Weight
    abstain_area: Fraction
    participation_heads_met: bool | None  # None: the rule sets no such threshold
    participation_area_met: bool | None
    approval_heads_met: bool
    approval_area_met: bool | None

    @property
    def passed(self) -> bool:
        checks = (
            self.participation_heads_met,
            self.participation_area_met,
            self.approval_heads_met,
            self.approval_area_met,
        )
        return all(c is not False for c in checks)


@dataclass(frozen=True)
class Totals:
    """What a vote's ballots add up to, per choice: how many and how much area. Secret ballots
    are counted into these without their voters; whoever builds them checks that the voters
    are in the electorate (`totals_of`, the audit's recount, or the close's SQL)."""

    heads: Mapping[str, Weight]  # persons (an owner of k parts carries 1/k per part)
    area: Mapping[str, Weight]

    def plus(self, other: Totals) -> Totals:
        return Totals(
            {c: self.heads.get(c, 0) + other.heads.get(c, 0) for c in FORMAL_CHOICES},
            {c: self.area.get(c, 0) + other.area.get(c, 0) for c in FORMAL_CHOICES},
        )


def totals_of(electorate: Mapping[str, Weight], ballots: Mapping[str, str]) -> Totals:
    """Totals of open ballots (`ballots`: the choice that counts for each voter). A ballot from
    outside the electorate is a caller's bug: ValueError."""
    heads = dict.fromkeys(FORMAL_CHOICES, 0)
    area: dict[str, Weight] = dict.fromkeys(FORMAL_CHOICES, 0)
    for voter, choice in ballots.items():
        if voter not in electorate:
            raise ValueError(f"ballot from outside the electorate: {voter}")
        if choice not in heads:
            raise ValueError(f"unknown choice: {choice}")
        heads[choice] += 1
        area[choice] += electorate[voter]
    return Totals(heads, area)


def formal_tally(
    rule: Rule, electorate: Mapping[str, Weight], ballots: Mapping[str, str]
) -> Outcome:
    """Tally a formal vote. `electorate`: every eligible voter (household or person) and its
    weight (floor area; 1 where votes are not weighted); `ballots`: the choice that counts for
    each voter who took part (yes / no / abstain)."""
    total: Weight = sum(electorate.values())
    return tally_totals(rule, len(electorate), total, totals_of(electorate, ballots))


def tally_totals(
    rule: Rule, electorate_heads: Weight, electorate_area: Weight, totals: Totals
) -> Outcome:
    """The verdict from the electorate's size and the ballots' totals (ValueError for a choice
    that is not yes, no or abstain)."""
    if set(totals.heads) - set(FORMAL_CHOICES) or set(totals.area) - set(FORMAL_CHOICES):
        raise ValueError("unknown choice in the totals")
    heads: dict[str, Weight] = {c: totals.heads.get(c, 0) for c in FORMAL_CHOICES}
    area = {c: totals.area.get(c, 0) for c in FORMAL_CHOICES}
    voted_heads: Weight = sum(heads.values())
    voted_area: Weight = sum(area.values())

    def check(threshold: Threshold | None, part: Weight, whole: Weight) -> bool | None:
        return None if threshold is None else threshold.met(part, whole)

    return Outcome(
        rule=rule.name,
        electorate_heads=electorate_heads,
        electorate_area=Fraction(electorate_area),
        voted_heads=voted_heads,
        voted_area=Fraction(voted_area),
        yes_heads=heads[YES],
        yes_area=Fraction(area[YES]),
        no_heads=heads[NO],
        no_area=Fraction(area[NO]),
        abstain_heads=heads[ABSTAIN],
        abstain_area=Fraction(area[ABSTAIN]),
        participation_heads_met=check(rule.participation_heads, voted_heads, electorate_heads),
        participation_area_met=check(rule.participation_area, voted_area, electorate_area),
        approval_heads_met=rule.approval_heads.met(heads[YES], voted_heads),
        approval_area_met=check(rule.approval_area, area[YES], voted_area),
    )


def percent(part: Fraction, whole: Fraction) -> str:
    """A share for people to read, to two decimals rounded half up ("66.67%", 55.125% →
    "55.13%"); the verdict never uses it."""
    if whole == 0:
        return "0.00%"
    value = Decimal(part.numerator * whole.denominator * 100) / Decimal(
        part.denominator * whole.numerator
    )
    return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def area_text(value: Fraction) -> str:
    """An area in square metres as exact as the roster wrote it (areas have 2 decimals)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{exact.quantize(Decimal('0.01'), ROUND_HALF_UP)}"
