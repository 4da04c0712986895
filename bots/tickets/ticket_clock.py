"""A ticket's clock: reminders before each deadline, escalation up the ladder after it, and the
auto-close of unconfirmed tickets. Every step is a scheduler job keyed by ticket and step, so it
fires once, also across restarts, and its messages carry transaction IDs derived from that key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bots.tickets.report import TicketReport
from bots.tickets.settings import TicketSettings
from bridge.dispatch import Dispatcher, EventContext, Services
from bridge.matrix import derived_txn_id
from bridge.provision.desired import RoleTable, room_key
from bridge.roles import PROPERTY_ROLES, Role
from bridge.rooms_config import Compound
from bridge.store.jobs import Job, JobSpec
from bridge.store.tickets import TicketRecord

REMIND = "ticket.remind"
ESCALATE = "ticket.escalate"
AUTO_CLOSE = "ticket.auto_close"
FIRST, RESOLUTION = "first", "resolution"
WORK_ORDER_STATES = ("accepted", "dispatched", "resolved", "rejected")


def _key(ticket_id: int, *parts: object) -> str:
    return ":".join(["ticket", str(ticket_id), *map(str, parts)])


class TicketClock:
    def __init__(self, services: Services, dispatcher: Dispatcher) -> None:
        self.services = services
        self.dispatcher = dispatcher
        self.report = TicketReport(services, dispatcher, self)
        scheduler = services.scheduler
        scheduler.register(REMIND, self._remind)
        scheduler.register(ESCALATE, self._escalate)
        scheduler.register(AUTO_CLOSE, self._auto_close)
        for target in services.config.webhooks:
            services.webhooks.on_inbound(target, self.work_order_status)

    # ------------------------------------------------------------ scheduling

    def deadline_jobs(self, ticket: TicketRecord, settings: TicketSettings) -> list[JobSpec]:
        """A new ticket's reminders and escalation steps (stored with the ticket itself)."""
        # Measured from the opening, not from now: the jobs are the same whenever they are
        # written (the reply goes out first), also when the work is redone after a crash.
        since = ticket.opened_at
        return self._jobs(ticket, settings, FIRST, ticket.first_response_due, since) + self._jobs(
            ticket, settings, RESOLUTION, ticket.resolution_due, since
        )

    async def schedule_resolution(self, ticket: TicketRecord, settings: TicketSettings) -> None:
        await self._cancel(ticket, RESOLUTION, settings)
        await self.services.scheduler.schedule_many(
            self._jobs(
                ticket, settings, RESOLUTION, ticket.resolution_due, self.services.clock.now(), True
            )
        )

    def _jobs(
        self,
        ticket: TicketRecord,
        settings: TicketSettings,
        which: str,
        due: datetime,
        since: datetime,
        renew: bool = False,
    ) -> list[JobSpec]:
        # A renewed clock (resumed, reopened) gets fresh keys: the old steps are done or
        # cancelled and must stay so.
        round_ = f"r{ticket.reopened}-{int(due.timestamp())}" if renew else "r0"
        payload = {"ticket": ticket.id, "which": which, "due": due.isoformat(), "round": round_}
        jobs = [
            (
                _key(ticket.id, which, round_, "escalate", step),
                ESCALATE,
                due + rung.after,
                {**payload, "step": step},
            )
            for step, rung in enumerate(settings.escalation)
        ]
        remind_at = due - settings.remind_before
        if remind_at > since:  # no reminder for a target shorter than it
            jobs.append((_key(ticket.id, which, round_, "remind"), REMIND, remind_at, payload))
        return jobs

    async def _cancel(self, ticket: TicketRecord, which: str, settings: TicketSettings) -> None:
        await self.services.store.jobs.cancel_prefix(_key(ticket.id, which) + ":")

    async def schedule_weekly_reports(self) -> None:
        await self.report.schedule_all()

    async def first_response_recorded(self, ticket: TicketRecord) -> None:
        await self.services.store.jobs.cancel_prefix(_key(ticket.id, FIRST) + ":")

    async def paused(self, ticket: TicketRecord) -> None:
        await self.services.store.jobs.cancel_prefix(_key(ticket.id, RESOLUTION) + ":")

    async def done(self, ticket: TicketRecord, settings: TicketSettings) -> None:
        await self.services.store.jobs.cancel_prefix(_key(ticket.id, FIRST) + ":")
        await self.services.store.jobs.cancel_prefix(_key(ticket.id, RESOLUTION) + ":")
        assert ticket.done_at is not None
        await self.services.scheduler.schedule(
            _key(ticket.id, "close", ticket.reopened),
            AUTO_CLOSE,
            ticket.done_at + settings.auto_close_after,
            {"ticket": ticket.id},
        )

    async def closed(self, ticket: TicketRecord) -> None:
        await self.services.store.jobs.cancel_prefix(_key(ticket.id, "close") + ":")

    # ------------------------------------------------------------ firing

    async def _still_due(self, job: Job) -> tuple[TicketRecord, Compound] | None:
        ticket = await self.services.store.tickets.by_id(int(job.payload["ticket"]))
        if ticket is None:
            return None
        compound = self.services.rooms.compounds.get(ticket.compound)
        if compound is None:
            return None
        if job.payload.get("which") == FIRST and ticket.first_response_at is not None:
            return None
        if job.payload.get("which") == RESOLUTION and ticket.status != "open":
            return None
        return ticket, compound

    async def _remind(self, job: Job) -> None:
        found = await self._still_due(job)
        if found is None:
            return
        ticket, compound = found
        table = await self.dispatcher.role_table(compound)
        people = sorted(self.people_on(table, ticket.team, ticket.assignee))
        key = (
            "tickets.remind_first" if job.payload["which"] == FIRST else "tickets.remind_resolution"
        )
        due = datetime.fromisoformat(job.payload["due"])
        text = self.text(compound, key, number=ticket.number, due=self.local_for(compound, due))
        await self._thread_notice(job, ticket, text, people)

    async def _escalate(self, job: Job) -> None:
        found = await self._still_due(job)
        if found is None:
            return
        ticket, compound = found
        settings = compound.section("tickets", TicketSettings)
        step = int(job.payload["step"])
        if step >= len(settings.escalation):
            return
        rung = settings.escalation[step]
        due = datetime.fromisoformat(job.payload["due"])
        what = self.text(compound, f"tickets.what_{job.payload['which']}")
        common: dict[str, Any] = {
            "number": ticket.number,
            "what": what,
            "due": self.local_for(compound, due),
        }
        if rung.to == "role":
            table = await self.dispatcher.role_table(compound)
            people = sorted(u for u, roles in table.staff.items() if Role(rung.name) in roles)
            who = self.text(compound, "roles.separator").join(people) or self.text(
                compound, f"roles.{rung.name}"
            )
            text = self.text(compound, "tickets.escalate_role", who=who, **common)
            await self._thread_notice(job, ticket, text, people)
        elif rung.to == "room":
            record = await self.services.store.rooms.by_key(room_key(compound.key, rung.name))
            if record is not None:
                text = self.text(
                    compound,
                    "tickets.escalate_room",
                    place=self.text(compound, "tickets.place", building=ticket.building)
                    if ticket.building
                    else "",
                    category=self.text(compound, f"categories.{ticket.category}"),
                    link=f"https://matrix.to/#/{ticket.room_id}/{ticket.source_event_id}",
                    **common,
                )
                await self._send(job, record.room_id, {"msgtype": "m.notice", "body": text}, "room")
        else:
            await self.services.webhooks.enqueue(
                _key(ticket.id, "work_order", ticket.reopened),
                rung.name,
                self.work_order(ticket, compound, due),
            )
            text = self.text(compound, "tickets.escalate_webhook", number=ticket.number)
            await self._thread_notice(job, ticket, text, [])
        now = self.services.clock.now()
        await self.services.store.tickets.update(
            ticket.id,
            now,
            None,
            "escalated",
            {"step": step, "to": rung.to, "name": rung.name, "which": job.payload["which"]},
            escalation_level=max(ticket.escalation_level, step + 1),
        )

    async def _auto_close(self, job: Job) -> None:
        ticket = await self.services.store.tickets.by_id(int(job.payload["ticket"]))
        if ticket is None or ticket.status != "done":
            return
        compound = self.services.rooms.compounds.get(ticket.compound)
        if compound is None:
            return
        now = self.services.clock.now()
        ticket = await self.services.store.tickets.update(
            ticket.id, now, None, "auto_closed", status="closed", closed_at=now, close_reason="auto"
        )
        text = self.text(compound, "tickets.auto_closed", number=ticket.number)
        await self._thread_notice(job, ticket, text, [ticket.reporter] if ticket.reporter else [])

    async def work_order_status(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A status update from the grid platform, already authenticated: post it in the thread."""
        reference = payload.get("reference")
        status = payload.get("status")
        note = payload.get("note")
        if status not in WORK_ORDER_STATES or not isinstance(reference, str):
            return 400, {"error": f"status must be one of {', '.join(WORK_ORDER_STATES)}"}
        parts = reference.split(":")
        ticket = None
        if len(parts) == 3 and parts[0] == "linli" and parts[2].isdigit():
            ticket = await self.services.store.tickets.get(parts[1], int(parts[2]))
        compound = self.services.rooms.compounds.get(parts[1]) if ticket else None
        if ticket is None or compound is None:
            return 404, {"error": "unknown ticket"}
        now = self.services.clock.now()
        detail = {"status": status, "note": str(note)[:500] if note else None}
        await self.services.store.tickets.update(ticket.id, now, None, "work_order", detail)
        text = self.text(
            compound,
            "tickets.grid_status",
            status=self.text(compound, f"tickets.grid_{status}"),
            note=f"：{note}" if note and compound.locale == "zh" else (f": {note}" if note else ""),
        )
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        content: dict[str, Any] = {
            "msgtype": "m.notice",
            "body": text,
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": ticket.source_event_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": ticket.reply_event_id or ticket.source_event_id},
            },
        }
        await self.services.client.send(
            ticket.room_id, content, derived_txn_id(f"work_order:{digest}", "status")
        )
        return 200, {"ok": True, "ticket": reference}

    def work_order(self, ticket: TicketRecord, compound: Compound, due: datetime) -> dict[str, Any]:
        return {
            "type": "work_order",
            "reference": f"linli:{compound.key}:{ticket.number}",
            "compound": compound.key,
            "compound_name": compound.config.name,
            "building": ticket.building,
            "category": ticket.category,
            "urgent": ticket.urgent,
            "text": ticket.text,
            "opened_at": ticket.opened_at.isoformat(),
            "due_at": due.isoformat(),
            "ticket": {"compound": compound.key, "number": ticket.number},
        }

    # ------------------------------------------------------------ sending and words

    async def _thread_notice(
        self, job: Job, ticket: TicketRecord, text: str, mentions: list[str]
    ) -> None:
        content: dict[str, Any] = {
            "msgtype": "m.notice",
            "body": text,
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": ticket.source_event_id,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": ticket.reply_event_id or ticket.source_event_id},
            },
            "m.mentions": {"user_ids": mentions},
        }
        await self._send(job, ticket.room_id, content, "thread")

    async def _send(self, job: Job, room_id: str, content: dict[str, Any], purpose: str) -> None:
        txn = derived_txn_id(f"job:{job.key}", purpose)
        await self.services.client.send(room_id, content, txn)

    def text(self, compound: Compound, key: str, **args: Any) -> str:
        return self.services.catalogue.text(compound.locale, key, **args)

    def people_on(self, table: RoleTable, team: str, assignee: str | None = None) -> set[str]:
        """Who answers a ticket: its assignee, else the team's staff (property staff first)."""
        if assignee:
            return {assignee}
        if team != "property":
            return {u for u, r in table.staff.items() if Role(team) in r}
        staff = {u for u, r in table.staff.items() if Role.PROPERTY_STAFF in r}
        return staff or {u for u, r in table.staff.items() if r & PROPERTY_ROLES}

    async def name(self, user_id: str) -> str:
        # User IDs, not display names: Linli keeps no names it does not need.
        return user_id

    def names(self, ctx: EventContext, users: Iterable[str]) -> str:
        return ctx.text("roles.separator").join(sorted(users))

    def local(self, ctx: EventContext, when: datetime) -> str:
        tz = ZoneInfo(self.services.config.timezone)
        return when.astimezone(tz).strftime(ctx.text("tickets.time_format"))

    def local_for(self, compound: Compound, when: datetime) -> str:
        tz = ZoneInfo(self.services.config.timezone)
        return when.astimezone(tz).strftime(self.text(compound, "tickets.time_format"))
