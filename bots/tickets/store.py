"""Tickets and their log: queries named by what the tickets bot asks, and one method per kind
of change that writes the ticket, its log line and its jobs in one transaction, once per cause
(the event or scheduled job that caused it): a handler run again finds the change made."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from bots.tickets.models import Ticket, TicketLog
from bots.tickets.stats import TicketFacts
from bridge.store.changes import ChangeLog
from bridge.store.database import Database, table_of
from bridge.store.jobs import JobSpec, add_jobs

OPEN_STATES: tuple[str, ...] = ("open", "waiting")
# What counts against a resident's cap of open tickets: also those done and not yet confirmed
# (the resident still has them on their hands until they confirm, or the clock closes them).
UNFINISHED_STATES: tuple[str, ...] = (*OPEN_STATES, "done")


@dataclass(frozen=True)
class TicketRecord:
    id: int
    compound: str
    number: int
    room_id: str
    source_event_id: str
    reply_event_id: str | None
    reporter: str | None
    text: str
    category: str
    urgent: bool
    building: str | None
    team: str
    status: str
    assignee: str | None
    opened_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    first_response_at: datetime | None
    first_responder: str | None
    waiting_since: datetime | None
    done_at: datetime | None
    done_by: str | None
    closed_at: datetime | None
    close_reason: str | None
    confirm_event_id: str | None
    rating: int | None
    escalation_level: int
    reopened: int

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES


_FIELDS = [f.name for f in fields(TicketRecord)]


def _utc(value: Any) -> Any:
    # SQLite returns naive datetimes; Linli stores UTC only.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _record(row: Ticket) -> TicketRecord:
    return TicketRecord(**{name: _utc(getattr(row, name)) for name in _FIELDS})


@dataclass(frozen=True)
class NewTicket:
    compound: str
    room_id: str
    source_event_id: str
    reporter: str
    text: str
    category: str
    urgent: bool
    building: str | None
    team: str
    opened_at: datetime
    first_response_due: datetime
    resolution_due: datetime


@dataclass(frozen=True)
class Change:
    ticket: TicketRecord  # as it is after the change
    made_now: bool  # False: this cause made it before (the handler runs again)


class WrongState(Exception):
    """The ticket is not in a state the change may start from (`ticket` says which it is)."""

    def __init__(self, ticket: TicketRecord) -> None:
        super().__init__(ticket.status)
        self.ticket = ticket


@dataclass(frozen=True)
class OpeningCheck:
    existing: TicketRecord | None
    open_now: int
    next_number: int


class TicketStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._changes = ChangeLog(Ticket, TicketLog, "ticket_id", _record)

    async def before_opening(self, new: NewTicket) -> OpeningCheck:
        """One read before a ticket is opened for a message: the ticket it already opened (work
        redone after a crash), the reporter's open tickets, and the number the next one gets.
        The tickets bot keeps the last two in memory between tickets; `generation` tells when
        they may have changed in other ways (a ticket closed, reopened or anonymised)."""
        async with self.db.sessions() as session:
            existing_id, open_now, last = (
                await session.execute(
                    select(
                        select(Ticket.id)
                        .where(Ticket.source_event_id == new.source_event_id)
                        .scalar_subquery(),
                        select(func.count())
                        .where(
                            Ticket.compound == new.compound,
                            Ticket.reporter == new.reporter,
                            Ticket.status.in_(UNFINISHED_STATES),
                        )
                        .scalar_subquery(),
                        select(func.coalesce(func.max(Ticket.number), 0))
                        .where(Ticket.compound == new.compound)
                        .scalar_subquery(),
                    )
                )
            ).one()
            existing = None
            if existing_id is not None:
                existing = _record(await session.get_one(Ticket, existing_id))
        return OpeningCheck(existing, open_now, last + 1)

    @property
    def generation(self) -> int:
        return self.db.generations["tickets"]

    async def open(
        self,
        new: NewTicket,
        number: int,
        jobs: Callable[[TicketRecord], list[JobSpec]],
        reply_event_id: str | None = None,
    ) -> TicketRecord:
        """Store a ticket under the number `before_opening` gave (the inbox worker handles one
        event at a time, so nothing takes it meanwhile), with its log line and its scheduled
        jobs: they commit together, so no crash leaves a ticket without its reminders."""
        values: dict[str, Any] = {
            **{k: getattr(new, k) for k in new.__dataclass_fields__},
            "number": number,
            "reply_event_id": reply_event_id,
            "status": "open",
            "escalation_level": 0,
            "reopened": 0,
        }
        # Core statements, not the ORM's unit of work: this runs for every new ticket.
        async with self.db.transaction() as session:
            connection = await session.connection()
            ticket_id = (
                await connection.execute(
                    insert(table_of(Ticket)).returning(table_of(Ticket).c.id), values
                )
            ).scalar_one()
            await connection.execute(
                insert(table_of(TicketLog)),
                dict(
                    ticket_id=ticket_id,
                    at=new.opened_at,
                    actor=new.reporter,
                    action="opened",
                    detail={"category": new.category, "urgent": new.urgent},
                ),
            )
            record = TicketRecord(
                **{**{name: values.get(name) for name in _FIELDS}, "id": ticket_id}
            )
            await add_jobs(session, jobs(record), fresh=True)
            return record

    async def get(self, compound: str, number: int) -> TicketRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(Ticket).where(Ticket.compound == compound, Ticket.number == number)
                )
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def by_id(self, ticket_id: int) -> TicketRecord | None:
        async with self.db.sessions() as session:
            row = await session.get(Ticket, ticket_id)
            return _record(row) if row is not None else None

    async def by_thread(self, root_event_id: str) -> TicketRecord | None:
        """The ticket whose thread hangs off this event (the resident's message)."""
        async with self.db.sessions() as session:
            row = (
                await session.execute(select(Ticket).where(Ticket.source_event_id == root_event_id))
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def by_confirm_question(self, event_id: str) -> TicketRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(select(Ticket).where(Ticket.confirm_event_id == event_id))
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def change(
        self,
        ticket_id: int,
        *,
        cause: str,
        action: str,
        at: datetime,
        actor: str | None,
        detail: dict[str, Any] | None = None,
        allowed_from: Collection[str] | None = None,
        cancel: Sequence[str] = (),
        jobs: Callable[[TicketRecord], list[JobSpec]] | None = None,
        **changes: Any,
    ) -> Change:
        """Change a ticket, log why, cancel the jobs under the `cancel` key prefixes and add
        `jobs(ticket after the change)`, in one transaction, once per (action, cause).
        `allowed_from`: the states the change may start from (WrongState otherwise), checked
        only when the change is new."""
        touches = "tickets" if changes.keys() & {"status", "reporter"} else None

        def check(row: Ticket) -> None:
            if allowed_from is not None and row.status not in allowed_from:
                raise WrongState(_record(row))

        async with self.db.transaction(touches=touches) as session:
            record, made_now = await self._changes.change(
                session,
                ticket_id,
                cause=cause,
                action=action,
                at=at,
                actor=actor,
                detail=detail,
                check=check,
                cancel=cancel,
                jobs=jobs,
                changes=changes,
            )
            return Change(record, made_now)

    async def waiting_reason(self, ticket_id: int) -> str:
        """Why the ticket was last paused (what staff wrote with `!工单 等待`)."""
        async with self.db.sessions() as session:
            detail = (
                await session.execute(
                    select(TicketLog.detail)
                    .where(TicketLog.ticket_id == ticket_id, TicketLog.action == "waiting")
                    .order_by(TicketLog.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return str((detail or {}).get("reason", ""))

    async def changed_by(self, ticket_id: int, cause: str) -> bool:
        """Whether this event (or job) already changed the ticket."""
        async with self.db.sessions() as session:
            return await self._changes.changed_by(session, ticket_id, cause)

    async def listing(
        self,
        compound: str,
        *,
        statuses: Sequence[str] = OPEN_STATES,
        assignee: str | None = None,
        overdue_at: datetime | None = None,
        limit: int = 20,
    ) -> list[TicketRecord]:
        query = select(Ticket).where(Ticket.compound == compound, Ticket.status.in_(statuses))
        if assignee is not None:
            query = query.where(Ticket.assignee == assignee)
        if overdue_at is not None:
            query = query.where(
                or_(
                    (Ticket.first_response_at.is_(None) & (Ticket.first_response_due < overdue_at)),
                    Ticket.resolution_due < overdue_at,
                )
            )
        async with self.db.sessions() as session:
            rows = (await session.execute(query.order_by(Ticket.number).limit(limit))).scalars()
            return [_record(r) for r in rows]

    async def open_counts(self, now: datetime) -> dict[str, tuple[int, int]]:
        """Per compound: open tickets (open or waiting) and how many of them are overdue (as
        `listing(overdue_at=now)` counts them). One grouped query, for /metrics."""
        late = or_(
            (Ticket.first_response_at.is_(None) & (Ticket.first_response_due < now)),
            Ticket.resolution_due < now,
        )
        query = (
            select(Ticket.compound, func.count(), func.count().filter(late))
            .where(Ticket.status.in_(OPEN_STATES))
            .group_by(Ticket.compound)
        )
        async with self.db.sessions() as session:
            rows = (await session.execute(query)).all()
        return {compound: (int(total), int(overdue)) for compound, total, overdue in rows}

    async def since(self, compound: str, since: datetime) -> list[TicketRecord]:
        """Tickets opened or closed since a time: the material of statistics and reports."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Ticket)
                    .where(
                        Ticket.compound == compound,
                        or_(Ticket.opened_at >= since, Ticket.closed_at >= since),
                    )
                    .order_by(Ticket.number)
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def reported_by(self, user_id: str) -> list[dict[str, Any]]:
        """A resident's own tickets, for `!me export`."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(select(Ticket).where(Ticket.reporter == user_id))
            ).scalars()
            return [
                {
                    "compound": r.compound,
                    "number": r.number,
                    "text": r.text,
                    "status": r.status,
                    "opened_at": _utc(r.opened_at).isoformat(),
                }
                for r in rows
            ]

    async def anonymise_reporter(self, user_id: str, compound: str | None = None) -> None:
        """The tickets stay (statistics, history); who reported them goes."""
        mine = Ticket.reporter == user_id
        if compound is not None:
            mine = mine & (Ticket.compound == compound)
        async with self.db.transaction(touches="tickets") as session:
            await session.execute(update(Ticket).where(mine).values(reporter=None))
            await session.execute(
                update(TicketLog).where(TicketLog.actor == user_id).values(actor=None)
            )

    async def log_of(self, ticket_id: int) -> list[tuple[str, str | None, dict[str, Any]]]:
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(TicketLog).where(TicketLog.ticket_id == ticket_id).order_by(TicketLog.id)
                )
            ).scalars()
            return [(r.action, r.actor, dict(r.detail)) for r in rows]

    async def history(
        self, ticket_id: int
    ) -> list[tuple[datetime, str, str | None, dict[str, Any]]]:
        """A ticket's event log, oldest first: when, what, by whom, its detail."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(TicketLog).where(TicketLog.ticket_id == ticket_id).order_by(TicketLog.id)
                )
            ).scalars()
            return [(_utc(r.at), r.action, r.actor, dict(r.detail)) for r in rows]

    async def facts_since(
        self, compounds: Collection[str], since: datetime
    ) -> dict[str, list[TicketFacts]]:
        """What statistics need of the tickets opened or closed since a time, per compound:
        only those columns, read without building records (a street office's year of a
        district's tickets is a hundred thousand rows)."""
        names = [f.name for f in fields(TicketFacts)]
        query = select(Ticket.compound, *(getattr(Ticket, n) for n in names)).where(
            Ticket.compound.in_(list(compounds)),
            or_(Ticket.opened_at >= since, Ticket.closed_at >= since),
        )
        found: dict[str, list[TicketFacts]] = {c: [] for c in compounds}
        async with self.db.sessions() as session:
            for compound, *values in await session.execute(query):
                found[compound].append(TicketFacts(*(_utc(v) for v in values)))
        return found
