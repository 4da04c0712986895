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
from datetime import datetime
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
from bridge.matrix import Forbidden, MatrixClient, MatrixError, derived_txn_id
from bridge.provision.desired import RoleTable, role_table
from bridge.provision.reconcile import Provisioner
from bridge.roles import Role
from bridge.rooms_config import Compound, RoomsConfig
from bridge.scheduler import Scheduler
from bridge.store import Store
from bridge.store.inbox import Arrival, InboxEntry, written
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
    # When Linli stored the event: the same on every attempt, so work redone after a crash
    # computes the same deadlines as the first attempt did.
    received_at: datetime
    # First sight of the event: no earlier attempt did anything for it.
    fresh: bool = False
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

    async def handle(
        self, raw: dict[str, Any], received_at: datetime | None = None, *, fresh: bool = False
    ) -> None:
        """Handle one event. `fresh`: it came in a transaction never stored before, so no
        handler has seen it (a handler may then skip looking for work it did on it before)."""
        try:
            event = parse_event(raw)
        except MalformedEvent as e:
            log.warning("ignoring malformed event %s: %s", raw.get("event_id"), e)
            return
        if self.services.config.is_linli_user(event.sender):
            return  # our own messages, and those of Linli's other bot users
        ctx = await self._context(event, received_at or self.services.clock.now(), fresh)
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

    async def _context(
        self, event: RoomEvent, received_at: datetime, fresh: bool = False
    ) -> EventContext:
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
        return EventContext(
            self.services, event, compound, room_key, roles, table, received_at, fresh
        )

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
        try:
            await self._run_found(ctx, message, spec, words, rest)
        finally:
            if spec.private:
                await self._redact_private(ctx, message)

    async def _redact_private(self, ctx: EventContext, message: Message) -> None:
        try:
            await self.services.client.redact(
                message.room_id,
                message.event_id,
                ctx.text("privacy.redacted"),
                derived_txn_id(message.event_id, "redact"),
            )
        except Forbidden:
            log.info("cannot redact %s in %s (no power there)", message.event_id, message.room_id)

    async def _run_found(
        self, ctx: EventContext, message: Message, spec: CommandSpec, words: list[str], rest: str
    ) -> None:
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
    """Handles the inbox's events in order, one at a time.

    New transactions reach it as `Arrival`s, handled while the appservice is still writing them
    (see bridge/appservice.py); the database is read when it may hold entries memory does not:
    at start, and after an entry failed and waits for its retry. An entry is marked done only
    after its handlers returned (and its write committed), so a crash before that means it is
    handled again on the next start, and its messages' derived transaction IDs make the
    homeserver drop the repeats."""

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
        self._arrivals: list[Arrival] = []
        # False while the database may hold pending entries that are not in `_arrivals`.
        self._in_memory = False
        self._last_seq = 0  # the highest seq handled from a database read
        self.running = False

    def offer(self, arrival: Arrival) -> None:
        if not self.running:
            arrival.handled.set()  # handled when someone calls drain(): nobody should wait
        self._arrivals.append(arrival)
        self.wake.set()

    async def run(self) -> None:
        self.running = True
        while True:
            self.wake.clear()
            if not await self.drain():
                await self.wake.wait()

    async def drain(self) -> int:
        """Handle everything pending now; returns how many events were handled."""
        handled = 0
        async with self._lock:
            while True:
                if not self._in_memory:
                    entries = await self.store.inbox.pending()
                    if entries:
                        handled += await self._handle_stored(entries)
                        continue
                    self._in_memory = True
                    await self._settle_arrivals()
                if not self._arrivals:
                    break
                arrival = self._arrivals.pop(0)
                try:
                    handled += await self._handle_arrival(arrival)
                finally:
                    arrival.handled.set()
        return handled

    async def _settle_arrivals(self) -> None:
        """On leaving the database: arrivals committed before the last read were handled from
        it; the rest (committed later, in order) are still to be handled."""
        arrivals, self._arrivals = self._arrivals, []
        settled: list[Arrival] = []
        for arrival in arrivals:
            try:
                entries = await asyncio.shield(arrival.stored)
            except Exception:
                entries = None  # not stored: the homeserver sends it again
            fresh = [e for e in entries or [] if e.seq > self._last_seq]
            if not fresh:
                arrival.handled.set()
                continue
            events = [e.body for e in fresh]
            settled.append(Arrival(events, arrival.received_at, written(fresh), arrival.handled))
        # Arrivals offered while this waited on the writes are newer: they go after.
        self._arrivals = settled + self._arrivals

    async def _handle_stored(self, entries: list[InboxEntry]) -> int:
        marks = _Marks(self.store, self.clock)
        for entry in entries:
            self._last_seq = max(self._last_seq, entry.seq)
            before = self.dispatcher.effects
            if not await self._process(entry, fresh=False):
                self._in_memory = False
                continue
            await marks.add(entry.seq, changed=self.dispatcher.effects != before)
        await marks.flush()
        return len(entries)

    async def _handle_arrival(self, arrival: Arrival) -> int:
        marks = _Marks(self.store, self.clock)
        seqs: dict[str, int] | None = None
        for index, body in enumerate(arrival.events):
            before = self.dispatcher.effects
            failure = await self._dispatch(body, arrival.received_at, fresh=True)
            if seqs is None:
                try:
                    stored = await asyncio.shield(arrival.stored)
                except Exception:
                    return index + 1  # not stored: the homeserver sends it all again
                seqs = {e.event_id: e.seq for e in stored or []}
            seq = seqs.get(body["event_id"])
            if seq is None:
                continue  # stored by an earlier transaction, which handles it
            if failure is not None:
                await self._failed(
                    InboxEntry(seq, body["event_id"], body, 0, arrival.received_at), failure
                )
                # It waits for its retry in the database, and so does the rest of this arrival.
                self._in_memory = False
                await marks.flush()
                return index + 1
            await marks.add(seq, changed=self.dispatcher.effects != before)
        await marks.flush()
        return len(arrival.events)

    async def _process(self, entry: InboxEntry, *, fresh: bool) -> bool:
        failure = await self._dispatch(entry.body, entry.received_at, fresh=fresh)
        if failure is None:
            return True
        await self._failed(entry, failure)
        return False

    async def _dispatch(
        self, body: dict[str, Any], received_at: datetime, *, fresh: bool
    ) -> Exception | None:
        """Handle one event; the exception that stopped its handlers, if one did."""
        try:
            if not body.get("linli.ephemeral"):  # receipts and typing: for the notices bot
                await self.dispatcher.handle(body, received_at, fresh=fresh)
        except Exception as e:
            return e
        return None

    async def _failed(self, entry: InboxEntry, error: Exception) -> None:
        if isinstance(error, (MatrixError, OSError, TimeoutError)):
            # The homeserver or the network failed: retry this entry, later give up on it alone.
            give_up = entry.attempts + 1 >= self.max_attempts
            log.warning(
                "event %s failed (attempt %d): %s", entry.event_id, entry.attempts + 1, error
            )
            await self.store.inbox.mark_attempt_failed(
                entry.seq, repr(error), give_up, self.clock.now()
            )
            if not give_up:
                await asyncio.sleep(self.retry_delay * (entry.attempts + 1))
            return
        # A bug in a handler: one bad event must not block the others. Kept as failed.
        log.error("event %s failed in a handler", entry.event_id, exc_info=error)
        await self.store.inbox.mark_attempt_failed(entry.seq, repr(error), True, self.clock.now())


class _Marks:
    """Marks handled entries done. Entries whose handling changed nothing (chatter) are marked
    together at the end: repeating them after a crash is harmless. An entry that sent a message
    or wrote to the database is marked at once, with the quiet ones before it."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store, self.clock = store, clock
        self.quiet: list[int] = []

    async def add(self, seq: int, *, changed: bool) -> None:
        self.quiet.append(seq)
        if changed:
            await self.flush()

    async def flush(self) -> None:
        if self.quiet:
            await self.store.inbox.mark_done(self.quiet, self.clock.now())
            self.quiet = []
