"""The durable inbox: homeserver transactions are stored here before they are acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update

from bridge.store.database import Database, insert_ignoring_duplicates, table_of
from bridge.store.models import InboxEvent, InboxTransaction


@dataclass(frozen=True)
class InboxEntry:
    seq: int
    event_id: str
    body: dict[str, Any]
    attempts: int
    received_at: datetime


@dataclass(frozen=True)
class Arrival:
    """A new transaction's events, handed to the worker while `stored` writes them; the worker
    sets `handled` when it is through with them."""

    events: list[dict[str, Any]]
    received_at: datetime
    stored: asyncio.Future[list[InboxEntry] | None]
    handled: asyncio.Event = field(default_factory=asyncio.Event)


def written(entries: list[InboxEntry] | None) -> asyncio.Future[list[InboxEntry] | None]:
    """An `Arrival.stored` that is already done: entries known to be in the inbox (None: the
    transaction was stored before)."""
    done: asyncio.Future[list[InboxEntry] | None] = asyncio.get_running_loop().create_future()
    done.set_result(entries)
    return done


class InboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store_transaction(
        self, txn_id: str, events: Sequence[dict[str, Any]], now: datetime
    ) -> list[InboxEntry] | None:
        """Store a transaction and its events atomically: the entries stored now, in order
        (an event already stored by an earlier transaction is not among them), or None if the
        txnId was seen before."""
        # Not counted in `db.writes`: that counts what handlers change, and a transaction is
        # written while the events before it are being handled.
        async with self.db.engine.begin() as conn:
            # One statement both records the txnId and tells whether it was seen before.
            claimed = await conn.execute(
                insert_ignoring_duplicates(conn, table_of(InboxTransaction)),
                {"txn_id": txn_id, "received_at": now, "event_count": len(events)},
            )
            if not claimed.rowcount:
                return None
            if not events:
                return []
            # An event the homeserver sends again in a new transaction is stored once; RETURNING
            # gives the new rows' seq, so the worker can take them from memory, not re-read them.
            events_table = table_of(InboxEvent)
            result = await conn.execute(
                insert_ignoring_duplicates(conn, events_table).returning(
                    events_table.c.seq, events_table.c.event_id
                ),
                [
                    {
                        "event_id": e["event_id"],
                        "txn_id": txn_id,
                        "body": e,
                        "status": "pending",
                        "attempts": 0,
                        "received_at": now,
                    }
                    for e in events
                ],
            )
            seqs = {event_id: seq for seq, event_id in result.all()}
        # In seq order; an event twice in one transaction was stored (and is handled) once.
        return sorted(
            (
                InboxEntry(seq, e["event_id"], e, 0, now)
                for e in events
                if (seq := seqs.pop(e["event_id"], None)) is not None
            ),
            key=lambda entry: entry.seq,
        )

    async def recent_txn_ids(self, limit: int) -> list[str]:
        """The txnIds of the last `limit` transactions stored, oldest first."""
        async with self.db.sessions() as session:
            result = await session.execute(
                select(InboxTransaction.txn_id)
                .order_by(InboxTransaction.received_at.desc())
                .limit(limit)
            )
            return list(reversed(result.scalars().all()))

    async def prune(
        self, done_before: datetime, failed_before: datetime, keep_txns: int
    ) -> tuple[int, int]:
        """Delete handled events (they hold residents' messages, needed only until handled),
        failed ones after an operator had time to look, and transaction records left empty,
        except the last `keep_txns` (the appservice recognises repeats by them). Returns the
        events and transactions deleted."""
        events = table_of(InboxEvent)
        txns = table_of(InboxTransaction)
        async with self.db.engine.begin() as conn:
            self.db.writes += 1
            gone = await conn.execute(
                delete(events).where(
                    ((events.c.status == "done") & (events.c.done_at < done_before))
                    | ((events.c.status == "failed") & (events.c.done_at < failed_before))
                )
            )
            recent = select(txns.c.txn_id).order_by(txns.c.received_at.desc()).limit(keep_txns)
            emptied = await conn.execute(
                delete(txns).where(
                    ~exists().where(events.c.txn_id == txns.c.txn_id),
                    txns.c.txn_id.not_in(recent.scalar_subquery()),
                )
            )
        return gone.rowcount, emptied.rowcount

    async def recent_event_ids(self, limit: int) -> list[str]:
        """The IDs of the last `limit` events stored, oldest first."""
        async with self.db.sessions() as session:
            result = await session.execute(
                select(InboxEvent.event_id).order_by(InboxEvent.seq.desc()).limit(limit)
            )
            return list(reversed(result.scalars().all()))

    async def pending(self, *, after: int = 0, limit: int = 100) -> list[InboxEntry]:
        """Entries still to handle, in order, from the one after `after`."""
        async with self.db.sessions() as session:
            result = await session.execute(
                select(
                    InboxEvent.seq,
                    InboxEvent.event_id,
                    InboxEvent.body,
                    InboxEvent.attempts,
                    InboxEvent.received_at,
                )
                .where(InboxEvent.status == "pending", InboxEvent.seq > after)
                .order_by(InboxEvent.seq)
                .limit(limit)
            )
            return [InboxEntry(*row) for row in result.all()]

    async def mark_done(self, seqs: Sequence[int], now: datetime) -> None:
        if not seqs:
            return
        events = table_of(InboxEvent)
        async with self.db.engine.begin() as conn:
            self.db.writes += 1
            await conn.execute(
                update(events)
                .where(events.c.seq.in_(seqs))
                .values(status="done", done_at=now, attempts=events.c.attempts + 1)
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

    async def replace_body(self, event_id: str, body: dict[str, Any]) -> None:
        """Keep less of a stored event: what a retry still needs while it is being handled,
        nothing of its content once it is (a secret ballot, held here for a day after it was
        counted, and in every backup of that day, would name its voter and choice)."""
        async with self.db.transaction() as session:
            await session.execute(
                update(InboxEvent).where(InboxEvent.event_id == event_id).values(body=body)
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
