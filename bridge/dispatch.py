"""From the inbox to the bots: typed events, commands parsed once, roles checked once.

`InboxWorker` drains the inbox in order; an entry is marked done only after its handlers
returned, so a crash before that means it runs again on the next start, and the derived
transaction IDs of its messages make the homeserver drop the repeats.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from bridge.clock import Clock
from bridge.commands import (
    CommandError,
    CommandSpec,
    CommandTable,
    UsageError,
    find_command,
    parse_args,
    split_command,
)
from bridge.config import BridgeConfig
from bridge.events import MalformedEvent, Membership, Message, Reaction, RoomEvent, parse_event
from bridge.i18n import Catalogue
from bridge.matrix import MatrixClient, MatrixError, derived_txn_id
from bridge.provision.desired import RoleTable, role_table
from bridge.provision.reconcile import Provisioner
from bridge.roles import Role
from bridge.rooms_config import Compound, RoomsConfig
from bridge.scheduler import Scheduler
from bridge.store import Store
from bridge.store.rooms import RoomRecord
from bridge.webhooks import Webhooks

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What a bot may use: the homeserver client, the store, config, clock and words."""

    config: BridgeConfig
    rooms: RoomsConfig
    store: Store
    client: MatrixClient
    clock: Clock
    catalogue: Catalogue
    scheduler: Scheduler
    webhooks: Webhooks
    provisioner: Provisioner


