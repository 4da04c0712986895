"""A ticket's clock: reminders before each deadline, escalation up the ladder after it, and the
auto-close of unconfirmed tickets. Every step is a scheduler job keyed by ticket and step, so it
fires once, also across restarts; its change is stored once per job key and its messages carry
transaction IDs derived from that key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bots.tickets.jobs import (
    AUTO_CLOSE,
    ESCALATE,
    REMIND,
    AutoClose,
    DeadlineStep,
    clock_prefix,
    ticket_key,
)
from bots.tickets.settings import TicketSettings
from bots.tickets.store import TicketRecord, TicketStore, WrongState
from bridge import messages
from bridge.bot import Services
from bridge.matrix import derived_txn_id
from bridge.provision.desired import RoleTable, room_key
from bridge.roles import PROPERTY_ROLES, Role
from bridge.rooms_config import Compound
from bridge.store.jobs import Job, JobSpec

log = logging.getLogger(__name__)

FIRST, RESOLUTION, CLOSE = "first", "resolution", "close"
WORK_ORDER_STATES = ("accepted", "dispatched", "resolved", "rejected")
# "linli:<compound>:<number>": ASCII digits only, and few of them (an int the database takes).
_PADDED_DATE = re.compile(r"(?<![0-9])0([1-9])(?=[月日])")
_REFERENCE = re.compile(r"linli:([a-z0-9_-]{1,64}):([0-9]{1,9})", re.ASCII)


class TicketClock:
    def __init__(self, services: Services, tickets: TicketStore) -> None:
        self.services = services
        self.tickets = tickets
        scheduler = services.scheduler
        # Each ticket's jobs run in its compound's lane (bridge/scheduler.py): one compound's
        # fan-out never holds another's escalation.
        self._compounds: dict[int, str] = {}
        scheduler.register_kind(REMIND, self._remind, lane=self._lane)
        scheduler.register_kind(ESCALATE, self._escalate, lane=self._lane)
        scheduler.register_kind(AUTO_CLOSE, self._auto_close, lane=self._lane)
        # Only the grid platforms the compounds' ladders send work orders to may answer with
        # a status, and each only for its own compounds' tickets.
        services.webhooks.on_inbound(
            "work order status",
            ("reference", "status"),
            self.work_order_status,
            senders=self.grid_senders,
        )

    async def _lane(self, payload: DeadlineStep | AutoClose) -> str | None:
        compound = self._compounds.get(payload.ticket)
        if compound is None:
            ticket = await self.tickets.by_id(payload.ticket)
            if ticket is None:
                return None
            compound = self._compounds[payload.ticket] = ticket.compound
        return compound

    # ------------------------------------------------------------ the jobs of a change

    def deadline_jobs(self, ticket: TicketRecord, settings: TicketSettings) -> list[JobSpec]:
        """A new ticket's reminders and escalation steps (stored with the ticket itself)."""
        # Measured from the opening, not from now: the jobs are the same whenever they are
        # written (the reply goes out first), also when the work is redone after a crash.
        since = ticket.opened_at
        return self._jobs(ticket, settings, FIRST, ticket.first_response_due, since) + self._jobs(
            ticket, settings, RESOLUTION, ticket.resolution_due, since
        )

    def resolution_jobs(
        self, ticket: TicketRecord, settings: TicketSettings, since: datetime
    ) -> list[JobSpec]:
        """A renewed resolution clock (resumed, reopened): fresh keys, the old steps stay done
        or cancelled."""
        return self._jobs(ticket, settings, RESOLUTION, ticket.resolution_due, since, renew=True)

    def close_jobs(self, ticket: TicketRecord, settings: TicketSettings) -> list[JobSpec]:
        """The auto-close of a ticket marked done and not confirmed."""
        assert ticket.done_at is not None
        return [
            AUTO_CLOSE.spec(
                ticket_key(ticket.id, CLOSE, ticket.reopened),
                ticket.done_at + settings.auto_close_after,
                AutoClose(ticket=ticket.id),
            )
        ]

    def _jobs(
        self,
        ticket: TicketRecord,
        settings: TicketSettings,
        which: str,
        due: datetime,
        since: datetime,
        renew: bool = False,
    ) -> list[JobSpec]:
        round_ = f"r{ticket.reopened}-{int(due.timestamp())}" if renew else "r0"
        step = DeadlineStep(ticket=ticket.id, which=which, due=due, round=round_)
        jobs = [
            ESCALATE.spec(
                ticket_key(ticket.id, which, round_, "escalate", n),
                due + rung.after,
                step.model_copy(update={"step": n}),
            )
            for n, rung in enumerate(settings.escalation)
        ]
        remind_at = due - settings.remind_before
        if remind_at > since:  # no reminder for a target shorter than it
            jobs.append(
                REMIND.spec(ticket_key(ticket.id, which, round_, "remind"), remind_at, step)
            )
        return jobs

    # ------------------------------------------------------------ firing

    async def _still_due(self, step: DeadlineStep) -> tuple[TicketRecord, Compound] | None:
        ticket = await self.tickets.by_id(step.ticket)
        if ticket is None:
            return None
        compound = self.services.rooms.compounds.get(ticket.compound)
        if compound is None:
            return None
        if step.which == FIRST and ticket.first_response_at is not None:
            return None
        if step.which == RESOLUTION and ticket.status != "open":
            return None
        return ticket, compound

    async def _remind(self, job: Job, step: DeadlineStep) -> None:
        found = await self._still_due(step)
        if found is None:
            return
        ticket, compound = found
        table = await self.services.roles.table(compound)
        people = sorted(self.people_on(table, ticket.team, ticket.assignee))
        key = "tickets.remind_first" if step.which == FIRST else "tickets.remind_resolution"
        text = self.text(compound, key, number=ticket.number, due=self.local(compound, step.due))
        await self._in_thread(job, ticket, text, alert_to=people)

    async def _escalate(self, job: Job, step: DeadlineStep) -> None:
        found = await self._still_due(step)
        if found is None:
            return
        ticket, compound = found
        settings = compound.section("tickets", TicketSettings)
        if step.step is None or step.step >= len(settings.escalation):
            return
        rung = settings.escalation[step.step]
        common: dict[str, Any] = {
            "urgent": self.text(compound, "tickets.urgent_mark") if ticket.urgent else "",
            "number": ticket.number,
            "what": self.text(compound, f"tickets.what_{step.which}"),
            "due": self.local(compound, step.due),
        }
        # The step is stored first (with the work order, when it goes out by webhook); the
        # messages follow with transaction IDs derived from the job: a job fired again after a
        # crash finds the step stored and re-sends only what the homeserver does not have.
        change = await self.tickets.change(
            ticket.id,
            cause=job.key,
            action="escalated",
            at=self.services.clock.now(),
            actor=None,
            detail={"step": step.step, "to": rung.to, "name": rung.name, "which": step.which},
            escalation_level=max(ticket.escalation_level, step.step + 1),
        )
        ticket = change.ticket
        link = f"https://matrix.to/#/{ticket.room_id}/{ticket.source_event_id}"
        if rung.to == "role":
            # Staff business: in the staff's five-in-one room, mentioning who must follow up,
            # not in the residents' room (the resident's thread keeps what concerns them).
            table = await self.services.roles.table(compound)
            people = sorted(u for u, roles in table.staff.items() if Role(rung.name) in roles)
            staff_room = await self.services.store.rooms.by_key(
                room_key(compound.key, "five_in_one")
            )
            where = staff_room.room_id if staff_room is not None else ticket.room_id
            who: object = (
                await self.services.people(where, people, compound)
                if people
                else self.text(compound, f"roles.{rung.name}")
            )
            text, html = self.services.catalogue.rich(
                compound.locale, "tickets.escalate_role", who=who, link=link, **common
            )
            if staff_room is not None:
                content = messages.alert(text, to=people, html=html)
                await self._send(job, staff_room.room_id, content, "role")
            else:
                await self._in_thread(job, ticket, text, alert_to=people, html=html)
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
                    link=link,
                    **common,
                )
                # The room is the target: all of it hears (the bot may mention the room).
                await self._send(job, record.room_id, messages.alert(text, room=True), "room")
        else:
            await self.services.webhooks.enqueue(
                ticket_key(ticket.id, "work_order", ticket.reopened),
                rung.name,
                self.work_order(ticket, compound, step.due),
            )
            text = self.text(compound, "tickets.escalate_webhook", number=ticket.number)
            await self._in_thread(job, ticket, text)

    async def _auto_close(self, job: Job, payload: AutoClose) -> None:
        ticket = await self.tickets.by_id(payload.ticket)
        if ticket is None:
            return
        compound = self.services.rooms.compounds.get(ticket.compound)
        if compound is None:
            return
        now = self.services.clock.now()
        try:
            change = await self.tickets.change(
                ticket.id,
                cause=job.key,
                action="auto_closed",
                at=now,
                actor=None,
                allowed_from=("done",),
                status="closed",
                closed_at=now,
                close_reason="auto",
            )
        except WrongState:
            return  # confirmed or reopened meanwhile
        ticket = change.ticket
        text = self.text(compound, "tickets.auto_closed", number=ticket.number)
        await self._in_thread(job, ticket, text)  # informs: nothing is asked of anyone

    # ------------------------------------------------------------ the grid platform

    def ladder_targets(self, compound: Compound) -> set[str]:
        settings = compound.section("tickets", TicketSettings)
        return {rung.name for rung in settings.escalation if rung.to == "webhook"}

    def grid_senders(self) -> set[str]:
        """The webhook targets some compound's escalation ladder sends work orders to."""
        return {
            target
            for compound in self.services.rooms.compounds.values()
            for target in self.ladder_targets(compound)
        }

    async def work_order_status(
        self, sender: str, payload: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """A status update from a grid platform, already authenticated: post it in the thread.
        Kept once per update (the same body sent again changes and posts nothing new). A
        platform answers only for the compounds whose ladder sends it work orders."""
        reference, status, note = (payload.get(k) for k in ("reference", "status", "note"))
        if status not in WORK_ORDER_STATES or not isinstance(reference, str):
            return 400, {"error": f"status must be one of {', '.join(WORK_ORDER_STATES)}"}
        match = _REFERENCE.fullmatch(reference)
        ticket = await self.tickets.get(match[1], int(match[2])) if match else None
        compound = self.services.rooms.compounds.get(ticket.compound) if ticket else None
        if ticket is None or compound is None:
            return 404, {"error": "unknown ticket"}
        if sender not in self.ladder_targets(compound):
            # Logged without the body: who sent what, not what it said.
            log.warning("work order status from %s refused: not this compound's", sender)
            return 403, {"error": "this sender may not update that compound's tickets"}
        note_text = str(note)[:500] if note else None
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        cause = f"work_order:{digest}"
        await self.tickets.change(
            ticket.id,
            cause=cause,
            action="work_order",
            at=self.services.clock.now(),
            actor=None,
            detail={"status": status, "note": note_text},
        )
        sep = "：" if compound.locale == "zh" else ": "
        text = self.text(
            compound,
            "tickets.grid_status",
            status=self.text(compound, f"tickets.grid_{status}"),
            note=f"{sep}{note_text}" if note_text else "",
        )
        content = messages.notice(
            text,
            thread_root=ticket.source_event_id,
            reply_to=ticket.reply_event_id or ticket.source_event_id,
        )
        await self.services.client.send(ticket.room_id, content, derived_txn_id(cause, "status"))
        return 200, {"ok": True, "ticket": reference}

    def work_order(self, ticket: TicketRecord, compound: Compound, due: datetime) -> dict[str, Any]:
        """The work order sent to the grid platform. Times in ISO 8601 with the offset of
        Linli's time zone, all of them."""
        return {
            "type": "work_order",
            "reference": f"linli:{compound.key}:{ticket.number}",
            "compound": compound.key,
            "compound_name": compound.config.name,
            "building": ticket.building,
            "category": ticket.category,
            "urgent": ticket.urgent,
            "text": ticket.text,
            "opened_at": ticket.opened_at.astimezone(self.tz).isoformat(),
            "due_at": due.astimezone(self.tz).isoformat(),
            "ticket": {"compound": compound.key, "number": ticket.number},
        }

    # ------------------------------------------------------------ sending and words

    async def _in_thread(
        self,
        job: Job,
        ticket: TicketRecord,
        text: str,
        *,
        alert_to: list[str] | None = None,
        html: str | None = None,
    ) -> None:
        """Post in the ticket's thread: an alert to `alert_to` when anyone is named, else a
        quiet notice."""
        where: dict[str, Any] = {
            "thread_root": ticket.source_event_id,
            "reply_to": ticket.reply_event_id or ticket.source_event_id,
            "html": html,
        }
        content = (
            messages.alert(text, to=alert_to, **where)
            if alert_to
            else messages.notice(text, **where)
        )
        await self._send(job, ticket.room_id, content, "thread")

    async def _send(self, job: Job, room_id: str, content: dict[str, Any], purpose: str) -> None:
        await self.services.client.send(room_id, content, derived_txn_id(f"job:{job.key}", purpose))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    def text(self, compound: Compound, key: str, **args: Any) -> str:
        return self.services.catalogue.text(compound.locale, key, **args)

    def local(self, compound: Compound | None, when: datetime) -> str:
        """A time as people read it: the local time in the compound's language ("12月4日",
        not "12月04日": strftime pads, people do not)."""
        shown = when.astimezone(self.tz).strftime(
            self.services.text(compound, "tickets.time_format")
        )
        return _PADDED_DATE.sub(r"\1", shown)

    def people_on(self, table: RoleTable, team: str, assignee: str | None = None) -> set[str]:
        """Who answers a ticket: its assignee, else the team's staff (property staff first)."""
        if assignee:
            return {assignee}
        if team != "property":
            return {u for u, r in table.staff.items() if Role(team) in r}
        staff = {u for u, r in table.staff.items() if Role.PROPERTY_STAFF in r}
        return staff or {u for u, r in table.staff.items() if r & PROPERTY_ROLES}


def prefixes(ticket_id: int, *clocks: str) -> list[str]:
    return [clock_prefix(ticket_id, which) for which in clocks]
