"""Closing a ticket: done → the resident confirms (✅) and rates (1️⃣–5️⃣) with one tap, or it
closes itself; the resident or staff may reopen it within the window."""

from __future__ import annotations

from bots.tickets.base import (
    CONFIRM_KEYS,
    RATING_KEYS,
    TICKET_COMMANDS,
    TICKET_STAFF,
    TicketBase,
    settings_of,
)
from bots.tickets.categories import Category
from bots.tickets.sla import compute_deadlines
from bridge.commands import Arg, ArgKind, CommandError
from bridge.dispatch import EventContext
from bridge.events import Reaction
from bridge.matrix import derived_txn_id
from bridge.store.tickets import TicketRecord


class ClosingFlow(TicketBase):
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

    @TICKET_COMMANDS.command(
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

    @TICKET_COMMANDS.command(
        "ticket confirm", aliases=["工单 确认"], args=[Arg("number", ArgKind.INT)], roles=None
    )
    async def confirm(self, ctx: EventContext, number: int) -> None:
        ticket = await self._ticket(ctx, number)
        if ctx.event.sender != ticket.reporter:
            raise CommandError("tickets.not_yours", number=number)
        if ticket.status != "done":
            raise CommandError("tickets.not_done", number=number)
        await self._confirm(ctx, ticket)

    @TICKET_COMMANDS.command(
        "ticket rate",
        aliases=["工单 评分"],
        args=[Arg("number", ArgKind.INT), Arg("rating", ArgKind.INT)],
        roles=None,
    )
    async def rate(self, ctx: EventContext, number: int, rating: int) -> None:
        ticket = await self._ticket(ctx, number)
        if ctx.event.sender != ticket.reporter:
            raise CommandError("tickets.not_yours_rate", number=number)
        if not 1 <= rating <= 5:
            raise CommandError("tickets.bad_rating")
        if ticket.status not in ("done", "closed"):
            raise CommandError("tickets.not_done", number=number)
        await self._rate(ctx, ticket, rating)

    @TICKET_COMMANDS.command(
        "ticket reopen", aliases=["工单 重开"], args=[Arg("number", ArgKind.INT)], roles=None
    )
    async def reopen(self, ctx: EventContext, number: int) -> None:
        ticket = await self._ticket(ctx, number)
        assert ctx.compound is not None
        if ctx.event.sender != ticket.reporter and not ctx.roles & TICKET_STAFF:
            raise CommandError("tickets.not_yours_reopen", number=number)
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