@dataclass
class EventContext:
    """One event as a bot sees it: where it happened, who sent it and with which roles."""

    services: Services
    event: RoomEvent
    compound: Compound | None
    room_key: str | None  # e.g. "neighbours", "building_3"; None outside Linli's rooms
    roles: frozenset[Role]
    role_table: RoleTable | None
    _sent: int = field(default=0)

    @property
    def locale(self) -> str:
        return self.compound.locale if self.compound else self.services.config.locale

    def text(self, key: str, **args: Any) -> str:
        return self.services.catalogue.text(self.locale, key, **args)

    def role_names(self, roles: frozenset[Role]) -> str:
        sep = self.text("roles.separator")
        return sep.join(self.text(f"roles.{r.value}") for r in sorted(roles))

    async def send_notice(
        self,
        room_id: str,
        body: str,
        *,
        thread_root: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Send an m.notice caused by this event; its txn ID is derived from the event, so
        processing the event again posts nothing new."""
        self._sent += 1
        content: dict[str, Any] = {"msgtype": "m.notice", "body": body, **(extra or {})}
        if thread_root is not None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread_root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": self.event.event_id},
            }
        txn = derived_txn_id(self.event.event_id, str(self._sent))
        return await self.services.client.send(room_id, content, txn)

    async def reply(self, key: str, **args: Any) -> str:
        """Answer in the room of the event (in its thread when it was in one)."""
        return await self.reply_text(self.text(key, **args))

    async def reply_text(self, body: str) -> str:
        thread = self.event.thread_root if isinstance(self.event, Message) else None
        return await self.send_notice(self.event.room_id, body, thread_root=thread)


class Bot:
    """A bot: domain rules only. Override the hooks it needs; declare commands in `commands`."""

    commands: ClassVar[CommandTable] = CommandTable()
    # This bot's keys in a compound's YAML file, e.g. {"tickets": TicketSettings}.
    config_sections: ClassVar[dict[str, type[BaseModel]]] = {}

    def __init__(self, services: Services, dispatcher: Dispatcher) -> None:
        self.services = services
        self.dispatcher = dispatcher

    async def on_start(self) -> None:
        """Called once the bridge is up (rooms applied): schedule recurring work here."""

    async def on_message(self, ctx: EventContext, message: Message) -> None:
        """A message that is not a command."""

    async def on_membership(self, ctx: EventContext, membership: Membership) -> None:
        pass

    async def on_reaction(self, ctx: EventContext, reaction: Reaction) -> None:
        pass


def config_sections(bots: Sequence[type[Bot]]) -> dict[str, type[BaseModel]]:
    sections: dict[str, type[BaseModel]] = {}
    for bot in bots:
        for name, model in bot.config_sections.items():
            if name in sections:
                raise ValueError(f"two bots claim the config section {name!r}")
            sections[name] = model
    return sections


class Dispatcher:
    def __init__(self, services: Services, bot_classes: Sequence[type[Bot]]) -> None:
        self.services = services
        self.bots = [cls(services, self) for cls in bot_classes]
        self._cached_at = (-1, -1)
        self._rooms_by_id: dict[str, RoomRecord] = {}
        self._tables: dict[str, RoleTable] = {}
        self._owners: list[tuple[CommandSpec, Bot]] = [
            (spec, bot) for bot in self.bots for spec in type(bot).commands.specs
        ]

    @property
    def effects(self) -> tuple[int, int]:
        """Database write transactions and homeserver writes so far: unchanged means no effect."""
        return self.services.store.db.writes, self.services.client.writes

    @property
    def command_specs(self) -> list[CommandSpec]:
        return [spec for spec, _ in self._owners]

    async def handle(self, raw: dict[str, Any]) -> None:
        try:
            event = parse_event(raw)
        except MalformedEvent as e:
            log.warning("ignoring malformed event %s: %s", raw.get("event_id"), e)
            return
        if self.services.config.is_linli_user(event.sender):
            return  # our own messages, and those of Linli's other bot users
        ctx = await self._context(event)
        if isinstance(event, Message):
            if event.is_notice or event.is_edit:
                return  # other bots' notices; an edit does not run a command twice
            call = split_command(event.body)
            if call is not None:
                await self._run_command(ctx, event, call)
                return
            for bot in self.bots:
                await bot.on_message(ctx, event)
        elif isinstance(event, Membership):
            for bot in self.bots:
                await bot.on_membership(ctx, event)
        elif isinstance(event, Reaction):
            for bot in self.bots:
                await bot.on_reaction(ctx, event)

    async def _fresh(self) -> None:
        # Rooms and roles change only through this process's store, which counts its writes to
        # them: the cached copies are exact (one process per database, as DESIGN.md says).
        generations = self.services.store.db.generations
        now_at = (generations["rooms"], generations["people"])
        if self._cached_at != now_at:
            rooms = await self.services.store.rooms.all()
            self._rooms_by_id = {r.room_id: r for r in rooms.values()}
            self._tables = {}
            self._cached_at = now_at

    async def _context(self, event: RoomEvent) -> EventContext:
        await self._fresh()
        record = self._rooms_by_id.get(event.room_id)
        compound = None
        room_key = None
        table = None
        roles: frozenset[Role] = frozenset()
        if record is not None and record.compound is not None:
            compound = self.services.rooms.compounds.get(record.compound)
            room_key = record.key.split(":", 1)[1] if ":" in record.key else None
        if compound is not None:
            table = await self.role_table(compound)
            roles = table.roles_of(event.sender)
        return EventContext(self.services, event, compound, room_key, roles, table)

    async def role_table(self, compound: Compound) -> RoleTable:
        await self._fresh()
        table = self._tables.get(compound.key)
        if table is None:
            table = self._tables[compound.key] = await self._load_role_table(compound)
        return table

    async def _load_role_table(self, compound: Compound) -> RoleTable:
        people = self.services.store.people
        residents = {r.user_id: r.building for r in await people.residents(compound.key)}
        return role_table(
            compound, self.services.rooms, residents, await people.grants(compound.key)
        )

    def allowed(self, spec: CommandSpec, roles: frozenset[Role]) -> bool:
        return spec.roles is None or bool(spec.roles & roles)

    async def _run_command(self, ctx: EventContext, message: Message, call: Any) -> None:
        found = find_command(call, self.command_specs)
        if found is None:
            await ctx.reply("error.unknown_command", name=call.name)
            return
        spec, words, rest = found
        bot = next(b for s, b in self._owners if s is spec)
        if not self.allowed(spec, ctx.roles):
            assert spec.roles is not None
            await ctx.reply("error.not_allowed", roles=ctx.role_names(spec.roles))
            return
        try:
            args = parse_args(spec, words, rest, sorted(message.mentioned_users))
        except UsageError:
            await ctx.reply("error.usage", usage=ctx.text(f"{spec.key}.usage"))
            return
        try:
            await spec.handler(bot, ctx, **args)
        except CommandError as e:
            await ctx.reply(e.key, **e.args_)


class InboxWorker:
    """Drains the inbox in order, one entry at a time; woken when a transaction is stored."""

    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        clock: Clock,
        *,
        max_attempts: int = 3,
        retry_delay: float = 1.0,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.clock = clock
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.wake = asyncio.Event()
        # One drainer at a time: the loop and an explicit drain() never handle an entry twice.
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        while True:
            self.wake.clear()
            if not await self.drain():
                await self.wake.wait()

    async def drain(self) -> int:
        """Process everything pending now; returns how many entries were handled."""
        handled = 0
        async with self._lock:
            while entries := await self.store.inbox.pending():
                # Entries whose handling changed nothing (chatter) are marked done together at
                # the end of the batch: repeating them after a crash is harmless. An entry that
                # sent a message or wrote to the database is marked done at once.
                quiet: list[int] = []
                for entry in entries:
                    before = self.dispatcher.effects
                    ok = await self._process(entry.seq, entry.event_id, entry.body, entry.attempts)
                    if not ok:
                        continue
                    if self.dispatcher.effects == before:
                        quiet.append(entry.seq)
                    else:
                        await self.store.inbox.mark_done([*quiet, entry.seq], self.clock.now())
                        quiet = []
                await self.store.inbox.mark_done(quiet, self.clock.now())
                handled += len(entries)
        return handled

    async def _process(self, seq: int, event_id: str, body: dict[str, Any], attempts: int) -> bool:
        try:
            if body.get("linli.ephemeral"):
                pass  # receipts and typing: stored for the notices bot, nothing to do yet
            else:
                await self.dispatcher.handle(body)
        except (MatrixError, OSError, TimeoutError) as e:
            # The homeserver or the network failed: retry this entry, later give up on it alone.
            give_up = attempts + 1 >= self.max_attempts
            log.warning("event %s failed (attempt %d): %s", event_id, attempts + 1, e)
            await self.store.inbox.mark_attempt_failed(seq, repr(e), give_up, self.clock.now())
            if not give_up:
                await asyncio.sleep(self.retry_delay * (attempts + 1))
            return False
        except Exception as e:
            # A bug in a handler: one bad event must not block the others. Kept as failed.
            log.exception("event %s failed in a handler", event_id)
            await self.store.inbox.mark_attempt_failed(seq, repr(e), True, self.clock.now())
            return False
        return True
