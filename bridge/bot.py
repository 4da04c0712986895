"""The bot API: what a bot is (`Bot`), what it may use (`Services`), and one event as it sees
it (`EventContext`). Routing lives in `bridge/routing.py`, the inbox worker in
`bridge/inbox_worker.py`; a bot imports only this module, `bridge.commands` and `bridge.messages`
from the plumbing it needs to be written.

A bot is one folder under `bots/` (DESIGN.md): its commands and hooks in `bot.py`, its texts in
`texts/<locale>.yaml`, its tables and repository in `store.py`, its scheduled-job kinds in
`jobs.py`, its admin verbs in `cli.py`; it is registered once in `bots.ALL_BOTS`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from bridge import messages, naming
from bridge.clock import Clock
from bridge.commands import CommandSpec, CommandTable
from bridge.config import BridgeConfig, ConfigError, ConfigIssue
from bridge.events import Membership, Message, OtherEvent, Reaction, Receipt, RoomEvent
from bridge.i18n import Catalogue
from bridge.matrix import MatrixClient, derived_txn_id
from bridge.matrix_errors import NotFound
from bridge.provision.desired import RoleTable, role_table
from bridge.roles import Role
from bridge.rooms_config import Compound, RoomsConfig
from bridge.scheduler import JobKind, Scheduler
from bridge.store import Store
from bridge.store.rooms import RoomRecord
from bridge.webhooks import Webhooks

if TYPE_CHECKING:
    from bridge.provision.reconcile import Provisioner

log = logging.getLogger(__name__)


class Said(BaseModel):
    """A message to send once something is done (its transaction ID fixed in advance)."""

    room_id: str
    content: dict[str, Any]
    txn: str


class ProvisionRequest(BaseModel):
    """Apply the rooms config (the whole of it: an apply that finds nothing to change is
    cheap), then say what was asked: a confirmation is sent once it is true."""

    then: list[Said] = []


PROVISION = JobKind("provision.apply", ProvisionRequest)


class Roles:
    """Who holds which role in a compound, and which compound and room key a room is: the one
    place the role table is read (for handlers and scheduled jobs alike), cached until the
    rooms or people it comes from change."""

    def __init__(self, store: Store, rooms: RoomsConfig) -> None:
        self.store = store
        self.rooms = rooms
        self._cached_at = (-1, -1)
        self._rooms_by_id: dict[str, RoomRecord] = {}
        self._tables: dict[str, RoleTable] = {}
        self._loading: dict[tuple[str, tuple[int, int]], asyncio.Future[RoleTable]] = {}

    def reload(self, rooms: RoomsConfig) -> None:
        """A new rooms config: every cached table is dropped."""
        self.rooms = rooms
        self._cached_at = (-1, -1)
        self._tables = {}

    async def _fresh(self) -> None:
        # Rooms and roles change only through this process's store, which bumps a generation
        # after each commit that touches them: the cached copies are exact (one process per
        # database, as DESIGN.md says).
        generations = self.store.db.generations
        now_at = (generations["rooms"], generations["people"])
        if self._cached_at != now_at:
            rooms = await self.store.rooms.all()
            self._rooms_by_id = {r.room_id: r for r in rooms.values()}
            self._tables = {}
            self._cached_at = now_at

    async def place(self, room_id: str) -> tuple[Compound | None, str | None]:
        """The compound a room belongs to and its key there ("neighbours", "building_3")."""
        await self._fresh()
        record = self._rooms_by_id.get(room_id)
        if record is None or record.compound is None:
            return None, None
        compound = self.rooms.compounds.get(record.compound)
        room_key = record.key.split(":", 1)[1] if ":" in record.key else None
        return compound, room_key

    async def table(self, compound: Compound) -> RoleTable:
        await self._fresh()
        table = self._tables.get(compound.key)
        if table is not None:
            return table
        # Lanes ask at once after a change: one read per compound and generation serves all.
        key = (compound.key, self._cached_at)
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(compound))
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(loading)

    async def _load(self, compound: Compound) -> RoleTable:
        generation = self._cached_at
        people = self.store.people
        residents = {r.user_id: r.building for r in await people.residents(compound.key)}
        table = role_table(compound, self.rooms, residents, await people.grants(compound.key))
        if generation == self._cached_at:  # not changed while it was read
            self._tables[compound.key] = table
        return table


@dataclass
class Services:
    """What a bot may use: the homeserver client, the store, config, clock, words, the
    scheduler, webhooks, provisioning and the role table."""

    config: BridgeConfig
    rooms: RoomsConfig
    store: Store
    client: MatrixClient
    clock: Clock
    catalogue: Catalogue
    scheduler: Scheduler
    webhooks: Webhooks
    provisioner: Provisioner
    roles: Roles
    # Every bot's commands, in registration order (for `!help`), and the bots themselves
    # (for a person's data, which each bot exports and erases); filled by the router.
    commands: list[CommandSpec] = field(default_factory=list)
    bots: list[Bot] = field(default_factory=list)

    async def _just_us(self, room_id: str, user: str) -> bool:
        compound, _ = await self.roles.place(room_id)
        if compound is not None:
            return False  # one of a compound's rooms, never a private one
        members = await self.client.joined_members(room_id)
        return members == {user, self.config.bot_user_id}

    async def reconcile_soon(self, cause: str, then: Sequence[Said] = ()) -> None:
        """Bring the rooms in line with the role table (invites, removals, power levels) as a
        scheduled job: durable, off the event's lane, and once per `cause`; then send `then`
        (a confirmation that the change is in place)."""
        await self.scheduler.schedule_kind(
            f"provision:{cause}", PROVISION, self.clock.now(), ProvisionRequest(then=list(then))
        )

    def text(self, compound: Compound | None, key: str, **args: Any) -> str:
        locale = compound.locale if compound else self.config.locale
        return self.catalogue.text(locale, key, **args)

    async def people(
        self, room_id: str | None, user_ids: Iterable[str], compound: Compound | None = None
    ) -> messages.People:
        """People as readers of `room_id` see them (bridge/naming.py), to name with pills."""
        sep = self.text(compound, "roles.separator")
        return await naming.people(self.client, room_id, user_ids, sep)

    async def direct_room(self, user: str, here: str | None = None) -> str:
        """The direct-message room with this person, made once and reused; they are invited
        back if they left it. (Shared by every bot that writes to a person privately.)
        `here`: the room a command came from; when Linli has no record (erased on request) and
        it is a room of just the two of them, it becomes the direct room again rather than a
        second one being opened."""
        people, client = self.store.people, self.client
        room = await people.direct_room(user)
        if room is None and here is not None and await self._just_us(here, user):
            await people.set_direct_room(user, here, self.clock.now())
            return here
        if room is None:
            room = await client.create_direct_room(user)
            await people.set_direct_room(user, room, self.clock.now())
            return room
        try:
            member = await client.get_state(room, "m.room.member", user)
        except NotFound:
            member = {}
        if member.get("membership") not in ("join", "invite"):
            await client.invite(room, user)
        return room


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
    # First sight of the event: no earlier attempt (in this process or a crashed one) did
    # anything for it, so a handler may skip looking for work it did on it before.
    fresh: bool = False

    @property
    def locale(self) -> str:
        return self.compound.locale if self.compound else self.services.config.locale

    def text(self, key: str, **args: Any) -> str:
        return self.services.catalogue.text(self.locale, key, **args)

    def role_names(self, roles: frozenset[Role]) -> str:
        sep = self.text("roles.separator")
        return sep.join(self.text(f"roles.{r.value}") for r in sorted(roles))

    def txn(self, purpose: str) -> str:
        """The transaction ID of a message this event causes, fixed by its purpose: handling
        the event again (after a crash or a resend) posts nothing new."""
        return derived_txn_id(self.event.event_id, purpose)

    async def send(
        self,
        room_id: str,
        content: dict[str, Any],
        purpose: str,
        event_type: str = "m.room.message",
    ) -> str:
        return await self.services.client.send(
            room_id, content, self.txn(purpose), event_type=event_type
        )

    async def send_notice(
        self, room_id: str, body: str, *, purpose: str, thread_root: str | None = None
    ) -> str:
        """A quiet m.notice caused by this event (in a thread when `thread_root` is given, as a
        reply to this event there)."""
        reply_to = self._reply_to(thread_root)
        content = messages.notice(body, thread_root=thread_root, reply_to=reply_to)
        return await self.send(room_id, content, purpose)

    async def send_alert(
        self,
        room_id: str,
        body: str,
        *,
        to: Sequence[str],
        purpose: str,
        thread_root: str | None = None,
        html: str | None = None,
    ) -> str:
        """A message caused by this event that notifies the users `to` (bridge/messages.py
        says which messages do)."""
        reply_to = self._reply_to(thread_root)
        content = messages.alert(body, to=to, html=html, thread_root=thread_root, reply_to=reply_to)
        return await self.send(room_id, content, purpose)

    def _reply_to(self, thread_root: str | None) -> str | None:
        return self.event.event_id if thread_root is not None else None

    async def reply(self, key: str, *, purpose: str | None = None, **args: Any) -> str:
        """Answer in the room of the event (in its thread when it was in one), quietly."""
        return await self.reply_text(self.text(key, **args), purpose=purpose or f"reply:{key}")

    def reply_said(self, key: str, **args: Any) -> Said:
        """The reply `reply(key, ...)` would send, to send later (see reconcile_soon)."""
        thread = self.event.thread_root if isinstance(self.event, Message) else None
        reply_to = self._reply_to(thread)
        content = messages.notice(self.text(key, **args), thread_root=thread, reply_to=reply_to)
        return Said(room_id=self.event.room_id, content=content, txn=self.txn(f"reply:{key}"))

    def said(
        self,
        room_id: str,
        body: str,
        *,
        purpose: str,
        to: Sequence[str] = (),
        html: str | None = None,
    ) -> Said:
        """A message to send later: an alert to `to` when anyone is named, else quiet."""
        content = messages.alert(body, to=to, html=html) if to else messages.notice(body, html=html)
        return Said(room_id=room_id, content=content, txn=self.txn(purpose))

    async def reply_text(self, body: str, *, purpose: str, thread_root: str | None = None) -> str:
        """A quiet answer in the event's room: in its thread (or the thread given)."""
        thread = self.event.thread_root if isinstance(self.event, Message) else None
        return await self.send_notice(
            self.event.room_id, body, thread_root=thread_root or thread, purpose=purpose
        )


