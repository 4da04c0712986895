"""Typed `rooms_config/`: templates, communities and compounds, resolved into each compound's
rooms. Errors name file, line and key, like bridge.yaml's (see `bridge.config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, StringConstraints, create_model, field_validator

from bridge.config import (
    ConfigError,
    ConfigIssue,
    Key,
    Locale,
    M,
    Strict,
    UserId,
    load_source,
    validate_source,
)
from bridge.roles import GRANTABLE_ROLES, STAFF_ROLES, Role, expand_roles
from bridge.yaml_source import Loc, YamlSource

# ---------------------------------------------------------------- rooms_config/


class RoomTemplate(Strict):
    name: str
    name_en: str | None = None
    topic: str = ""
    topic_en: str | None = None
    # invite: members are invited, nobody else may join; residents: any member of the compound
    # space may join (restricted rule); public: anyone with the link (the lobby).
    access: Literal["invite", "residents", "public"] = "residents"
    members: list[str] = []
    # Who may post: every member (observers never), or only the listed roles.
    post: Literal["members"] | list[str] = "members"
    suggested: bool = False

    @field_validator("members")
    @classmethod
    def _known_members(cls, value: list[str]) -> list[str]:
        expand_roles([v for v in value if v != "building_residents"])
        return value

    @field_validator("post")
    @classmethod
    def _known_posters(
        cls, value: Literal["members"] | list[str]
    ) -> Literal["members"] | list[str]:
        if isinstance(value, list):
            expand_roles(value)
        return value


class RoomOverride(Strict):
    """A compound's change to one template room, or a room of its own (interest groups)."""

    name: str | None = None
    name_en: str | None = None
    topic: str | None = None
    topic_en: str | None = None
    access: Literal["invite", "residents", "public"] | None = None
    members: list[str] | None = None
    post: Literal["members"] | list[str] | None = None

    @field_validator("members")
    @classmethod
    def _known_members(cls, value: list[str] | None) -> list[str] | None:
        expand_roles([v for v in value or [] if v != "building_residents"])
        return value


class Template(Strict):
    rooms: dict[Key, RoomTemplate]
    # Its names may say {building}; nothing else in braces.
    building_room: RoomTemplate
    interest_group: RoomTemplate

    @field_validator("building_room")
    @classmethod
    def _names_with_building(cls, room: RoomTemplate) -> RoomTemplate:
        for name in (room.name, room.name_en or ""):
            try:
                name.format(building="1")
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                raise ValueError(
                    f"{name!r}: the only placeholder is {{building}} (write {{{{ for a brace)"
                ) from None
        return room


class TemplatesFile(Strict):
    templates: dict[Key, Template]


class CommunityConfig(Strict):
    key: Key
    name: str
    name_en: str | None = None
    topic: str = ""
    topic_en: str | None = None
    # A street office (街道) may group communities: the key of another community entry.
    parent: Key | None = None
    # Officials who observe every compound of this community.
    observers: list[UserId] = []


class CommunityFile(Strict):
    community: CommunityConfig


class CompoundConfig(Strict):
    key: Key
    name: str
    name_en: str | None = None
    topic: str = ""
    topic_en: str | None = None
    community: Key
    template: Key = "standard"
    locale: Locale | None = None
    # Staff by role (the five-in-one group and observers); resident roles are granted at run time.
    staff: dict[Role, list[UserId]] = {}
    buildings: list[Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,8}$")]] = []
    interest_groups: dict[Key, RoomOverride] = {}
    # Changes to the template's rooms; `null` drops a room from this compound.
    rooms: dict[Key, RoomOverride | None] = {}

    @field_validator("staff")
    @classmethod
    def _staff_roles_only(cls, value: dict[Role, list[str]]) -> dict[Role, list[str]]:
        for role in value:
            if role in GRANTABLE_ROLES or role is Role.RESIDENT:
                raise ValueError(
                    f"{role.value} is a resident role: grant it with !role grant, not in YAML"
                )
        return value


