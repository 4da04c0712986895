"""Carry out a plan against the homeserver, recording each step in the database as it lands.

Each action is recorded right after it succeeds, so an apply cut short resumes where it stopped.
A room created just before a crash (alias taken, ID unrecorded) is adopted, not duplicated.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.clock import Clock
from bridge.matrix import MatrixClient
from bridge.matrix_errors import Forbidden, MatrixError, NotFound, RoomInUse
from bridge.provision.desired import RoomSpec
from bridge.provision.plan import (
    OPTIONAL_FACETS,
    STATE_FACETS,
    Action,
    Archive,
    CreateRoom,
    Invite,
    Remove,
    SetChild,
    SetFacet,
    facet_event,
)
from bridge.store.rooms import RoomStore

log = logging.getLogger(__name__)

# Room versions in which the creator is not "infinitely" powerful and must be in `users`.
_LEGACY_VERSIONS = {str(v) for v in range(1, 12)}


class RegistrationOutdated(Exception):
    """The homeserver has no registration of Linli, or one older than the config needs."""


@dataclass
class ApplyReport:
    done: list[str] = field(default_factory=list)


class Applier:
    def __init__(
        self,
        client: MatrixClient,
        rooms: RoomStore,
        clock: Clock,
        server_name: str,
        bot_user_id: str,
        removal_reason: Callable[[str], str],
        concurrency: int = 4,
    ) -> None:
        self.client = client
        self.rooms = rooms
        self.clock = clock
        self.server_name = server_name
        self.bot_user_id = bot_user_id
        self.removal_reason = removal_reason
        self._legacy_creator: bool | None = None
        self.concurrency = concurrency
        # One save of a room's record at a time, each of its latest state: two of a space's
        # children linked side by side must not commit in the other order (then the older
        # snapshot, without the other child, would win and the next apply link it again).
        self._saving: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def apply(self, actions: list[Action]) -> ApplyReport:
        report = ApplyReport()
        if not actions:
            return report
        records = await self.rooms.all()
        self._ids = {key: r.room_id for key, r in records.items()}
        self._state = {key: dict(r.state) for key, r in records.items()}
        self._compound = {key: r.compound for key, r in records.items()}
        creates = [a for a in actions if isinstance(a, CreateRoom)]
        rest = [a for a in actions if not isinstance(a, CreateRoom)]
        # Rooms are created in waves (a room once its parent space exists); everything else is
        # independent. Within a wave a few requests run at once: Synapse spends most of a
        # createRoom on its own work, and a second core can take another.
        while creates:
            wave = [a for a in creates if a.spec.parent is None or a.spec.parent in self._ids]
            if not wave:
                raise ValueError(f"no parent for {[a.spec.key for a in creates]}")
            await self._run_all(wave, report)
            creates = [a for a in creates if a not in wave]
        await self._run_all(rest, report)
        return report

    async def _run_all(self, actions: Sequence[Action], report: ApplyReport) -> None:
        limit = asyncio.Semaphore(self.concurrency)

        async def run(action: Action) -> None:
            async with limit:
                await self._do(action)
                report.done.append(action.describe())

        try:
            async with asyncio.TaskGroup() as group:
                for action in actions:
                    group.create_task(run(action))
        except* MatrixError as failed:
            # One error to the caller, the first: an ExceptionGroup of the same refusal many
            # times says nothing more (and hides what to do about it).
            first = failed.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            if isinstance(first, MatrixError) and first.errcode == "M_EXCLUSIVE":
                raise RegistrationOutdated(
                    "the homeserver refused an alias Linli's registration does not reserve "
                    "(a compound was added?): run `linli registration`, give the file to the "
                    "homeserver and restart it, then apply again"
                ) from None
            raise first from None

    async def _do(self, action: Action) -> None:
        if isinstance(action, CreateRoom):
            await self._create(action.spec)
        elif isinstance(action, SetFacet):
            room_id = self._ids[action.key]
            rendered = await self._render(action.facet, action.value)
            event_type, state_key = facet_event(action.facet)
            await self.client.put_state(room_id, event_type, rendered, state_key)
            self._state[action.key][action.facet] = action.value
            await self._save(action.key)
        elif isinstance(action, SetChild):
            parent_id, child_id = self._ids[action.parent], self._ids[action.child]
            content: dict[str, Any] = {}
            if action.content is not None:
                content = {"via": [self.server_name], **action.content}
            await self.client.put_state(parent_id, "m.space.child", content, child_id)
            children = dict(self._state[action.parent].get("children", {}))
            if action.content is None:
                children.pop(action.child, None)
            else:
                children[action.child] = action.content
            self._state[action.parent]["children"] = children
            await self._save(action.parent)
        elif isinstance(action, Invite):
            await self._invite(action.key, action.user_id)
        elif isinstance(action, Remove):
            await self._remove(self._ids[action.key], action.user_id, action.key)
            self._set_member(action.key, action.user_id, present=False)
            await self._save(action.key)
        elif isinstance(action, Archive):
            await self._archive(self._ids[action.key], action.topic)
            self._state[action.key]["topic"] = action.topic
            await self._save(action.key, archived=True)

    async def _remove(self, room_id: str, user_id: str, key: str) -> None:
        """Kick, unless they are gone already: the recorded membership can be older than the
        room (they left by themselves, or a run stopped after the kick and before its record);
        the homeserver then answers 403 "not in the room", and the removal is done."""
        try:
            await self.client.kick(room_id, user_id, self.removal_reason(key))
        except Forbidden:
            try:
                member = await self.client.get_state(room_id, "m.room.member", user_id)
            except NotFound:
                return  # never a member at all
            if member.get("membership") in ("join", "invite", "knock"):
                raise

    async def _archive(self, room_id: str, topic: str) -> None:
        """Out of reach for new members, history kept: invite-only, no alias, no space parent
        (its space already dropped it as a child), topic marked."""
        await self.client.put_state(room_id, "m.room.topic", {"topic": topic})
        await self.client.put_state(room_id, "m.room.join_rules", {"join_rule": "invite"})
        for event in await self.client.room_state(room_id):
            kind, content = event.get("type"), event.get("content") or {}
            if kind == "m.room.canonical_alias" and content:
                for alias in [content.get("alias"), *content.get("alt_aliases", [])]:
                    if isinstance(alias, str):
                        await self.client.delete_alias(alias)
                await self.client.put_state(room_id, "m.room.canonical_alias", {})
            elif kind == "m.space.parent" and content:
                await self.client.put_state(
                    room_id, "m.space.parent", {}, str(event.get("state_key", ""))
                )

    async def _invite(self, key: str, user_id: str) -> None:
        try:
            await self.client.invite(self._ids[key], user_id)
        except MatrixError as e:
            # Inviting someone already joined is refused, yet leaves them where we want them.
            already = e.status == 403 and "already in the room" in e.error
            if not already:
                if e.status not in (403, 404):
                    raise
                log.warning("could not invite a user to %s: %s", key, e.errcode)
                return
        self._set_member(key, user_id, present=True)
        await self._save(key)

    def _set_member(self, key: str, user_id: str, *, present: bool) -> None:
        members = set(self._state[key].get("members", []))
        if present:
            members.add(user_id)
        else:
            members.discard(user_id)
        self._state[key]["members"] = sorted(members)

    async def _create(self, spec: RoomSpec) -> None:
        state = spec.state
        initial_state = [
            {
                "type": "m.room.join_rules",
                "state_key": "",
                "content": await self._render("join_rules", state["join_rules"]),
            },
            {
                "type": "m.room.history_visibility",
                "state_key": "",
                "content": {"history_visibility": state["history_visibility"]},
            },
            {
                "type": "m.room.guest_access",
                "state_key": "",
                "content": {"guest_access": "forbidden"},
            },
        ]
        for facet in OPTIONAL_FACETS:
            if facet in state:
                event_type, state_key = facet_event(facet)
                initial_state.append(
                    {"type": event_type, "state_key": state_key, "content": state[facet]}
                )
        if spec.parent is not None:
            initial_state.append(
                {
                    "type": "m.space.parent",
                    "state_key": self._ids[spec.parent],
                    "content": {"via": [self.server_name], "canonical": True},
                }
            )
        power_levels = await self._render("power_levels", state["power_levels"])
        try:
            room_id = await self.client.create_room(
                name=state["name"],
                topic=state["topic"],
                alias_localpart=spec.alias,
                initial_state=initial_state,
                power_levels=power_levels,
                space=spec.space,
            )
        except RoomInUse:
            # The alias exists: a room created before a crash, or a database restored from an
            # older backup. Adopt it and send every facet again rather than make a twin.
            room_id = await self.client.resolve_alias(f"#{spec.alias}:{self.server_name}")
            log.warning("adopting existing room %s for %s", room_id, spec.key)
            await self.client.join(room_id)
            for facet in [*STATE_FACETS, *(f for f in OPTIONAL_FACETS if f in state)]:
                content = await self._render(facet, state[facet])
                event_type, state_key = facet_event(facet)
                await self.client.put_state(room_id, event_type, content, state_key)
        self._ids[spec.key] = room_id
        self._state[spec.key] = {k: v for k, v in state.items() if k not in ("children", "members")}
        self._compound[spec.key] = spec.compound
        await self._save(spec.key)
        # One invite at a time, recorded as each lands: a listed user without an account yet
        # must not block the room, and is invited by a later apply.
        for user in state["members"]:
            await self._invite(spec.key, user)

    async def _render(self, facet: str, value: Any) -> dict[str, Any]:
        """Symbolic state (rooms by key) to event content (rooms by ID)."""
        if facet == "join_rules":
            content = {"join_rule": value["join_rule"]}
            if "allow_spaces" in value:
                content["allow"] = [
                    {"type": "m.room_membership", "room_id": self._ids[k]}
                    for k in value["allow_spaces"]
                ]
            return content
        if facet == "power_levels":
            content = dict(value)
            if await self._creator_needs_listing():
                content["users"] = {**content["users"], self.bot_user_id: 100}
            return content
        if facet in ("name", "topic", "history_visibility"):
            return {facet: value}
        if facet in OPTIONAL_FACETS:
            return dict(value)  # no room IDs in it
        raise ValueError(f"unknown facet {facet}")

    async def _creator_needs_listing(self) -> bool:
        # Room version 12 (Synapse's default since 1.15x) forbids listing the creator; older
        # versions need it at 100 or Linli would lock itself out.
        if self._legacy_creator is None:
            caps = await self.client.request("GET", "/_matrix/client/v3/capabilities")
            default = str(
                caps.get("capabilities", {}).get("m.room_versions", {}).get("default", "12")
            )
            self._legacy_creator = default in _LEGACY_VERSIONS
        return self._legacy_creator

    async def _save(self, key: str, archived: bool = False) -> None:
        async with self._saving[key]:
            await self.rooms.save(
                key,
                self._ids[key],
                self._compound.get(key),
                copy.deepcopy(self._state[key]),
                self.clock.now(),
                archived,
            )
