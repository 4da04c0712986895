"""The tickets bot: "@物业 3号楼电梯坏了" becomes a timed ticket, answered in a thread.

Opening and the thread live here; staff commands in `staff.py`, closing in `closing.py`, the
clock (reminders, escalation, auto-close) in `ticket_clock.py`, figures in `report.py`.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import partial

from bots.tickets.base import TICKET_STAFF, settings_of
from bots.tickets.categories import guess_category, is_urgent
from bots.tickets.closing import ClosingFlow
from bots.tickets.settings import TicketSettings
from bots.tickets.sla import compute_deadlines, resume_deadline
from bots.tickets.staff import StaffCommands
from bridge.dispatch import EventContext
from bridge.events import Message
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES, STAFF_ROLES, Role
from bridge.store.tickets import NewTicket, TicketRecord

# "3号楼", "3栋", "3幢", "3#楼", "building 3"
_BUILDING = re.compile(r"(\d{1,3})\s*(?:号楼|栋|幢|#楼|#)|building\s*(\d{1,3})", re.IGNORECASE)
# Rooms where a mention opens nothing: newcomers, notices, and the staff's own rooms.
NO_TICKET_ROOMS = {"lobby", "announcements", "five_in_one", "party", "committee", "observers"}


class TicketBot(ClosingFlow, StaffCommands):
    # ------------------------------------------------------------ opening

    async def on_message(self, ctx: EventContext, message: Message) -> None:
        if ctx.compound is None or ctx.room_key in NO_TICKET_ROOMS:
            return
        settings = settings_of(ctx.compound)
        if not settings.enabled:
            return
        if message.thread_root is not None:
            await self._thread_message(ctx, message, message.thread_root)
            return
        if ctx.roles & STAFF_ROLES or Role.RESIDENT not in ctx.roles:
            return  # staff chatter, and people Linli has not verified
        team = self._team_mentioned(ctx, message, settings)
        if team is not None:
            await self.open_ticket_from_mention(ctx, message, settings, team)

    def _team_mentioned(
        self, ctx: EventContext, message: Message, settings: TicketSettings
    ) -> str | None:
        assert ctx.role_table is not None
        body = message.body.casefold()
        if any(alias.casefold() in body for alias in settings.aliases):
            return "property"
        for alias, role in settings.committee_aliases.items():
            if alias.casefold() in body:
                return role
        for user in message.mentioned_users:
            roles = ctx.role_table.staff.get(user, frozenset())
            if roles & PROPERTY_ROLES:
                return "property"
            if roles & COMMITTEE_ROLES and any(
                r.value in settings.committee_aliases.values() for r in roles
            ):
                return next(r.value for r in roles if r in COMMITTEE_ROLES)
        return None

    async def open_ticket_from_mention(
        self, ctx: EventContext, message: Message, settings: TicketSettings, team: str
    ) -> None:
        """The reply is on the round trip a resident waits for, so it goes out as soon as the
        ticket's number is known, while the ticket is written. Redone after a crash, this finds
        the same number and the same deadlines (both follow from what was stored before), and
        the reply's derived transaction ID makes the homeserver return the first reply rather
        than post a second one."""
        assert ctx.compound is not None and ctx.role_table is not None
        now = ctx.received_at
        category = guess_category(message.body, settings.category_words())
        urgent = is_urgent(message.body, settings.urgent_words(ctx.locale))
        policy = settings.policy(self.services.config.timezone)
        deadlines = compute_deadlines(policy, now, category, urgent)
        new = NewTicket(
            compound=ctx.compound.key,
            room_id=message.room_id,
            source_event_id=message.event_id,
            reporter=message.sender,
            text=message.body[:2000],
            category=category.value,
            urgent=urgent,
            building=_building(message.body) or ctx.role_table.residents.get(message.sender),
            team=team,
            opened_at=now,
            first_response_due=deadlines.first_response_due,
            resolution_due=deadlines.resolution_due,
        )
        tickets = self.services.store.tickets
        check = await self.openings.check(new, fresh=ctx.fresh)
        ticket = check.existing
        if ticket is not None and ticket.reply_event_id is not None:
            return  # processed before a crash, reply already sent
        if ticket is None and check.open_now >= settings.max_open_per_resident:
            # A flood guard: the resident hears why, and nothing is opened.
            await ctx.reply("tickets.too_many", limit=settings.max_open_per_resident)
            return
        number = ticket.number if ticket is not None else check.next_number
        on_duty = self.clock.people_on(ctx.role_table, team)
        body = ctx.text(
            "tickets.opened_urgent" if new.urgent else "tickets.opened",
            number=number,
            category=ctx.text(f"categories.{new.category}"),
            who=self.clock.names(ctx, on_duty) or ctx.text("tickets.nobody"),
            first_due=self.clock.local(ctx, new.first_response_due),
            resolution_due=self.clock.local(ctx, new.resolution_due),
        )
        reply = await ctx.send_notice(
            message.room_id,
            body,
            thread_root=message.event_id,
            extra={"m.mentions": {"user_ids": sorted(on_duty)}},
        )
        if ticket is not None:
            # Written before a crash stopped the reply: now it has one.
            await tickets.update(ticket.id, now, None, "replied", reply_event_id=reply)
            return
        jobs = partial(self.clock.deadline_jobs, settings=settings)
        self.openings.opened(await tickets.open(new, number, jobs, reply))
        self.services.scheduler.wake.set()

    # ------------------------------------------------------------ in the thread

    async def _thread_message(self, ctx: EventContext, message: Message, root: str) -> None:
        ticket = await self.services.store.tickets.by_thread(root)
        if ticket is None or ctx.compound is None:
            return
        now = self.services.clock.now()
        if ctx.roles & TICKET_STAFF and ticket.first_response_at is None and ticket.is_open:
            await self._record_first_response(ctx, ticket, now, announce=False)
        elif message.sender == ticket.reporter and ticket.status == "waiting":
            await self._resume(ctx, ticket, now)

    async def _resume(self, ctx: EventContext, ticket: TicketRecord, now: datetime) -> None:
        assert ctx.compound is not None and ticket.waiting_since is not None
        settings = settings_of(ctx.compound)
        policy = settings.policy(self.services.config.timezone)
        due = resume_deadline(
            policy, ticket.resolution_due, ticket.waiting_since, now, ticket.urgent
        )
        ticket = await self.services.store.tickets.update(
            ticket.id,
            now,
            ctx.event.sender,
            "resumed",
            status="open",
            waiting_since=None,
            resolution_due=due,
        )
        await self.clock.schedule_resolution(ticket, settings)
        await self._say_in_thread(
            ctx, ticket, "tickets.resumed", resolution_due=self.clock.local(ctx, due)
        )


def _building(text: str) -> str | None:
    match = _BUILDING.search(text)
    if match is None:
        return None
    return match.group(1) or match.group(2)