class CompoundFile(Strict):
    compound: CompoundConfig


def _compound_file_model(sections: Mapping[str, type[BaseModel]]) -> type[BaseModel]:
    """CompoundFile with the bots' sections added to the compound's keys."""
    if not sections:
        return CompoundFile
    fields: dict[str, Any] = {name: (model, model()) for name, model in sections.items()}
    compound = create_model("CompoundConfig", __base__=CompoundConfig, **fields)
    return create_model("CompoundFile", __base__=Strict, compound=(compound, ...))


# ---------------------------------------------------------------- resolved view


@dataclass(frozen=True)
class RoomDef:
    """One room of a compound after template, overrides, buildings and interest groups."""

    key: str
    name: str
    name_en: str | None
    topic: str
    topic_en: str | None
    access: Literal["invite", "residents", "public"]
    member_roles: frozenset[Role]
    # None: every member may post; otherwise only these roles (staff always may).
    post_roles: frozenset[Role] | None
    building: str | None = None
    suggested: bool = False


@dataclass(frozen=True)
class Compound:
    config: CompoundConfig
    rooms: tuple[RoomDef, ...]
    locale: Locale
    source: Path

    @property
    def key(self) -> str:
        return self.config.key

    def section(self, name: str, model: type[M]) -> M:
        """A bot's own settings for this compound (its defaults when the file has none)."""
        value = getattr(self.config, name, None)
        return value if isinstance(value, model) else model()

    def staff_roles_of(self, user_id: str) -> frozenset[Role]:
        return frozenset(role for role, users in self.config.staff.items() if user_id in users)


@dataclass(frozen=True)
class RoomsConfig:
    communities: dict[str, CommunityConfig]
    compounds: dict[str, Compound]


def load_rooms_config(
    folder: Path,
    default_locale: Locale = "zh",
    sections: Mapping[str, type[BaseModel]] | None = None,
) -> RoomsConfig:
    """Load every *.yaml under `folder`: templates, communities and compounds.

    `sections` are the bots' own keys in a compound file (e.g. `tickets:`), each a pydantic
    model whose fields all have defaults; they are validated like the rest, with file and line.
    """
    compound_file = _compound_file_model(sections or {})
    if not folder.is_dir():
        raise ConfigError([ConfigIssue(folder, 1, "", "rooms_config folder not found")])
    issues: list[ConfigIssue] = []
    templates: dict[str, tuple[Template, YamlSource]] = {}
    communities: dict[str, tuple[CommunityConfig, YamlSource]] = {}
    compounds: dict[str, tuple[CompoundConfig, YamlSource]] = {}
    for path in sorted(folder.rglob("*.yaml")):
        try:
            source = load_source(path)
            data = source.data
            kinds = [
                k
                for k in ("templates", "community", "compound")
                if isinstance(data, dict) and k in data
            ]
            if len(kinds) != 1:
                raise ConfigError(
                    [ConfigIssue(path, 1, "", "expected one of: templates, community, compound")]
                )
            if kinds[0] == "templates":
                for key, template in validate_source(TemplatesFile, source).templates.items():
                    _no_duplicate(templates, key, source, ("templates", key), "template")
                    templates[key] = (template, source)
            elif kinds[0] == "community":
                community = validate_source(CommunityFile, source).community
                _no_duplicate(communities, community.key, source, ("community", "key"), "community")
                communities[community.key] = (community, source)
            else:
                compound = validate_source(compound_file, source).compound  # type: ignore[attr-defined]
                _no_duplicate(compounds, compound.key, source, ("compound", "key"), "compound")
                compounds[compound.key] = (compound, source)
        except ConfigError as e:
            issues.extend(e.issues)
    resolved: dict[str, Compound] = {}
    for key, (compound, source) in compounds.items():
        try:
            resolved[key] = _resolve(compound, source, templates, communities, default_locale)
        except ConfigError as e:
            issues.extend(e.issues)
    for key, (community, source) in communities.items():
        if community.parent is not None and community.parent not in communities:
            issues.append(
                _issue(source, ("community", "parent"), f"no community {community.parent!r}")
            )
        if community.parent == key:
            issues.append(
                _issue(source, ("community", "parent"), "a community cannot contain itself")
            )
    if issues:
        raise ConfigError(issues)
    return RoomsConfig({k: c for k, (c, _) in communities.items()}, resolved)


