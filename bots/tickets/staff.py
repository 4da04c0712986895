"""Staff's ticket commands: list, take up, claim, assign, note, wait, category, statistics."""

from __future__ import annotations

from datetime import timedelta

from bots.tickets.base import TICKET_COMMANDS, TICKET_STAFF, TicketBase
from bots.tickets.categories import Category
from bridge.commands import Arg, ArgKind, CommandError
from bridge.dispatch import EventContext
from bridge.roles import Role
from bridge.store.tickets import TicketRecord


class StaffCommands(TicketBase):
    @TICKET_COMMANDS.command(
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
            # Claimed by or assigned to them, and the unclaimed ones they were named on duty for.
            me, table = ctx.event.sender, ctx.role_table
            assert table is not None
            tickets = [
                t
                for t in await store.listing(ctx.compound.key, limit=200)
                if t.assignee == me
                or (t.assignee is None and me in self.clock.people_on(table, t.team))
            ][:20]
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

    @TICKET_COMMANDS.command(
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

    @TICKET_COMMANDS.command(
        "ticket claim", aliases=["工单 认领"], args=[Arg("number", ArgKind.INT)], roles=TICKET_STAFF
    )
    async def claim(self, ctx: EventContext, number: int) -> None:
        await self._assign(
            ctx, await self._open_ticket(ctx, number), ctx.event.sender, "tickets.claimed"
        )

    @TICKET_COMMANDS.command(
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

    @TICKET_COMMANDS.command(
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

    @TICKET_COMMANDS.command(
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

    @TICKET_COMMANDS.command(
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

    @TICKET_COMMANDS.command(
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


def _short(text: str, limit: int = 24) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
