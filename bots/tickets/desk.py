"""The ticket desk: each thing that happens to a ticket, as one method that stores the change
(once per causing event: `TicketStore.change`) and then speaks in the ticket's thread with
transaction IDs derived from the event and the message's purpose. Run again for the same event
(after a crash, or a resend), a method finds its change made and re-sends only what the
homeserver does not have yet.

The bot (`bot.py`) decides who may do what and with which words; this file says what it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bots.tickets.categories import Category, guess_category, is_urgent
from bots.tickets.openings import Openings
from bots.tickets.rules import asks_the_resident, building_in, rating_from_key
from bots.tickets.settings import TicketSettings
from bots.tickets.sla import compute_deadlines, resume_deadline
from bots.tickets.store import OPEN_STATES, NewTicket, TicketRecord, TicketStore, WrongState
from bots.tickets.ticket_clock import CLOSE, FIRST, RESOLUTION, TicketClock, prefixes
from bridge import messages
from bridge.bot import EventContext, Services
from bridge.commands import CommandError
from bridge.matrix import derived_txn_id

CONFIRM_OFFER = ("✅", "1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣")


def settings_of(ctx: EventContext) -> TicketSettings:
    if ctx.compound is None:
        raise CommandError("error.not_in_compound")
    return ctx.compound.section("tickets", TicketSettings)


class TicketDesk:
    def __init__(self, services: Services, tickets: TicketStore, clock: TicketClock) -> None:
        self.services = services
        self.tickets = tickets
        self.clock = clock
        self.openings = Openings(tickets)

    # ------------------------------------------------------------ opening

    async def open_from_mention(
        self, ctx: EventContext, body: str, settings: TicketSettings, team: str
    ) -> None:
        """The reply is on the round trip a resident waits for, so it goes out as soon as the
        ticket's number is known, while the ticket is written. Redone after a crash, this finds
        the same number and the same deadlines (both follow from what was stored before), and
        the reply's derived transaction ID makes the homeserver return the first reply rather
        than post a second one."""
        assert ctx.compound is not None and ctx.role_table is not None
        event = ctx.event
        now = ctx.received_at
        category = guess_category(body, settings.category_words())
        urgent = is_urgent(body, settings.urgent_words(ctx.locale))
        deadlines = compute_deadlines(
            settings.policy(self.services.config.timezone), now, category, urgent
        )
        new = NewTicket(
            compound=ctx.compound.key,
            room_id=event.room_id,
            source_event_id=event.event_id,
            reporter=event.sender,
            text=body[:2000],
            category=category.value,
            urgent=urgent,
            building=building_in(body) or ctx.role_table.residents.get(event.sender),
            team=team,
            opened_at=now,
            first_response_due=deadlines.first_response_due,
            resolution_due=deadlines.resolution_due,
        )
        check = await self.openings.check(new, fresh=ctx.fresh)
        ticket = check.existing
        if ticket is not None and ticket.reply_event_id is not None:
            return  # handled before a crash, reply already sent
        if ticket is None and check.open_now >= settings.max_open_per_resident:
            # A flood guard: the resident hears why, in reply to the mention, and nothing is
            # opened.
            await ctx.reply_text(
                ctx.text("tickets.too_many", limit=settings.max_open_per_resident),
                purpose="reply:tickets.too_many",
                thread_root=event.event_id,
            )
            return
        number = ticket.number if ticket is not None else self.openings.reserve(new)
        on_duty = sorted(self.clock.people_on(ctx.role_table, team))
        # The staff it names hear of it at once (an alert); the resident reads their names.
        body, html = self.services.catalogue.rich(
            ctx.locale,
            "tickets.opened_urgent" if new.urgent else "tickets.opened",
            number=number,
            category=ctx.text(f"categories.{new.category}"),
            who=await self.services.people(event.room_id, on_duty, ctx.compound)
            if on_duty
            else ctx.text("tickets.nobody"),
            first_due=self.clock.local(ctx.compound, new.first_response_due),
            resolution_due=self.clock.local(ctx.compound, new.resolution_due),
        )
        reply = await ctx.send_alert(
            event.room_id, body, to=on_duty, thread_root=event.event_id, html=html, purpose="opened"
        )
        if ticket is not None:
            # Written before a crash stopped the reply: now it has one.
            await self.tickets.change(
                ticket.id,
                cause=event.event_id,
                action="replied",
                at=now,
                actor=None,
                reply_event_id=reply,
            )
            return
        opened = await self.tickets.open(
            new, number, lambda t: self.clock.deadline_jobs(t, settings), reply
        )
        self.openings.opened(opened)
        self.services.scheduler.wake.set()

    # ------------------------------------------------------------ staff

    async def first_response(
        self, ctx: EventContext, ticket: TicketRecord, *, announce: bool
    ) -> TicketRecord:
        """Staff answered (in the thread, or by a command): the first-response clock stops."""
        if ticket.first_response_at is None:
            change = await self.tickets.change(
                ticket.id,
                cause=ctx.event.event_id,
                action="first_response",
                at=ctx.received_at,
                actor=ctx.event.sender,
                cancel=prefixes(ticket.id, FIRST),
                first_response_at=ctx.received_at,
                first_responder=ctx.event.sender,
            )
            ticket = change.ticket
        if announce:
            # The resident's ticket is answered: they hear it.
            await self.say(
                ctx,
                ticket,
                "tickets.first_response",
                alert_to=self._reporter(ticket),
                who=await self._person(ticket, ctx.event.sender),
            )
        self.services.scheduler.wake.set()
        return ticket

    async def assign(self, ctx: EventContext, ticket: TicketRecord, user: str, key: str) -> None:
        change = await self._change(
            ctx, ticket, "assigned", {"to": user}, allowed_from=OPEN_STATES, assignee=user
        )
        ticket = await self.first_response(ctx, change.ticket, announce=False)
        # The one it is given to hears it (staff claiming it for themselves need not).
        alert_to = [user] if user != ctx.event.sender else []
        await self.say(ctx, ticket, key, alert_to=alert_to, who=await self._person(ticket, user))

    async def note(self, ctx: EventContext, ticket: TicketRecord, text: str) -> None:
        await self._change(ctx, ticket, "note", {"text": text[:2000]})
        who = await self._person(ticket, ctx.event.sender)
        await self.say(ctx, ticket, "tickets.note", who=who, text=text)

    async def wait(self, ctx: EventContext, ticket: TicketRecord, reason: str) -> None:
        ticket = await self.first_response(ctx, ticket, announce=False)
        if ticket.status != "waiting":
            change = await self._change(
                ctx,
                ticket,
                "waiting",
                {"reason": reason[:500]},
                allowed_from=("open",),
                cancel=prefixes(ticket.id, RESOLUTION),
                status="waiting",
                waiting_since=ctx.received_at,
            )
            ticket = change.ticket
        asks = asks_the_resident(reason)
        resume = (
            ctx.text("tickets.waiting_question")
            if asks
            else ctx.text("tickets.waiting_staff", number=ticket.number)
        )
        # A question to the resident must reach them; a pause for parts only informs.
        alert_to = self._reporter(ticket) if asks else []
        await self.say(
            ctx, ticket, "tickets.waiting", alert_to=alert_to, reason=reason, resume=resume
        )

    async def resume(
        self, ctx: EventContext, ticket: TicketRecord, settings: TicketSettings
    ) -> None:
        """The resident answered a ticket waiting for them: its resolution clock runs again."""
        assert ticket.waiting_since is not None
        policy = settings.policy(self.services.config.timezone)
        now = ctx.received_at
        due = resume_deadline(
            policy, ticket.resolution_due, ticket.waiting_since, now, ticket.urgent
        )
        change = await self._change(
            ctx,
            ticket,
            "resumed",
            allowed_from=("waiting",),
            jobs=lambda t: self.clock.resolution_jobs(t, settings, now),
            status="open",
            waiting_since=None,
            resolution_due=due,
        )
        await self.say(
            ctx,
            change.ticket,
            "tickets.resumed",
            resolution_due=self.clock.local(ctx.compound, due),
        )

    async def set_category(self, ctx: EventContext, ticket: TicketRecord, category: str) -> None:
        change = await self._change(
            ctx, ticket, "category", {"from": ticket.category, "to": category}, category=category
        )
        await self.say(
            ctx, change.ticket, "tickets.category_set", category=ctx.text(f"categories.{category}")
        )

    async def done(
        self, ctx: EventContext, ticket: TicketRecord, text: str | None, settings: TicketSettings
    ) -> None:
        """Staff say it is done: the resident is asked to confirm and rate with one tap, and
        the ticket closes itself if they do not."""
        ticket = await self.first_response(ctx, ticket, announce=False)
        change = await self._change(
            ctx,
            ticket,
            "done",
            {"text": (text or "")[:2000]},
            allowed_from=OPEN_STATES,
            cancel=prefixes(ticket.id, FIRST, RESOLUTION),
            jobs=lambda t: self.clock.close_jobs(t, settings),
            status="done",
            done_at=ctx.received_at,
            done_by=ctx.event.sender,
            waiting_since=None,
        )
        ticket = change.ticket
        question = ticket.confirm_event_id
        if question is None:
            note = ctx.text("tickets.done_text", text=text) if text else ""
            question = await self.say(
                ctx, ticket, "tickets.done", alert_to=self._reporter(ticket), text=note
            )
            await self._change(ctx, ticket, "asked_confirmation", confirm_event_id=question)
        self.services.scheduler.wake.set()
        # One tap to answer: the bot offers the reactions, the resident taps one.
        for n, key in enumerate(CONFIRM_OFFER):
            await self.services.client.send(
                ticket.room_id,
                messages.reaction(question, key),
                derived_txn_id(question, f"offer-{n}"),
                event_type="m.reaction",
            )

    # ------------------------------------------------------------ the resident

    async def confirm(self, ctx: EventContext, ticket: TicketRecord) -> None:
        try:
            change = await self._change(
                ctx,
                ticket,
                "confirmed",
                allowed_from=("done",),
                cancel=prefixes(ticket.id, CLOSE),
                status="closed",
                closed_at=ctx.received_at,
                close_reason="confirmed",
            )
        except WrongState:
            return  # closed already (by a tap and a rating, or by the clock)
        await self.say(ctx, change.ticket, "tickets.confirmed")

    async def rate(self, ctx: EventContext, ticket: TicketRecord, rating: int) -> None:
        if ticket.status not in ("done", "closed"):
            return
        change = await self._change(ctx, ticket, "rated", {"rating": rating}, rating=rating)
        await self.say(ctx, change.ticket, "tickets.rated", rating=rating)
        if change.ticket.status == "done":
            await self.confirm(ctx, change.ticket)

    async def reaction(self, ctx: EventContext, ticket: TicketRecord, key: str) -> None:
        """A tap under the confirmation question: ✅ confirms, 1️⃣–5️⃣ rate (and confirm)."""
        if key in ("✅", "✔️", "👍"):
            await self.confirm(ctx, ticket)
        elif (rating := rating_from_key(key)) is not None:
            await self.rate(ctx, ticket, rating)

    async def reopen(
        self, ctx: EventContext, ticket: TicketRecord, settings: TicketSettings
    ) -> None:
        now = ctx.received_at
        policy = settings.policy(self.services.config.timezone)
        deadlines = compute_deadlines(policy, now, Category(ticket.category), ticket.urgent)
        change = await self._change(
            ctx,
            ticket,
            "reopened",
            allowed_from=("done", "closed"),
            cancel=prefixes(ticket.id, CLOSE),
            jobs=lambda t: self.clock.resolution_jobs(t, settings, now),
            status="open",
            done_at=None,
            closed_at=None,
            close_reason=None,
            confirm_event_id=None,
            resolution_due=deadlines.resolution_due,
            reopened=ticket.reopened + 1,
            escalation_level=0,
        )
        self.services.scheduler.wake.set()
        # Back on the staff's desk: whoever answers it hears so.
        table = ctx.role_table
        staff = self.clock.people_on(table, ticket.team, ticket.assignee) if table else set()
        await self.say(
            ctx,
            change.ticket,
            "tickets.reopened",
            alert_to=sorted(staff - {ctx.event.sender}),
            resolution_due=self.clock.local(ctx.compound, change.ticket.resolution_due),
        )

    # ------------------------------------------------------------ plumbing of the desk

    async def _change(
        self,
        ctx: EventContext,
        ticket: TicketRecord,
        action: str,
        detail: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        return await self.tickets.change(
            ticket.id,
            cause=ctx.event.event_id,
            action=action,
            at=ctx.received_at,
            actor=ctx.event.sender,
            detail=detail,
            **kwargs,
        )

    async def say(
        self,
        ctx: EventContext,
        ticket: TicketRecord,
        key: str,
        alert_to: Sequence[str] = (),
        **args: Any,
    ) -> str:
        """Speak in the ticket's thread, alerting `alert_to` (else quietly); a command typed
        elsewhere (the staff's own room) also hears where the answer went."""
        here = ctx.event.room_id == ticket.room_id
        body, html = self.services.catalogue.rich(ctx.locale, key, number=ticket.number, **args)
        where: dict[str, Any] = {
            "thread_root": ticket.source_event_id,
            "reply_to": ctx.event.event_id if here else ticket.reply_event_id,
            "html": html,
        }
        content = (
            messages.alert(body, to=alert_to, **where)
            if alert_to
            else messages.notice(body, **where)
        )
        sent = await ctx.send(ticket.room_id, content, purpose=f"thread:{key}")
        if not here:
            await ctx.reply("tickets.answered_in_thread", number=ticket.number)
        return sent

    async def _person(self, ticket: TicketRecord, user: str) -> messages.Person:
        return (await self.services.people(ticket.room_id, [user])).people[0]

    @staticmethod
    def _reporter(ticket: TicketRecord) -> list[str]:
        return [ticket.reporter] if ticket.reporter else []
