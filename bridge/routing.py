"""From one stored event to the bots that want it: parsed once, roles checked once, commands
found and their arguments typed once, and every failure a user caused answered in their words.

The router is called by the inbox worker (bridge/inbox_worker.py) for one event at a time per
room; it knows the bots only as `Bot` subclasses (bridge/bot.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bridge import metrics
from bridge.bot import Bot, EventContext, Services
from bridge.commands import (
    CommandCall,
    CommandError,
    CommandSpec,
    UsageError,
    allowed,
    find_command,
    parse_args,
    printable,
    split_command,
)
from bridge.events import (
    MalformedEvent,
    Membership,
    Message,
    OtherEvent,
    Reaction,
    Receipt,
    RoomEvent,
    parse_event,
    parse_receipts,
)
from bridge.matrix_errors import Forbidden, MatrixError

log = logging.getLogger(__name__)


class Router:
    def __init__(self, services: Services, bot_classes: Sequence[type[Bot]]) -> None:
        self.services = services
        self.bots = [cls(services) for cls in bot_classes]
        services.bots.extend(self.bots)
        self._owners: dict[int, Bot] = {}
        for bot in self.bots:
            for spec in type(bot).commands.specs:
                services.commands.append(spec)
                self._owners[id(spec)] = bot
        # The bots that handle each kind of event; no context is built for a kind none handles
        # (state changes and other bots' events are most of a busy room's traffic).
        self._handling = {
            hook: [b for b in self.bots if getattr(type(b), hook) is not getattr(Bot, hook)]
            for hook in ("on_message", "on_membership", "on_reaction", "on_event", "on_receipt")
        }

    @property
    def command_specs(self) -> list[CommandSpec]:
        return self.services.commands

    async def handle(
        self, raw: dict[str, Any], received_at: datetime | None = None, *, fresh: bool = False
    ) -> None:
        """Handle one event. `fresh`: no earlier attempt has seen it (see EventContext)."""
        when = received_at or self.services.clock.now()
        if raw.get("linli.ephemeral"):
            for receipt in parse_receipts(raw):
                await self._receipt(receipt, when, fresh)
            return
        try:
            event = parse_event(raw)
        except MalformedEvent as e:
            log.warning("ignoring malformed event %s: %s", raw.get("event_id"), e)
            return
        if self.services.config.is_linli_user(event.sender):
            return  # our own messages, and those of Linli's other bot users
        if isinstance(event, Message):
            if event.is_notice or event.is_edit:
                return  # other bots' notices; an edit does not run a command twice
            call = split_command(event.body)
            ctx = await self.context(event, when, fresh)
            if call is not None:
                await self._run_command(ctx, event, call)
                return
            for bot in self.bots:
                await bot.on_message(ctx, event)
        elif isinstance(event, Membership):
            if bots := self._handling["on_membership"]:
                ctx = await self.context(event, when, fresh)
                for bot in bots:
                    await bot.on_membership(ctx, event)
        elif isinstance(event, Reaction):
            if bots := self._handling["on_reaction"]:
                ctx = await self.context(event, when, fresh)
                for bot in bots:
                    await bot.on_reaction(ctx, event)
        elif isinstance(event, OtherEvent) and (bots := self._handling["on_event"]):
            ctx = await self.context(event, when, fresh)
            for bot in bots:
                await bot.on_event(ctx, event)

    async def _receipt(self, receipt: Receipt, received_at: datetime, fresh: bool) -> None:
        if self.services.config.is_linli_user(receipt.user_id):
            return
        event = RoomEvent(
            event_id=f"receipt:{receipt.room_id}:{receipt.user_id}:{receipt.event_id}",
            room_id=receipt.room_id,
            sender=receipt.user_id,
            type="m.receipt",
            origin_server_ts=receipt.ts,
        )
        if not (bots := self._handling["on_receipt"]):
            return
        ctx = await self.context(event, received_at, fresh)
        for bot in bots:
            await bot.on_receipt(ctx, receipt)

    async def context(self, event: RoomEvent, received_at: datetime, fresh: bool) -> EventContext:
        roles_service = self.services.roles
        compound, room_key = await roles_service.place(event.room_id)
        table = None
        roles: frozenset[Any] = frozenset()
        if compound is not None:
            table = await roles_service.table(compound)
            roles = table.roles_of(event.sender)
        return EventContext(
            self.services, event, compound, room_key, roles, table, received_at, fresh
        )

    async def _run_command(self, ctx: EventContext, message: Message, call: CommandCall) -> None:
        found = find_command(call, self.command_specs)
        if found is None:
            if call.name:
                await ctx.reply("error.unknown_command", name=printable(call.name))
            else:
                await ctx.reply("error.empty_command")
            return
        spec, words, rest = found
        try:
            await self._run_found(ctx, message, spec, words, rest)
        finally:
            if spec.private:
                await self._redact_private(ctx, message)

    async def _redact_private(self, ctx: EventContext, message: Message) -> None:
        try:
            await self.services.client.redact(
                message.room_id, message.event_id, ctx.text("privacy.redacted"), ctx.txn("redact")
            )
        except Forbidden:
            log.info("cannot redact %s in %s (no power there)", message.event_id, message.room_id)

    async def _run_found(
        self, ctx: EventContext, message: Message, spec: CommandSpec, words: list[str], rest: str
    ) -> None:
        bot = self._owners[id(spec)]
        if not allowed(spec, ctx.roles):
            assert spec.roles is not None
            metrics.observe_command(spec.name, "denied")
            await ctx.reply("error.not_allowed", roles=ctx.role_names(spec.roles))
            return
        try:
            args = parse_args(spec, words, rest, sorted(message.mentioned_users))
        except UsageError:
            metrics.observe_command(spec.name, "usage")
            await ctx.reply("error.usage", usage=ctx.text(f"{spec.key}.usage"))
            return
        try:
            await spec.handler(bot, ctx, **args)
        except CommandError as e:
            # A clear answer to a request that cannot be done (no such ticket, say).
            metrics.observe_command(spec.name, "refused")
            await ctx.reply(e.key, purpose=f"error:{e.key}", **e.args_)
        except (MatrixError, OSError, TimeoutError):
            metrics.observe_command(spec.name, "error")
            raise  # the homeserver or the network: the worker retries the event
        except Exception:
            # A bug: the user hears a short apology instead of nothing; the worker logs it and
            # keeps the event as failed for an operator to look at.
            metrics.observe_command(spec.name, "error")
            await ctx.reply("error.internal")
            raise
        else:
            metrics.observe_command(spec.name, "ok")
