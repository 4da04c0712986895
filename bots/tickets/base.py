"""What the tickets bot's parts share: its command table and settings, finding a ticket,
speaking in its thread, and recording the first response."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from bots.tickets.openings import Openings
from bots.tickets.settings import TicketSettings
from bots.tickets.ticket_clock import TicketClock
from bridge.commands import CommandError, CommandTable
from bridge.dispatch import Bot, Dispatcher, EventContext, Services
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES
from bridge.rooms_config import Compound
from bridge.store.tickets import TicketRecord

TICKET_COMMANDS = CommandTable()
TICKET_STAFF = PROPERTY_ROLES | COMMITTEE_ROLES
RATING_KEYS = {"1️⃣": 1, "2️⃣": 2, "3️⃣": 3, "4️⃣": 4, "5️⃣": 5}
CONFIRM_KEYS = {"✅", "✔️", "👍"}


def settings_of(compound: Compound) -> TicketSettings:
    return compound.section("tickets", TicketSettings)


class TicketBase(Bot):
    commands: ClassVar[CommandTable] = TICKET_COMMANDS
    config_sections: ClassVar[dict[str, type[BaseModel]]] = {"tickets": TicketSettings}

    def __init__(self, services: Services, dispatcher: Dispatcher) -> None:
        super().__init__(services, dispatcher)
        self.clock = TicketClock(services, dispatcher)
        self.openings = Openings(services.store.tickets)

    async def on_start(self) -> None:
        await self.clock.schedule_weekly_reports()

    async def _ticket(self, ctx: EventContext, number: int) -> TicketRecord:
        if ctx.compound is None:
            raise CommandError("error.not_in_compound")
        ticket = await self.services.store.tickets.get(ctx.compound.key, number)
        if ticket is None:
            raise CommandError("tickets.not_found", number=number)
        return ticket

    async def _open_ticket(self, ctx: EventContext, number: int) -> TicketRecord:
        ticket = await self._ticket(ctx, number)
        if not ticket.is_open:
            raise CommandError("tickets.not_open", number=number)
        return ticket

    async def _say_in_thread(
        self,
        ctx: EventContext,
        ticket: TicketRecord,
        key: str,
        mentions: list[str] | None = None,
        **args: Any,
    ) -> str:
        extra = {"m.mentions": {"user_ids": mentions}} if mentions else None
        sent = await ctx.send_notice(
            ticket.room_id,
            ctx.text(key, number=ticket.number, **args),
            thread_root=ticket.source_event_id,
            extra=extra,
        )
        if ctx.event.room_id != ticket.room_id:
            # A command typed elsewhere (the staff's own room): say where the answer went.
            await ctx.reply("tickets.answered_in_thread", number=ticket.number)
        return sent

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
