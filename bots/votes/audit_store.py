"""A closed formal vote's lists for its audit file, read from its count's tables (which no
longer change once the vote is closed)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import select

from bots.votes.count import exact
from bots.votes.models import CountedBallot, Elector, SecretBallot, SecretTotal, SecretVoter
from bridge.store.database import Database


@dataclass(frozen=True)
class AuditMaterial:
    """A closed formal vote's lists, for its audit file (docs/audit-format.md)."""

    electorate: list[dict[str, str]]  # voter, weight and head share (exact text), by voter
    ballots: list[dict[str, Any]]  # counted open ballots, by voter
    secret: dict[str, Any] | None  # participants, receipts, totals; paper participants, totals


async def audit_material(db: Database, poll_id: int, secret: bool) -> AuditMaterial:
    """The lists a closed formal vote's audit file publishes, read from its count's tables."""
    async with db.sessions() as session:
        conn = await session.connection()
        electorate = [
            {"voter": voter, "weight": weight, "head": head}
            for voter, weight, head in await conn.execute(
                select(Elector.voter, Elector.weight, Elector.head)
                .where(Elector.poll_id == poll_id)
                .order_by(Elector.voter)
            )
        ]
        weights = {e["voter"]: (exact(e["weight"]), Fraction(e["head"])) for e in electorate}
        ballots: list[dict[str, Any]] = []
        for (
            voter,
            choice,
            source,
            entered_by,
            confirmed_by,
            event_id,
            ts,
            proxy,
            proxy_confirmed_by,
        ) in await conn.execute(
            select(
                CountedBallot.voter,
                CountedBallot.choice,
                CountedBallot.source,
                CountedBallot.entered_by,
                CountedBallot.confirmed_by,
                CountedBallot.event_id,
                CountedBallot.ts,
                CountedBallot.proxy,
                CountedBallot.proxy_confirmed_by,
            )
            .where(CountedBallot.poll_id == poll_id)
            .order_by(CountedBallot.voter)
        ):
            ballot: dict[str, Any] = {"voter": voter, "choice": choice, "source": source}
            if source == "online":
                ballot["event_id"], ballot["origin_server_ts"] = event_id, ts
                if proxy is not None:  # given by a proxy for the household (format 2.1)
                    ballot["proxy"], ballot["proxy_confirmed_by"] = proxy, proxy_confirmed_by
            else:
                ballot["entered_by"], ballot["confirmed_by"] = entered_by, confirmed_by
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
                select(SecretTotal.choice, SecretTotal.heads, SecretTotal.head, SecretTotal.area)
                .where(SecretTotal.poll_id == poll_id)
                .order_by(SecretTotal.choice)
            )
            material = {
                "participants": [v for (v,) in voters],
                "receipts": [{"receipt": r, "choice": c} for r, c in receipts],
                "totals": {
                    c: {"ballots": n, "heads": str(Fraction(h)), "area": str(Fraction(a))}
                    for c, n, h, a in totals
                },
                # Paper ballots of a secret vote are as secret as online ones: who took part
                # (who entered and confirmed each), and totals per choice; never a choice.
                "paper": _paper_block(ballots, weights),
            }
            ballots = []
        return AuditMaterial(electorate, ballots, material)


def _paper_block(
    ballots: list[dict[str, Any]], weights: dict[str, tuple[Fraction, Fraction]]
) -> dict[str, Any]:
    totals: dict[str, list[Any]] = {}
    for ballot in ballots:
        total = totals.setdefault(ballot["choice"], [0, Fraction(0), Fraction(0)])
        weight, head = weights[ballot["voter"]]
        total[0] += 1
        total[1] += head
        total[2] += weight
    return {
        "participants": [
            {k: v for k, v in b.items() if k not in ("choice", "source")} for b in ballots
        ],
        "totals": {
            c: {"ballots": n, "heads": str(h), "area": str(a)}
            for c, (n, h, a) in sorted(totals.items())
        },
    }
