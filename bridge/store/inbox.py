"""The durable inbox: homeserver transactions are stored here before they are acknowledged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from bridge.store.database import Database, insert_ignoring_duplicates
from bridge.store.models import InboxEvent, InboxTransaction


@dataclass(frozen=True)
class InboxEntry:
    seq: int
    event_id: str
    body: dict[str, Any]
    attempts: int


class InboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store_transaction(
        self, txn_id: str, events: Sequence[dict[str, Any]], now: datetime
    ) -> bool:
        """Store a transaction and its events atomically; False if the txnId was seen before."""
        async with self.db.transaction() as session:
            # One statement both records the txnId and tells whether it was seen before.
            claimed = await session.execute(
                insert_ignoring_duplicates(session, InboxTransaction).values(
                    txn_id=txn_id, received_at=now, event_count=len(events)
                )
            )
            if not getattr(claimed, "rowcount", 0):
                return False
            rows = [
                {
                    "event_id": e["event_id"],
                    "txn_id": txn_id,
                    "body": e,
                    "status": "pending",
                    "attempts": 0,
                    "received_at": now,
                }
                for e in events
            ]
            if rows:
                # An event the homeserver sends again in a new transaction is stored once.
                await session.execute(insert_ignoring_duplicates(session, InboxEvent), rows)
        return True

    async def pending(self, limit: int = 100) -> list[InboxEntry]:
        async with self.db.sessions() as session:
            result = await session.execute(
                select(InboxEvent.seq, InboxEvent.event_id, InboxEvent.body, InboxEvent.attempts)
                .where(InboxEvent.status == "pending")
                .order_by(InboxEvent.seq)
                .limit(limit)
            )
            return [InboxEntry(*row) for row in result.all()]

    async def mark_done(self, seqs: Sequence[int], now: datetime) -> None:
        if not seqs:
            return
        async with self.db.transaction() as session:
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.seq.in_(seqs))
                .values(status="done", done_at=now, attempts=InboxEvent.attempts + 1)
            )

    async def mark_attempt_failed(self, seq: int, error: str, give_up: bool, now: datetime) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(InboxEvent)
                .where(InboxEvent.seq == seq)
                .values(
                    status="failed" if give_up else "pending",
                    attempts=InboxEvent.attempts + 1,
                    error=error[:2000],
                    done_at=now if give_up else None,
                )
            )

    async def status_of(self, event_id: str) -> str | None:
        async with self.db.sessions() as session:
            return (
                await session.execute(
                    select(InboxEvent.status).where(InboxEvent.event_id == event_id)
                )
            ).scalar_one_or_none()

    async def counts(self) -> dict[str, int]:
        async with self.db.sessions() as session:
            result = await session.execute(
                select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
            )
            return {status: count for status, count in result.all()}
