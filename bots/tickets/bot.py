"""The tickets bot: "@物业 3号楼电梯坏了" becomes a timed ticket, answered in a thread.

This file is the table of contents: what residents and staff can do, who may, and with which
words. What each thing does to a ticket is in `desk.py`; the clock (reminders, escalation,
auto-close) in `ticket_clock.py`; figures in `report.py`; small rules in `rules.py`, SLA
arithmetic in `sla.py`; the tables in `models.py` and `store.py`; the words in `texts/`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from bots.tickets.categories import Category
from bots.tickets.desk import TicketDesk, settings_of
from bots.tickets.report import TicketReport
from bots.tickets.rules import (
    LIST_FILTERS,
    NO_TICKET_ROOMS,
    STAFF_ROOMS,
    asks_the_resident,
    short,
    team_mentioned,
)
from bots.tickets.settings import TicketSettings
from bots.tickets.store import OPEN_STATES, TicketRecord, TicketStore
from bots.tickets.ticket_clock import TicketClock
from bridge import metrics
from bridge.bot import Bot, EventContext, Services
from bridge.commands import Arg, ArgKind, CommandError, CommandTable
from bridge.config import BridgeConfig, ConfigError, ConfigIssue, load_source
from bridge.events import Message, Reaction
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES, STAFF_ROLES, Role
from bridge.rooms_config import Compound, RoomsConfig

TICKET_STAFF = PROPERTY_ROLES | COMMITTEE_ROLES
NUMBER = Arg("number", ArgKind.INT)


class TicketBot(Bot):
    commands: ClassVar[CommandTable] = CommandTable()
    config_sections: ClassVar[dict[str, type[BaseModel]]] = {"tickets": TicketSettings}
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.tickets = TicketStore(services.store.db)
        self.clock = TicketClock(services, self.tickets)
        self.report = TicketReport(services, self.tickets, self.clock)
        self.desk = TicketDesk(services, self.tickets, self.clock)
        self._gauged: set[str] = set()  # compounds with a ticket gauge in /metrics

    @classmethod
    def check_config(cls, config: BridgeConfig, rooms: RoomsConfig) -> list[ConfigIssue]:
        """Every escalation step must reach something: a webhook target in bridge.yaml, a
        room of the compound (a step that fails two hours after a missed deadline tells no
        one)."""
        issues = []
        for compound in rooms.compounds.values():
            settings = compound.section("tickets", TicketSettings)
            room_keys = {room.key for room in compound.rooms}
            for n, step in enumerate(settings.escalation):
                problem = None
                if step.to == "webhook" and step.name not in config.webhooks:
                    problem = (
                        f"the step sends a work order to webhook target {step.name!r}, which "
                        "bridge.yaml does not define (webhooks:); add it, or drop the step"
                    )
                elif step.to == "room" and step.name not in room_keys:
                    problem = f"the step posts to room {step.name!r}, which the compound has not"
                if problem is not None:
                    issues.append(escalation_issue(compound, n, problem))
        return issues

    async def on_start(self) -> None:
        await self.report.schedule_all()

    async def refresh_metrics(self) -> None:
        counts = await self.tickets.open_counts(self.services.clock.now())
        compounds = {*self.services.rooms.compounds, *counts}
        for gone in self._gauged - compounds:  # a compound taken out of the config
            for state in ("open", "overdue"):
                metrics.TICKETS.remove(gone, state)
        for compound in compounds:
            total, overdue = counts.get(compound, (0, 0))
            metrics.TICKETS.labels(compound, "open").set(total)
            metrics.TICKETS.labels(compound, "overdue").set(overdue)
        self._gauged = compounds

    # ------------------------------------------------------------ residents' messages

    async def on_message(self, ctx: EventContext, message: Message) -> None:
        if ctx.compound is None or ctx.room_key in NO_TICKET_ROOMS:
            return
        settings = settings_of(ctx)
        if not settings.enabled:
            return
        if message.thread_root is not None:
            await self.answer_in_thread(ctx, message, message.thread_root, settings)
            return
        if ctx.roles & STAFF_ROLES or Role.RESIDENT not in ctx.roles:
            return  # staff chatter, and people Linli has not verified
        assert ctx.role_table is not None
        team = team_mentioned(
            message.body,
            message.mentioned_users,
            ctx.role_table.staff,
            settings.aliases,
            settings.committee_aliases,
        )
        if team is not None:
            await self.desk.open_from_mention(ctx, message.body, settings, team)

    async def answer_in_thread(
        self, ctx: EventContext, message: Message, root: str, settings: TicketSettings
    ) -> None:
        """Staff writing in a ticket's thread is its first response; the resident writing in
        a ticket waiting for them resumes its clock."""
        ticket = await self.tickets.by_thread(root)
        if ticket is None:
            return
        if ctx.roles & TICKET_STAFF and ticket.first_response_at is None and ticket.is_open:
            # Said once, and it rings the resident: their ticket is answered.
            await self.desk.first_response(ctx, ticket, announce=True)
        elif message.sender == ticket.reporter and ticket.status == "waiting":
            if asks_the_resident(await self.tickets.waiting_reason(ticket.id)):
                await self.desk.resume(ctx, ticket, settings)

    async def on_reaction(self, ctx: EventContext, reaction: Reaction) -> None:
        ticket = await self.tickets.by_confirm_question(reaction.relates_to_event)
        if ticket is not None and reaction.sender == ticket.reporter:
            await self.desk.reaction(ctx, ticket, reaction.key)

    # ------------------------------------------------------------ staff commands

    @commands.command(
        "ticket",
        aliases=["工单"],
        args=[Arg("filter", optional=True, choices=("open", "mine", "overdue", *LIST_FILTERS))],
        roles=TICKET_STAFF,
    )
    async def list_tickets(self, ctx: EventContext, filter: str | None) -> None:
        compound = self._compound(ctx)
        which = LIST_FILTERS.get(filter or "", filter or "open")
        if which == "mine":
            # Claimed by or assigned to them, and the unclaimed ones they were named on duty for.
            me, table = ctx.event.sender, ctx.role_table
            assert table is not None
            tickets = [
                t
                for t in await self.tickets.listing(compound.key, limit=200)
                if t.assignee == me
                or (t.assignee is None and me in self.clock.people_on(table, t.team))
            ][:20]
        elif which == "overdue":
            tickets = await self.tickets.listing(compound.key, overdue_at=ctx.received_at)
        else:
            tickets = await self.tickets.listing(compound.key, statuses=("open", "waiting", "done"))
        if not tickets:
            await self._staff_answer(ctx, ctx.text("tickets.list_empty"), "list")
            return
        lines = [ctx.text("tickets.list_header", filter=ctx.text(f"tickets.filter_{which}"))]
        for t in tickets:
            # The deadline that matters: the first response while none came, then the fix.
            first = t.first_response_at is None and t.is_open
            due = ctx.text(
                "tickets.due_first" if first else "tickets.due_resolution",
                due=self.clock.local(compound, t.first_response_due if first else t.resolution_due),
            )
            lines.append(
                ctx.text(
                    "tickets.list_line",
                    number=t.number,
                    urgent=ctx.text("tickets.urgent_mark") if t.urgent else "",
                    status=ctx.text(f"tickets.status_{t.status}"),
                    category=ctx.text(f"categories.{t.category}"),
                    place=ctx.text("tickets.place", building=t.building) if t.building else "",
                    text=short(t.text),
                    due=due,
                )
            )
        await self._staff_answer(ctx, "\n".join(lines), "list")

    @commands.command(
        "ticket ack", aliases=["工单 受理", "工单 回复"], args=[NUMBER], roles=TICKET_STAFF
    )
    async def acknowledge(self, ctx: EventContext, number: int) -> None:
        await self.desk.first_response(ctx, await self._open(ctx, number), announce=True)

    @commands.command("ticket claim", aliases=["工单 认领"], args=[NUMBER], roles=TICKET_STAFF)
    async def claim(self, ctx: EventContext, number: int) -> None:
        ticket = await self._open(ctx, number)
        await self.desk.assign(ctx, ticket, ctx.event.sender, "tickets.claimed")

    @commands.command(
        "ticket assign",
        aliases=["工单 指派"],
        args=[NUMBER, Arg("user", ArgKind.USER)],
        roles=TICKET_STAFF,
    )
    async def assign(self, ctx: EventContext, number: int, user: str) -> None:
        ticket = await self._open(ctx, number)
        assert ctx.role_table is not None
        if not ctx.role_table.staff.get(user, frozenset()) & TICKET_STAFF:
            raise CommandError("tickets.not_staff", who=user)
        await self.desk.assign(ctx, ticket, user, "tickets.assigned")

    @commands.command(
        "ticket note",
        aliases=["工单 备注"],
        args=[NUMBER, Arg("text", ArgKind.REST)],
        roles=TICKET_STAFF,
    )
    async def note(self, ctx: EventContext, number: int, text: str) -> None:
        await self.desk.note(ctx, await self._ticket(ctx, number), text)

    @commands.command(
        "ticket wait",
        aliases=["工单 等待"],
        args=[NUMBER, Arg("reason", ArgKind.REST)],
        roles=TICKET_STAFF,
    )
    async def wait(self, ctx: EventContext, number: int, reason: str) -> None:
        await self.desk.wait(ctx, await self._open(ctx, number), reason)

    @commands.command("ticket resume", aliases=["工单 继续"], args=[NUMBER], roles=TICKET_STAFF)
    async def resume(self, ctx: EventContext, number: int) -> None:
        ticket = await self._ticket(ctx, number)
        await self._expect(ctx, ticket, ("waiting",), "tickets.not_waiting")
        await self.desk.resume(ctx, ticket, settings_of(ctx))

    @commands.command(
        "ticket category",
        aliases=["工单 分类"],
        args=[NUMBER, Arg("name")],
        roles=TICKET_STAFF,
    )
    async def set_category(self, ctx: EventContext, number: int, name: str) -> None:
        ticket = await self._ticket(ctx, number)
        for category in Category:
            if name.casefold() in (category.value, ctx.text(f"categories.{category.value}")):
                await self.desk.set_category(ctx, ticket, category.value)
                return
        names = "、".join(ctx.text(f"categories.{c.value}") for c in Category)
        raise CommandError("tickets.bad_category", name=name, names=names)

    @commands.command(
        "ticket done",
        aliases=["工单 完成"],
        args=[NUMBER, Arg("text", ArgKind.REST, optional=True)],
        roles=TICKET_STAFF,
    )
    async def done(self, ctx: EventContext, number: int, text: str | None) -> None:
        ticket = await self._open(ctx, number)
        await self.desk.done(ctx, ticket, text, settings_of(ctx))

    @commands.command(
        "ticket stats",
        aliases=["工单 统计"],
        args=[Arg("period", optional=True, choices=("7d", "30d", "7天", "30天"))],
        roles=TICKET_STAFF | {Role.OBSERVER},
    )
    async def stats(self, ctx: EventContext, period: str | None) -> None:
        compound = self._compound(ctx)
        days = 30 if period in ("30d", "30天") else 7
        text = await self.report.stats_text(ctx, compound, timedelta(days=days))
        await self._staff_answer(ctx, text, "stats")

    # ------------------------------------------------------------ the resident's commands

    @commands.command("ticket confirm", aliases=["工单 确认"], args=[NUMBER])
    async def confirm(self, ctx: EventContext, number: int) -> None:
        ticket = await self._ticket(ctx, number)
        if ctx.event.sender != ticket.reporter:
            raise CommandError("tickets.not_yours", number=number)
        await self._expect(ctx, ticket, ("done",), "tickets.not_done")
        await self.desk.confirm(ctx, ticket)

    @commands.command(
        "ticket rate", aliases=["工单 评分"], args=[NUMBER, Arg("rating", ArgKind.INT)]
    )
    async def rate(self, ctx: EventContext, number: int, rating: int) -> None:
        ticket = await self._ticket(ctx, number)
        if ctx.event.sender != ticket.reporter:
            raise CommandError("tickets.not_yours_rate", number=number)
        if not 1 <= rating <= 5:
            raise CommandError("tickets.bad_rating")
        if ticket.status not in ("done", "closed"):
            raise CommandError("tickets.not_done", number=number)
        await self.desk.rate(ctx, ticket, rating)

    @commands.command("ticket reopen", aliases=["工单 重开"], args=[NUMBER])
    async def reopen(self, ctx: EventContext, number: int) -> None:
        ticket = await self._ticket(ctx, number)
        if ctx.event.sender != ticket.reporter and not ctx.roles & TICKET_STAFF:
            raise CommandError("tickets.not_yours_reopen", number=number)
        settings = settings_of(ctx)
        await self._expect(ctx, ticket, ("done", "closed"), "tickets.not_done")
        finished = ticket.closed_at or ticket.done_at or ctx.received_at
        if ctx.received_at - finished > settings.reopen_window:
            raise CommandError("tickets.reopen_expired", number=number)
        await self.desk.reopen(ctx, ticket, settings)

    # ------------------------------------------------------------ personal data

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        return {"tickets": await self.tickets.reported_by(user_id)}

    async def erase_personal(self, user_id: str, compound: str | None) -> None:
        # The tickets stay (statistics, history); who reported them goes.
        await self.tickets.anonymise_reporter(user_id, compound)

    async def _staff_answer(self, ctx: EventContext, text: str, purpose: str) -> None:
        """Staff business answered where staff read it: in place in a staff room, else in the
        compound's five-in-one room, the room of the command hearing only where it went."""
        if ctx.room_key in STAFF_ROOMS or ctx.compound is None:
            await ctx.reply_text(text, purpose=purpose)
            return
        record = await self.services.store.rooms.by_key(f"{ctx.compound.key}:five_in_one")
        if record is None:
            await ctx.reply_text(text, purpose=purpose)
            return
        # A list or figures asked for: quiet (the room of the command says where it went).
        await ctx.send_notice(record.room_id, text, purpose=purpose)
        await ctx.reply("tickets.answered_in_staff_room")

    # ------------------------------------------------------------ finding a ticket

    def _compound(self, ctx: EventContext) -> Any:
        if ctx.compound is None:
            raise CommandError("error.not_in_compound")
        return ctx.compound

    async def _ticket(self, ctx: EventContext, number: int) -> TicketRecord:
        ticket = await self.tickets.get(self._compound(ctx).key, number)
        if ticket is None:
            raise CommandError("tickets.not_found", number=number)
        return ticket

    async def _open(self, ctx: EventContext, number: int) -> TicketRecord:
        """A ticket still being worked on."""
        ticket = await self._ticket(ctx, number)
        await self._expect(ctx, ticket, OPEN_STATES, "tickets.not_open")
        return ticket

    async def _expect(
        self, ctx: EventContext, ticket: TicketRecord, states: tuple[str, ...], error: str
    ) -> None:
        """Refuse a command on a ticket in another state, unless this very command put it
        there: run again after a crash, it goes on to re-send what is missing."""
        if ticket.status in states or await self.tickets.changed_by(ticket.id, ctx.event.event_id):
            return
        raise CommandError(error, number=ticket.number)


def escalation_issue(compound: Compound, step: int, problem: str) -> ConfigIssue:
    """An issue at the step's line in the compound's file (its first line when the ladder is
    the default one, which the file does not spell out)."""
    loc: tuple[str | int, ...] = ("compound", "tickets", "escalation", step)
    try:
        source = load_source(compound.source)
        line = source.line_of(loc)
    except ConfigError:
        line = 1
    where = "tickets.escalation" if line > 1 else "tickets.escalation (the default ladder)"
    return ConfigIssue(compound.source, line, f"{where}[{step}]", problem)