class Bot:
    """A bot: domain rules only. Override the hooks it needs; declare commands in `commands`.

    Hooks run in a room's lane: events of one room reach them in order, one at a time; events
    of other rooms may run meanwhile. Each must be safe to run twice for one event (change
    state through a store method keyed by the event, then send with `ctx.send(..., purpose)`).
    """

    commands: ClassVar[CommandTable] = CommandTable()
    # This bot's keys in a compound's YAML file, e.g. {"tickets": TicketSettings}.
    config_sections: ClassVar[dict[str, type[BaseModel]]] = {}
    # Its texts: <folder>/<locale>.yaml (None: it has none of its own).
    texts: ClassVar[Path | None] = None

    def __init__(self, services: Services) -> None:
        self.services = services

    @classmethod
    def check_config(cls, config: BridgeConfig, rooms: RoomsConfig) -> list[ConfigIssue]:
        """What in the configuration taken together this bot cannot work with (a setting
        naming something that does not exist): refused at plan, apply and run."""
        return []

    async def on_start(self) -> None:
        """Called once the bridge is up (rooms applied): schedule recurring work here."""

    async def on_ephemeral_lost(self) -> None:
        """Linli answered a transaction with an error (its store failed, or the body was
        refused) and has stored one since: the homeserver resends the room events of a failed
        transaction but not its ephemeral ones (read receipts), so read back what they said."""

    async def on_message(self, ctx: EventContext, message: Message) -> None:
        """A message that is not a command."""

    async def on_membership(self, ctx: EventContext, membership: Membership) -> None:
        pass

    async def on_reaction(self, ctx: EventContext, reaction: Reaction) -> None:
        pass

    async def on_event(self, ctx: EventContext, event: OtherEvent) -> None:
        """Any other room event (a poll response, a redaction, a state change): its type and
        content as sent; parse what the bot needs once, in its own rules."""

    async def on_receipt(self, ctx: EventContext, receipt: Receipt) -> None:
        """A read receipt (`ctx.event` is a synthetic event of type m.receipt)."""

    async def refresh_metrics(self) -> None:
        """Set this bot's gauges in bridge/metrics.py from its tables: called on each scrape
        of /metrics, so it should be one cheap query."""

    async def seed_demo(self, passwords: Mapping[str, str]) -> None:
        """`make demo` only: show this bot at work (the demo accounts' user IDs and passwords
        given, to act as a resident would). Must change nothing when run again."""

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        """What this bot keeps about a person, for `!me export` (keys name its records)."""
        return {}

    async def erase_personal(self, user_id: str, compound: str | None) -> None:
        """Forget a person (in one compound, or everywhere when `compound` is None)."""


def config_sections(bots: Sequence[type[Bot]]) -> dict[str, type[BaseModel]]:
    sections: dict[str, type[BaseModel]] = {}
    for bot in bots:
        for name, model in bot.config_sections.items():
            if name in sections:
                raise ValueError(f"two bots claim the config section {name!r}")
            sections[name] = model
    return sections


def check_config(bots: Sequence[type[Bot]], config: BridgeConfig, rooms: RoomsConfig) -> None:
    """Every bot's check of the whole configuration; ConfigError with all issues found."""
    issues = [issue for bot in bots for issue in bot.check_config(config, rooms)]
    if issues:
        raise ConfigError(issues)


def text_folders(bots: Sequence[type[Bot]]) -> list[Path]:
    return [bot.texts for bot in bots if bot.texts is not None]
