"""The tickets bot: "@物业 3号楼电梯坏了" becomes a timed ticket, answered in a thread.

Rules only: opening from a mention, first response, waiting, done → confirm → rating, reopen.
The clock (reminders, escalation, auto-close) is in `ticket_clock.py`; figures in `report.py`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from bots.tickets.categories import Category, guess_category, is_urgent
from bots.tickets.settings import TicketSettings
from bots.tickets.sla import compute_deadlines, resume_deadline
from bots.tickets.ticket_clock import TicketClock
from bridge.commands import Arg, ArgKind, CommandError, CommandTable
from bridge.config import Compound
from bridge.dispatch import Bot, Dispatcher, EventContext, Services
from bridge.events import Message, Reaction
from bridge.matrix import derived_txn_id
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES, STAFF_ROLES, Role
from bridge.store.tickets import NewTicket, TicketRecord

TICKET_STAFF = PROPERTY_ROLES | COMMITTEE_ROLES
RATING_KEYS = {"1️⃣": 1, "2️⃣": 2, "3️⃣": 3, "4️⃣": 4, "5️⃣": 5}
CONFIRM_KEYS = {"✅", "✔️", "👍"}
# "3号楼", "3栋", "3幢", "3#楼", "building 3"
_BUILDING = re.compile(r"(\d{1,3})\s*(?:号楼|栋|幢|#楼|#)|building\s*(\d{1,3})", re.IGNORECASE)
# Rooms where a mention opens nothing: newcomers, notices, and the staff's own rooms.
NO_TICKET_ROOMS = {"lobby", "announcements", "five_in_one", "party", "committee", "observers"}


def settings_of(compound: Compound) -> TicketSettings:
    return compound.section("tickets", TicketSettings)


class TicketBot(Bot):
    commands: ClassVar[CommandTable] = CommandTable()
    config_sections: ClassVar[dict[str, type[BaseModel]]] = {"tickets": TicketSettings}

    def __init__(self, services: Services, dispatcher: Dispatcher) -> None:
        super().__init__(services, dispatcher)
        self.clock = TicketClock(services, dispatcher)

    async def on_start(self) -> None:
        await self.clock.schedule_weekly_reports()

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
        assert ctx.compound is not None and ctx.role_table is not None
        now = self.services.clock.now()
        tickets = self.services.store.tickets
        if await tickets.by_thread(message.event_id) is None and (
            await tickets.open_count(ctx.compound.key, message.sender)
            >= settings.max_open_per_resident
        ):
            # A flood guard: the resident hears why, nothing is opened.
            await ctx.reply("tickets.too_many", limit=settings.max_open_per_resident)
            return
        category = guess_category(message.body, settings.category_words())
        urgent = is_urgent(message.body, settings.urgent_words(ctx.locale))
        policy = settings.policy(self.services.config.timezone)
        deadlines = compute_deadlines(policy, now, category, urgent)
        ticket, _ = await self.services.store.tickets.open(
            NewTicket(
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
            ),
            lambda record: self.clock.deadline_jobs(record, settings),
        )
        self.services.scheduler.wake.set()
        if ticket.reply_event_id is not None:
            return  # processed before a crash, reply already sent
        on_duty = self.clock.people_on(ctx.role_table, ticket)
        key = "tickets.opened_urgent" if urgent else "tickets.opened"
        body = ctx.text(
            key,
            number=ticket.number,
            category=ctx.text(f"categories.{ticket.category}"),
            who=self.clock.names(ctx, on_duty) or ctx.text("tickets.nobody"),
            first_due=self.clock.local(ctx, ticket.first_response_due),
            resolution_due=self.clock.local(ctx, ticket.resolution_due),
        )
        reply = await ctx.send_notice(
            message.room_id,
            body,
            thread_root=message.event_id,
            extra={"m.mentions": {"user_ids": sorted(on_duty)}},
        )
        await self.services.store.tickets.update(
            ticket.id, now, None, "replied", reply_event_id=reply
        )

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

    async def _record_first_response(
        self, ctx: EventContext, ticket: TicketRecord, now: datetime, *, announce: bool
    ) -> TicketRecord:
        ticket = await self.services.store.tickets.update(
            ticket.id,
            now,
            ctx.event.sender,
            "first_response",
            first_response_at=now,
            first_responder=ctx.event.sender,
        )
        await self.clock.first_response_recorded(ticket)
        if announce:
            await self._say_in_thread(
                ctx, ticket, "tickets.first_response", who=await self.clock.name(ctx.event.sender)
            )
        return ticket

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

    async def _say_in_thread(
        self,
        ctx: EventContext,
        ticket: TicketRecord,
        key: str,
        mentions: list[str] | None = None,
        **args: Any,
    ) -> str:
        extra = {"m.mentions": {"user_ids": mentions}} if mentions else None
        return await ctx.send_notice(
            ticket.room_id,
            ctx.text(key, number=ticket.number, **args),
            thread_root=ticket.source_event_id,
            extra=extra,
        )

    # ------------------------------------------------------------ confirmation by reaction

    async def on_reaction(self, ctx: EventContext, reaction: Reaction) -> None:
        ticket = await self.services.store.tickets.by_confirm_question(reaction.relates_to_event)
        if ticket is None or reaction.sender != ticket.reporter:
            return
        if reaction.key in CONFIRM_KEYS:
            await self._confirm(ctx, ticket)
        elif reaction.key in RATING_KEYS:
            await self._rate(ctx, ticket, RATING_KEYS[reaction.key])

    async def _confirm(self, ctx: EventContext, ticket: TicketRecord) -> None:
        if ticket.status != "done":
            return
        now = self.services.clock.now()
        ticket = await self.services.store.tickets.update(
            ticket.id,
            now,
            ctx.event.sender,
            "confirmed",
            status="closed",
            closed_at=now,
            close_reason="confirmed",
        )
        await self.clock.closed(ticket)
        await self._say_in_thread(ctx, ticket, "tickets.confirmed")

    async def _rate(self, ctx: EventContext, ticket: TicketRecord, rating: int) -> None:
        if ticket.status not in ("done", "closed") or ticket.rating == rating:
            return
        now = self.services.clock.now()
        ticket = await self.services.store.tickets.update(
            ticket.id, now, ctx.event.sender, "rated", {"rating": rating}, rating=rating
        )
        await self._say_in_thread(ctx, ticket, "tickets.rated", rating=rating)
        if ticket.status == "done":
            await self._confirm(ctx, ticket)

    # ------------------------------------------------------------ commands

    async def _ticket(self, ctx: EventContext, number: int) -> TicketRecord:
        if ctx.compound is None:
            raise CommandError("error.not_in_compound")
        ticket = await self.services.store.tickets.get(ctx.compound.key, number)
        if ticket is None:
            raise CommandError("tickets.not_found", number=number)
        return ticket

    @commands.command(
        "ticket",
        aliases=["工单"],
        args=[
            Arg(
                "filter",
                optional=True,
                choices=("open", "mine", "overdue", "未完成", "我的", "超时"),
            )
        ],
        roles=TICKET_STAFF,
    )
    async def list_tickets(self, ctx: EventContext, filter: str | None) -> None:
        if ctx.compound is None:
            raise CommandError("error.not_in_compound")
        which = {"未完成": "open", "我的": "mine", "超时": "overdue"}.get(
            filter or "", filter or "open"
        )
        now = self.services.clock.now()
        store = self.services.store.tickets
        if which == "mine":
            tickets = await store.listing(ctx.compound.key, assignee=ctx.event.sender)
        elif which == "overdue":
            tickets = await store.listing(ctx.compound.key, overdue_at=now)
        else:
            tickets = await store.listing(ctx.compound.key, statuses=("open", "waiting", "done"))
        if not tickets:
            await ctx.reply("tickets.list_empty")
            return
        lines = [ctx.text("tickets.list_header", filter=ctx.text(f"tickets.filter_{which}"))]
        for t in tickets:
            lines.append(
                ctx.text(
                    "tickets.list_line",
                    number=t.number,
                    status=ctx.text(f"tickets.status_{t.status}"),
                    category=ctx.text(f"categories.{t.category}"),
                    place=ctx.text("tickets.place", building=t.building) if t.building else "",
                    text=_short(t.text),
                    due=self.clock.local(ctx, t.resolution_due),
                )
            )
        await ctx.reply_text("\n".join(lines))

    @commands.command(
        "ticket ack",
        aliases=["工单 受理", "工单 回复"],
        args=[Arg("number", ArgKind.INT)],
        roles=TICKET_STAFF,
    )
    async def acknowledge(self, ctx: EventContext, number: int) -> None:
        ticket = await self._open_ticket(ctx, number)
        if ticket.first_response_at is None:
            await self._record_first_response(ctx, ticket, self.services.clock.now(), announce=True)
        else:
            await self._say_in_thread(
                ctx, ticket, "tickets.first_response", who=await self.clock.name(ctx.event.sender)
            )

    @commands.command(
        "ticket claim", aliases=["工单 认领"], args=[Arg("number", ArgKind.INT)], roles=TICKET_STAFF
    )
    async def claim(self, ctx: EventContext, number: int) -> None:
        await self._assign(
            ctx, await self._open_ticket(ctx, number), ctx.event.sender, "tickets.claimed"
        )

    @commands.command(
        "ticket assign",
        aliases=["工单 指派"],
        args=[Arg("number", ArgKind.INT), Arg("user", ArgKind.USER)],
        roles=TICKET_STAFF,
    )
    async def assign(self, ctx: EventContext, number: int, user: str) -> None:
        ticket = await self._open_ticket(ctx, number)
        assert ctx.role_table is not None
        if not ctx.role_table.staff.get(user, frozenset()) & TICKET_STAFF:
            raise CommandError("tickets.not_staff", who=user)
        await self._assign(ctx, ticket, user, "tickets.assigned")

    async def _assign(self, ctx: EventContext, ticket: TicketRecord, user: str, key: str) -> None:
        now = self.services.clock.now()
        ticket = await self.services.store.tickets.update(
            ticket.id, now, ctx.event.sender, "assigned", {"to": user}, assignee=user
        )
        if ticket.first_response_at is None:
            ticket = await self._record_first_response(ctx, ticket, now, announce=False)
        await self._say_in_thread(
            ctx, ticket, key, mentions=[user], who=await self.clock.name(user)
        )

    @commands.command(
        "ticket note",
        aliases=["工单 备注"],
        args=[Arg("number", ArgKind.INT), Arg("text", ArgKind.REST)],
        roles=TICKET_STAFF,
    )
    async def note(self, ctx: EventContext, number: int, text: str) -> None:
        ticket = await self._ticket(ctx, number)
        await self.services.store.tickets.update(
            ticket.id, self.services.clock.now(), ctx.event.sender, "note", {"text": text[:2000]}
        )
        await self._say_in_thread(
            ctx, ticket, "tickets.note", who=await self.clock.name(ctx.event.sender), text=text
        )

    @commands.command(
        "ticket wait",
        aliases=["工单 等待"],
        args=[Arg("number", ArgKind.INT), Arg("reason", ArgKind.REST)],
        roles=TICKET_STAFF,
    )
    async def wait(self, ctx: EventContext, number: int, reason: str) -> None:
        ticket = await self._open_ticket(ctx, number)
        now = self.services.clock.now()
        if ticket.first_response_at is None:
            ticket = await self._record_first_response(ctx, ticket, now, announce=False)
        if ticket.status != "waiting":
            ticket = await self.services.store.tickets.update(
                ticket.id,
                now,
                ctx.event.sender,
                "waiting",
                {"reason": reason[:500]},
                status="waiting",
                waiting_since=now,
            )
            await self.clock.paused(ticket)
        mentions = [ticket.reporter] if ticket.reporter else None
        await self._say_in_thread(ctx, ticket, "tickets.waiting", mentions=mentions, reason=reason)

    @commands.command(
        "ticket done",
        aliases=["工单 完成"],
        args=[Arg("number", ArgKind.INT), Arg("text", ArgKind.REST, optional=True)],
        roles=TICKET_STAFF,
    )
    async def done(self, ctx: EventContext, number: int, text: str | None) -> None:
        assert ctx.compound is not None
        ticket = await self._open_ticket(ctx, number)
        now = self.services.clock.now()
        if ticket.first_response_at is None:
            ticket = await self._record_first_response(ctx, ticket, now, announce=False)
        ticket = await self.services.store.tickets.update(
            ticket.id,
            now,
            ctx.event.sender,
            "done",
            {"text": (text or "")[:2000]},
            status="done",
            done_at=now,
            done_by=ctx.event.sender,
            waiting_since=None,
        )
        note = ctx.text("tickets.done_text", text=text) if text else ""
        mentions = [ticket.reporter] if ticket.reporter else None
        question = await self._say_in_thread(
            ctx, ticket, "tickets.done", mentions=mentions, text=note
        )
        ticket = await self.services.store.tickets.update(
            ticket.id, now, None, "asked_confirmation", confirm_event_id=question
        )
        await self.clock.done(ticket, settings_of(ctx.compound))
        # One tap to answer: the bot offers the reactions, the resident taps one.
        for n, key in enumerate(["✅", *RATING_KEYS]):
            await self.services.client.send(
                ticket.room_id,
                {"m.relates_to": {"rel_type": "m.annotation", "event_id": question, "key": key}},
                derived_txn_id(question, f"offer-{n}"),
                event_type="m.reaction",
            )

    @commands.command(
        "ticket confirm", aliases=["工单 确认"], args=[Arg("number", ArgKind.INT)], roles=None
    )
    async def confirm(self, ctx: EventContext, number: int) -> None:
        ticket = await self._ticket(ctx, number)
        if ctx.event.sender != ticket.reporter:
            raise CommandError("tickets.not_yours", number=number)
        if ticket.status != "done":
            raise CommandError("tickets.not_done", number=number)
        await self._confirm(ctx, ticket)

    @commands.command(
        "ticket rate",
        aliases=["工单 评分"],
        args=[Arg("number", ArgKind.INT), Arg("rating", ArgKind.INT)],
        roles=None,
    )
    async def rate(self, ctx: EventContext, number: int, rating: int) -> None:
        ticket = await self._ticket(ctx, number)
        if ctx.event.sender != ticket.reporter:
            raise CommandError("tickets.not_yours", number=number)
        if not 1 <= rating <= 5:
            raise CommandError("tickets.bad_rating")
        if ticket.status not in ("done", "closed"):
            raise CommandError("tickets.not_done", number=number)
        await self._rate(ctx, ticket, rating)

    @commands.command(
        "ticket reopen", aliases=["工单 重开"], args=[Arg("number", ArgKind.INT)], roles=None
    )
    async def reopen(self, ctx: EventContext, number: int) -> None:
        ticket = await self._ticket(ctx, number)
        assert ctx.compound is not None
        if ctx.event.sender != ticket.reporter and not ctx.roles & TICKET_STAFF:
            raise CommandError("tickets.not_yours", number=number)
        if ticket.is_open:
            raise CommandError("tickets.not_done", number=number)
        settings = settings_of(ctx.compound)
        now = self.services.clock.now()
        finished = ticket.closed_at or ticket.done_at or now
        if now - finished > settings.reopen_window:
            raise CommandError("tickets.reopen_expired", number=number)
        policy = settings.policy(self.services.config.timezone)
        deadlines = compute_deadlines(policy, now, Category(ticket.category), ticket.urgent)
        ticket = await self.services.store.tickets.update(
            ticket.id,
            now,
            ctx.event.sender,
            "reopened",
            status="open",
            done_at=None,
            closed_at=None,
            close_reason=None,
            confirm_event_id=None,
            resolution_due=deadlines.resolution_due,
            reopened=ticket.reopened + 1,
            escalation_level=0,
        )
        await self.clock.schedule_resolution(ticket, settings)
        await self._say_in_thread(
            ctx,
            ticket,
            "tickets.reopened",
            resolution_due=self.clock.local(ctx, ticket.resolution_due),
        )

    @commands.command(
        "ticket category",
        aliases=["工单 分类"],
        args=[Arg("number", ArgKind.INT), Arg("name")],
        roles=TICKET_STAFF,
    )
    async def set_category(self, ctx: EventContext, number: int, name: str) -> None:
        ticket = await self._ticket(ctx, number)
        category = self._category_named(ctx, name)
        ticket = await self.services.store.tickets.update(
            ticket.id,
            self.services.clock.now(),
            ctx.event.sender,
            "category",
            {"from": ticket.category, "to": category.value},
            category=category.value,
        )
        await self._say_in_thread(
            ctx, ticket, "tickets.category_set", category=ctx.text(f"categories.{category.value}")
        )

    def _category_named(self, ctx: EventContext, name: str) -> Category:
        for category in Category:
            if name.casefold() in (
                category.value,
                ctx.text(f"categories.{category.value}").casefold(),
            ):
                return category
        names = "、".join(ctx.text(f"categories.{c.value}") for c in Category)
        raise CommandError("tickets.bad_category", name=name, names=names)

    async def _open_ticket(self, ctx: EventContext, number: int) -> TicketRecord:
        ticket = await self._ticket(ctx, number)
        if not ticket.is_open:
            raise CommandError("tickets.not_open", number=number)
        return ticket

    @commands.command(
        "ticket stats",
        aliases=["工单 统计"],
        args=[Arg("period", optional=True, choices=("7d", "30d", "7天", "30天"))],
        roles=TICKET_STAFF | {Role.OBSERVER},
    )
    async def stats(self, ctx: EventContext, period: str | None) -> None:
        if ctx.compound is None:
            raise CommandError("error.not_in_compound")
        days = 30 if period in ("30d", "30天") else 7
        await ctx.reply_text(
            await self.clock.report.stats_text(ctx, ctx.compound, timedelta(days=days))
        )


def _building(text: str) -> str | None:
    match = _BUILDING.search(text)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def _short(text: str, limit: int = 24) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
