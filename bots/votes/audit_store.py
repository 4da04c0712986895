"""A closed formal vote's lists for its audit file, read from its count's tables (which no
longer change once the vote is closed)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import select

from bots.votes.models import CountedBallot, Elector, SecretBallot, SecretTotal, SecretVoter
from bots.votes.tally_store import exact
from bridge.store.database import Database


@dataclass(frozen=True)
class AuditMaterial:
    """A closed formal vote's lists, for its audit file."""

    electorate: dict[str, str]  # voter → weight (exact decimal text)
    ballots: list[dict[str, str]]  # counted open ballots, by voter
    secret: dict[str, Any] | None  # participants, receipts, area totals


async def audit_material(db: Database, poll_id: int, secret: bool) -> AuditMaterial:
    """The lists a closed formal vote's audit file publishes, read from its count's tables."""
    async with db.sessions() as session:
        conn = await session.connection()
        electorate = {
            voter: weight
            for voter, weight in await conn.execute(
                select(Elector.voter, Elector.weight)
                .where(Elector.poll_id == poll_id)
                .order_by(Elector.voter)
            )
        }
        ballots: list[dict[str, str]] = []
        for voter, choice, source, entered_by, confirmed_by in await conn.execute(
            select(
                CountedBallot.voter,
                CountedBallot.choice,
                CountedBallot.source,
                CountedBallot.entered_by,
                CountedBallot.confirmed_by,
            )
            .where(CountedBallot.poll_id == poll_id)
            .order_by(CountedBallot.voter)
        ):
            ballot = {"voter": voter, "choice": choice, "source": source}
            if entered_by is not None:
                ballot["entered_by"] = entered_by
            if confirmed_by is not None:
                ballot["confirmed_by"] = confirmed_by
            ballots.append(ballot)
        material: dict[str, Any] | None = None
        if secret:
            voters = await conn.execute(
                select(SecretVoter.voter)
                .where(SecretVoter.poll_id == poll_id)
                .order_by(SecretVoter.voter)
            )
            receipts = await conn.execute(
                select(SecretBallot.receipt, SecretBallot.choice)
                .where(SecretBallot.poll_id == poll_id)
                .order_by(SecretBallot.receipt)
            )
            totals = await conn.execute(
                select(SecretTotal.choice, SecretTotal.area)
                .where(SecretTotal.poll_id == poll_id)
                .order_by(SecretTotal.choice)
            )
            material = {
                "participants": [v for (v,) in voters],
                "receipts": [{"receipt": r, "choice": c} for r, c in receipts],
                "area": {c: a for c, a in totals},
                # Paper ballots of a secret vote are as secret as online ones: who took part
                # (and who entered it), and totals per choice; never a household's choice.
                "paper": _paper_block(ballots, electorate),
            }
            ballots = []
        return AuditMaterial(electorate, ballots, material)


def _paper_block(ballots: list[dict[str, str]], electorate: dict[str, str]) -> dict[str, Any]:
    totals: dict[str, dict[str, Any]] = {}
    for ballot in ballots:
        total = totals.setdefault(ballot["choice"], {"heads": 0, "area": Fraction(0)})
        total["heads"] += 1
        total["area"] += exact(electorate[ballot["voter"]])
    return {
        "participants": [
            {k: v for k, v in b.items() if k not in ("choice", "source")} for b in ballots
        ],
        "totals": {
            c: {"heads": t["heads"], "area": str(t["area"])} for c, t in sorted(totals.items())
        },
    }
