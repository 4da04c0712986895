"""The difference between the rooms the config asks for and the state Linli last applied.

Pure: desired specs and recorded state in, a list of actions out. An unchanged config plans
nothing, so a second `apply` sends no write request at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.dashboard.widget import LAYOUT_TYPE, WIDGET_ID, WIDGET_TYPE
from bridge.provision.desired import RoomSpec
from bridge.store.rooms import RoomRecord

ARCHIVED_MARK = "[已归档 archived] "
# Facets sent as one state event each; "members" and "children" are diffed item by item.
STATE_FACETS = {
    "name": "m.room.name",
    "topic": "m.room.topic",
    "join_rules": "m.room.join_rules",
    "history_visibility": "m.room.history_visibility",
    "power_levels": "m.room.power_levels",
}
# Facets only some rooms have (the back office's widget in staff rooms): event type, state key.
OPTIONAL_FACETS = {
    "widget": (WIDGET_TYPE, WIDGET_ID),
    "widget_layout": (LAYOUT_TYPE, ""),
}


def facet_event(facet: str) -> tuple[str, str]:
    """The state event (type, state key) a facet is sent as."""
    return OPTIONAL_FACETS.get(facet) or (STATE_FACETS[facet], "")


@dataclass(frozen=True)
class CreateRoom:
    spec: RoomSpec

    def describe(self) -> str:
        kind = "space" if self.spec.space else "room"
        return f"+ create {kind} {self.spec.key} ({self.spec.name}) #{self.spec.alias}"


@dataclass(frozen=True)
class SetFacet:
    key: str
    facet: str
    value: Any
    old: Any

    def describe(self) -> str:
        if self.facet == "power_levels":
            return f"~ {self.key}: power levels ({_pl_change(self.old, self.value)})"
        if self.facet in OPTIONAL_FACETS:
            return f"~ {self.key}: {self.facet} {'set' if self.old is None else 'changed'}"
        return f"~ {self.key}: {self.facet} {self.old!r} → {self.value!r}"


@dataclass(frozen=True)
class SetChild:
    parent: str
    child: str
    content: dict[str, Any] | None  # None removes the child

    def describe(self) -> str:
        verb = "remove" if self.content is None else "link"
        return f"~ {self.parent}: {verb} child {self.child}"


@dataclass(frozen=True)
class Invite:
    key: str
    user_id: str

    def describe(self) -> str:
        return f"+ invite {self.user_id} to {self.key}"


@dataclass(frozen=True)
class Remove:
    key: str
    user_id: str

    def describe(self) -> str:
        return f"- remove {self.user_id} from {self.key}"


@dataclass(frozen=True)
class Archive:
    key: str
    topic: str

    def describe(self) -> str:
        return (
            f"- archive {self.key} (out of its space, invite-only, alias removed, topic marked;"
            " history kept, not deleted)"
        )


Action = CreateRoom | SetFacet | SetChild | Invite | Remove | Archive


def plan(desired: list[RoomSpec], recorded: Mapping[str, RoomRecord]) -> list[Action]:
    actions: list[Action] = []
    wanted = {spec.key for spec in desired}
    for spec in desired:
        record = recorded.get(spec.key)
        if record is None:
            actions.append(CreateRoom(spec))
            after: dict[str, Any] = {}
            old_children: Mapping[str, Any] = {}
        else:
            after = record.state
            old_children = after.get("children", {})
            for facet in [*STATE_FACETS, *(f for f in OPTIONAL_FACETS if f in spec.state)]:
                if after.get(facet) != spec.state[facet]:
                    actions.append(SetFacet(spec.key, facet, spec.state[facet], after.get(facet)))
            old_members = set(after.get("members", []))
            new_members = set(spec.state["members"])
            actions += [Invite(spec.key, u) for u in sorted(new_members - old_members)]
            actions += [Remove(spec.key, u) for u in sorted(old_members - new_members)]
        new_children = spec.state.get("children", {})
        for child, content in new_children.items():
            if old_children.get(child) != content:
                actions.append(SetChild(spec.key, child, content))
        for child in old_children:
            if child not in new_children:
                actions.append(SetChild(spec.key, child, None))
    for key, record in sorted(recorded.items()):
        if key not in wanted and not record.archived:
            topic = str(record.state.get("topic", ""))
            actions.append(Archive(key, ARCHIVED_MARK + topic.removeprefix(ARCHIVED_MARK)))
    # Every room exists before a space links to it (a stable sort keeps parents first).
    return sorted(actions, key=lambda a: not isinstance(a, CreateRoom))


def _pl_change(old: Any, new: Any) -> str:
    old, new = dict(old or {}), dict(new or {})
    old_users = dict(old.get("users") or {})
    new_users = dict(new.get("users") or {})
    parts = [
        f"{u} {old_users.get(u, 'default')}→{new_users.get(u, 'default')}"
        for u in sorted(set(old_users) | set(new_users))
        if old_users.get(u) != new_users.get(u)
    ]
    for key in sorted((set(old) | set(new)) - {"users"}):
        if old.get(key) != new.get(key):
            before, after = old.get(key), new.get(key)
            if isinstance(before, dict) or isinstance(after, dict):
                parts.append(key)  # "events": a level per event type, too long for a line
            else:
                parts.append(f"{key} {before}→{after}")
    return ", ".join(parts) or "room defaults"
