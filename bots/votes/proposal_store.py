"""Proposals: one method per kind of change, each made once per cause (the command event or
the job), so a handler run again finds it made."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bots.votes.models import Proposal
from bridge.store.database import Database
from bridge.store.jobs import JobSpec, add_jobs
from bridge.store.numbering import numbered


@dataclass(frozen=True)
class ProposalRecord:
    id: int
    compound: str
    number: int
    proposer: str | None
    text: str
    status: str
    source_event_id: str
    created_at: datetime
    discussion_event_id: str | None
    discussion_until: datetime | None
    poll_id: int | None
    convention_event_id: str | None
    reason: str | None
    last_cause: str | None


_FIELDS = [f.name for f in fields(ProposalRecord)]


def _record(row: Proposal) -> ProposalRecord:
    return ProposalRecord(**{name: getattr(row, name) for name in _FIELDS})


class WrongStep(Exception):
    def __init__(self, proposal: ProposalRecord) -> None:
        super().__init__(proposal.status)
        self.proposal = proposal


class ProposalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def file(
        self, compound: str, proposer: str, text: str, source_event_id: str, at: datetime
    ) -> ProposalRecord:
        """A new pending proposal under the compound's next number, or the one this event filed
        before. Two rooms' lanes may take the same number at once (or this event, replayed
        while it ran): the unique key refuses the second, which looks again."""
        return await numbered(
            lambda: self._file_once(compound, proposer, text, source_event_id, at),
            f"a proposal for {source_event_id}",
        )

    async def _file_once(
        self, compound: str, proposer: str, text: str, source_event_id: str, at: datetime
    ) -> ProposalRecord:
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(Proposal).where(Proposal.source_event_id == source_event_id)
                )
            ).scalar_one_or_none()
            if row is not None:
                return _record(row)
            last = (
                await session.execute(
                    select(func.coalesce(func.max(Proposal.number), 0)).where(
                        Proposal.compound == compound
                    )
                )
            ).scalar_one()
            row = Proposal(
                compound=compound,
                number=int(last) + 1,
                proposer=proposer,
                text=text,
                status="pending",
                source_event_id=source_event_id,
                created_at=at,
                last_cause=source_event_id,
            )
            session.add(row)
            await session.flush()
            return _record(row)

    async def get(self, compound: str, number: int) -> ProposalRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(Proposal).where(Proposal.compound == compound, Proposal.number == number)
                )
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def by_poll(self, poll_id: int) -> ProposalRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(select(Proposal).where(Proposal.poll_id == poll_id))
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def change(
        self,
        proposal_id: int,
        *,
        cause: str,
        allowed_from: tuple[str, ...],
        jobs: list[JobSpec] = [],  # noqa: B006 (never mutated)
        **changes: Any,
    ) -> tuple[ProposalRecord, bool]:
        """Make a change once per cause: (the proposal after it, made now?). WrongStep when
        the proposal is in another state and this cause did not put it there."""
        async with self.db.transaction() as session:
            row = await session.get_one(Proposal, proposal_id)
            if row.last_cause == cause:
                return _record(row), False
            if row.status not in allowed_from:
                raise WrongStep(_record(row))
            for name, value in changes.items():
                setattr(row, name, value)
            row.last_cause = cause
            await add_jobs(session, jobs)
            await session.flush()
            return _record(row), True

    async def latest(self, compound: str, limit: int) -> list[ProposalRecord]:
        """The compound's proposals, newest first."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Proposal)
                    .where(Proposal.compound == compound)
                    .order_by(Proposal.number.desc())
                    .limit(limit)
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def conventions(self, compound: str) -> list[ProposalRecord]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Proposal)
                    .where(Proposal.compound == compound, Proposal.status == "passed")
                    .order_by(Proposal.number)
                )
            ).scalars()
            return [_record(r) for r in rows]