def _issue(source: YamlSource, loc: Loc, message: str) -> ConfigIssue:
    return ConfigIssue(source.path, source.line_of(loc), ".".join(str(p) for p in loc), message)


def _no_duplicate(seen: dict[str, Any], key: str, source: YamlSource, loc: Loc, what: str) -> None:
    if key in seen:
        other = seen[key][1].path
        raise ConfigError([_issue(source, loc, f"duplicate {what} key {key!r} (also in {other})")])


def _resolve(
    compound: CompoundConfig,
    source: YamlSource,
    templates: dict[str, tuple[Template, YamlSource]],
    communities: dict[str, tuple[CommunityConfig, YamlSource]],
    default_locale: Locale,
) -> Compound:
    issues = []
    if compound.community not in communities:
        issues.append(
            _issue(source, ("compound", "community"), f"no community {compound.community!r}")
        )
    if compound.template not in templates:
        issues.append(
            _issue(source, ("compound", "template"), f"no template {compound.template!r}")
        )
        raise ConfigError(issues)
    template = templates[compound.template][0]
    rooms: dict[str, RoomDef] = {}
    for key, room in template.rooms.items():
        if key in compound.rooms:
            override = compound.rooms[key]
            if override is None:
                continue
            room = _apply_override(room, override)
        rooms[key] = _room_def(key, room)
    for key in compound.rooms:
        if key not in template.rooms:
            issues.append(
                _issue(
                    source,
                    ("compound", "rooms", key),
                    f"no room {key!r} in template {compound.template!r}",
                )
            )
    for index, building in enumerate(compound.buildings):
        key = f"building_{building.lower()}"
        if key in rooms:
            issues.append(
                _issue(source, ("compound", "buildings", index), f"duplicate room key {key!r}")
            )
            continue
        room = template.building_room.model_copy(
            update={
                "name": template.building_room.name.format(building=building),
                "name_en": (template.building_room.name_en or "").format(building=building) or None,
            }
        )
        rooms[key] = _room_def(key, room, building=building)
    for key, group in compound.interest_groups.items():
        if key in rooms:
            issues.append(
                _issue(source, ("compound", "interest_groups", key), f"duplicate room key {key!r}")
            )
            continue
        if group.name is None:
            issues.append(_issue(source, ("compound", "interest_groups", key), "name is required"))
            continue
        rooms[key] = _room_def(key, _apply_override(template.interest_group, group))
    if issues:
        raise ConfigError(issues)
    return Compound(compound, tuple(rooms.values()), compound.locale or default_locale, source.path)


def _apply_override(room: RoomTemplate, override: RoomOverride) -> RoomTemplate:
    # A key written as null (`members:` with nothing after it) keeps the template's value, as an
    # absent key does: None is never a room setting of its own.
    changes = override.model_dump(exclude_unset=True, exclude_none=True)
    return room.model_copy(update=changes)


def _room_def(key: str, room: RoomTemplate, building: str | None = None) -> RoomDef:
    member_names = [m for m in room.members if m != "building_residents"]
    members = set(expand_roles(member_names))
    if "building_residents" in room.members:
        members |= {Role.RESIDENT}
    post = None if room.post == "members" else expand_roles(room.post) | STAFF_ROLES
    return RoomDef(
        key=key,
        name=room.name,
        name_en=room.name_en,
        topic=room.topic,
        topic_en=room.topic_en,
        access=room.access,
        member_roles=frozenset(members),
        post_roles=post,
        building=building,
        suggested=room.suggested,
    )
