"""The rooms the config asks for, with their state in symbolic form (rooms named by key, not ID).

Pure: config and the role table in, `RoomSpec`s out. Power levels come from the same role table
the bots check permissions against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.config import BridgeConfig
from bridge.dashboard.widget import is_staff_room, layout_content, widget_content
from bridge.roles import STAFF_ROLES, Role
from bridge.rooms_config import Compound, RoomDef, RoomsConfig

STAFF_LEVEL = 50
POSTER_LEVEL = 10
OBSERVER_LEVEL = -1
# Only Linli (the rooms' creator) changes these: membership and structure follow the role table.
LINLI_ONLY = 100


@dataclass(frozen=True)
class RoleTable:
    """Who holds which role in one compound: staff from YAML, residents and grants from the DB."""

    staff: Mapping[str, frozenset[Role]]
    # Verified residents and the building of their household.
    residents: Mapping[str, str]
    grants: Mapping[str, frozenset[Role]] = field(default_factory=dict)
    observers: frozenset[str] = frozenset()

    def roles_of(self, user_id: str) -> frozenset[Role]:
        roles = set(self.staff.get(user_id, frozenset()))
        if user_id in self.residents:
            roles.add(Role.RESIDENT)
            roles |= self.grants.get(user_id, frozenset())
        if user_id in self.observers:
            roles.add(Role.OBSERVER)
        return frozenset(roles)

    def everyone(self) -> set[str]:
        return set(self.staff) | set(self.residents) | set(self.observers)


@dataclass(frozen=True)
class RoomSpec:
    key: str
    compound: str | None
    parent: str | None
    space: bool
    alias: str | None
    state: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.state["name"])


def community_key(key: str) -> str:
    return f"community:{key}"


def compound_key(key: str) -> str:
    return f"compound:{key}"


def room_key(compound: str, room: str) -> str:
    return f"{compound}:{room}"


def role_table(
    compound: Compound,
    rooms: RoomsConfig,
    residents: Mapping[str, str],
    grants: Mapping[str, frozenset[Role]],
) -> RoleTable:
    staff: dict[str, set[Role]] = {}
    observers = set(rooms.communities[compound.config.community].observers)
    for role, users in compound.config.staff.items():
        for user in users:
            if role is Role.OBSERVER:
                observers.add(user)
            else:
                staff.setdefault(user, set()).add(role)
    return RoleTable(
        staff={u: frozenset(r) for u, r in staff.items()},
        residents=dict(residents),
        grants=dict(grants),
        observers=frozenset(observers),
    )


def desired_rooms(
    config: BridgeConfig, rooms: RoomsConfig, tables: Mapping[str, RoleTable]
) -> list[RoomSpec]:
    """Every space and room, parents before children."""
    specs: list[RoomSpec] = []
    prefix = config.alias_prefix
    by_community: dict[str, list[Compound]] = {}
    for compound in rooms.compounds.values():
        by_community.setdefault(compound.config.community, []).append(compound)
    ordered = sorted(rooms.communities.values(), key=lambda c: (c.parent is not None, c.key))
    for community in ordered:
        children = [c.key for c in rooms.communities.values() if c.parent == community.key]
        child_keys = [community_key(k) for k in sorted(children)] + [
            compound_key(c.key)
            for c in sorted(by_community.get(community.key, []), key=lambda c: c.key)
        ]
        specs.append(
            RoomSpec(
                key=community_key(community.key),
                compound=None,
                parent=community_key(community.parent) if community.parent else None,
                space=True,
                alias=f"{prefix}{community.key}",
                state={
                    "name": _pick(config.locale, community.name, community.name_en),
                    "topic": _pick(config.locale, community.topic, community.topic_en),
                    # Anyone on the server may browse the community and find their compound.
                    "join_rules": {"join_rule": "public"},
                    "history_visibility": "world_readable",
                    "power_levels": _space_power_levels(),
                    "members": [],
                    # Ordered by key (communities first), not by position: adding a compound
                    # must not re-link the unchanged ones around it.
                    "children": {
                        k: {"order": _key_order(k), "suggested": False} for k in child_keys
                    },
                },
            )
        )
    for community in ordered:
        for compound in sorted(by_community.get(community.key, []), key=lambda c: c.key):
            specs.extend(_compound_rooms(config, compound, tables[compound.key]))
    return specs


def _compound_rooms(config: BridgeConfig, compound: Compound, table: RoleTable) -> list[RoomSpec]:
    prefix = config.alias_prefix
    locale = compound.locale
    c = compound.config
    space_key = compound_key(c.key)
    specs = [
        RoomSpec(
            key=space_key,
            compound=c.key,
            parent=community_key(c.community),
            space=True,
            alias=f"{prefix}{c.key}",
            state={
                "name": _pick(locale, c.name, c.name_en),
                "topic": _pick(locale, c.topic, c.topic_en),
                # Knock: the space shows in the community's hierarchy to everyone, but only
                # Linli lets people in (verified residents, staff, observers).
                "join_rules": {"join_rule": "knock"},
                "history_visibility": "shared",
                "power_levels": _space_power_levels(),
                "members": sorted(table.everyone()),
                "children": _children(
                    [room_key(c.key, r.key) for r in compound.rooms],
                    suggested={room_key(c.key, r.key) for r in compound.rooms if r.suggested},
                ),
            },
        )
    ]
    for room in compound.rooms:
        state = {
            "name": _room_name(compound, room),
            "topic": _pick(locale, room.topic, room.topic_en),
            "join_rules": _join_rule(room, space_key),
            # The lobby holds newcomers' requests: a later newcomer should not read them.
            "history_visibility": "joined" if room.access == "public" else "shared",
            "power_levels": room_power_levels(room, table),
            "members": sorted(_members(room, table)),
        }
        if config.dashboard.enabled and is_staff_room(room):
            # The back office, open at the top of the staff's rooms (bridge/dashboard).
            state["widget"] = widget_content(config.dashboard_url, config.bot_user_id, locale)
            state["widget_layout"] = layout_content()
        specs.append(
            RoomSpec(
                key=room_key(c.key, room.key),
                compound=c.key,
                parent=space_key,
                space=False,
                alias=f"{prefix}{c.key}-{room.key}",
                state=state,
            )
        )
    return specs


def _room_name(compound: Compound, room: RoomDef) -> str:
    """A room's name; an observers' room (one where observers may post) also names its
    compound: a street office observes several compounds, and would otherwise see several
    rooms of the same name side by side in its room list."""
    locale, c = compound.locale, compound.config
    name = _pick(locale, room.name, room.name_en)
    if room.post_roles is not None and Role.OBSERVER in room.post_roles:
        compound_name = _pick(locale, c.name, c.name_en)
        if compound_name not in name:
            name = f"{name} · {compound_name}"
    return name


def _pick(locale: str, zh: str, en: str | None) -> str:
    return en if locale == "en" and en else zh


def _key_order(key: str) -> str:
    """An m.space.child `order` from a symbolic key ("community:sanlin" → "0 sanlin",
    "compound:heping" → "1 heping"): printable ASCII, at most 50 characters (spec: spaces)."""
    kind, _, name = key.partition(":")
    rank = "0" if kind == "community" else "1"
    return f"{rank} {name}"[:50]


def _children(keys: list[str], suggested: set[str]) -> dict[str, dict[str, Any]]:
    return {k: {"order": f"{i:03d}", "suggested": k in suggested} for i, k in enumerate(keys)}


def _join_rule(room: RoomDef, space_key: str) -> dict[str, Any]:
    if room.access == "public":
        return {"join_rule": "public"}
    if room.access == "invite":
        return {"join_rule": "invite"}
    return {"join_rule": "restricted", "allow_spaces": [space_key]}


def _members(room: RoomDef, table: RoleTable) -> set[str]:
    members = set()
    for user in table.everyone():
        roles = table.roles_of(user)
        wanted = roles & room.member_roles
        if not wanted:
            continue
        if room.building is not None and not (roles & STAFF_ROLES):
            # A building room is for the residents of that building (and the staff listed).
            if table.residents.get(user) != room.building:
                continue
        members.add(user)
    return members


def room_power_levels(room: RoomDef, table: RoleTable) -> dict[str, Any]:
    """Power levels of one room from the role table: staff moderate, observers cannot post."""
    users: dict[str, int] = {}
    # Observers are listed in every room of the compound, not only theirs: they could otherwise
    # join a restricted room through the compound space and post at the default level.
    for user in sorted(_members(room, table) | set(table.observers)):
        roles = table.roles_of(user)
        if Role.OBSERVER in roles and not roles & STAFF_ROLES:
            may_post = room.post_roles is not None and Role.OBSERVER in room.post_roles
            users[user] = POSTER_LEVEL if may_post else OBSERVER_LEVEL
        elif roles & STAFF_ROLES:
            users[user] = STAFF_LEVEL
        elif room.post_roles is not None and roles & room.post_roles:
            users[user] = POSTER_LEVEL
    events_default = 0 if room.post_roles is None else POSTER_LEVEL
    events = {
        "m.room.name": STAFF_LEVEL,
        "m.room.topic": STAFF_LEVEL,
        "m.room.avatar": STAFF_LEVEL,
        "m.room.pinned_events": STAFF_LEVEL,
        "m.room.power_levels": LINLI_ONLY,
        "m.room.history_visibility": LINLI_ONLY,
        "m.room.canonical_alias": LINLI_ONLY,
        "m.room.join_rules": LINLI_ONLY,
        "m.room.encryption": LINLI_ONLY,
        "m.room.server_acl": LINLI_ONLY,
        "m.room.tombstone": LINLI_ONLY,
        "m.space.parent": LINLI_ONLY,
        # Residents acknowledge notices and answer polls even where they cannot post.
        "m.reaction": 0,
        "org.matrix.msc3381.poll.response": 0,
        "m.poll.response": 0,
    }
    return {
        "users": users,
        "users_default": 0,
        "events_default": events_default,
        "state_default": STAFF_LEVEL,
        "ban": STAFF_LEVEL,
        "kick": STAFF_LEVEL,
        "redact": STAFF_LEVEL,
        "invite": LINLI_ONLY,
        "notifications": {"room": STAFF_LEVEL},
        "events": events,
    }


def _space_power_levels() -> dict[str, Any]:
    # A space holds no conversation: only Linli writes to it.
    return {
        "users": {},
        "users_default": 0,
        "events_default": LINLI_ONLY,
        "state_default": LINLI_ONLY,
        "ban": LINLI_ONLY,
        "kick": LINLI_ONLY,
        "redact": LINLI_ONLY,
        "invite": LINLI_ONLY,
        "events": {},
    }
