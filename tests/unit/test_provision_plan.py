"""Desired state and plan: pure, from the example config and a role table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bots import ALL_BOTS
from bridge.bot import config_sections
from bridge.config import AppserviceConfig, BridgeConfig
from bridge.provision.desired import (
    OBSERVER_LEVEL,
    POSTER_LEVEL,
    STAFF_LEVEL,
    desired_rooms,
    role_table,
)
from bridge.provision.plan import Archive, CreateRoom, Invite, Remove, SetChild, SetFacet, plan
from bridge.roles import Role
from bridge.rooms_config import load_rooms_config
from bridge.store.rooms import RoomRecord

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
CONFIG = BridgeConfig(appservice=AppserviceConfig(as_token="a" * 20, hs_token="b" * 20))
ROOMS = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
RESIDENT = "@zhang_san:linli.localhost"
OBSERVER = "@jiedao_zhou:linli.localhost"
STAFF = "@wuye_wang:linli.localhost"


def specs(
    residents: dict[str, str] | None = None, grants: dict[str, frozenset[Role]] | None = None
):
    tables = {
        key: role_table(c, ROOMS, residents or {}, grants or {})
        for key, c in ROOMS.compounds.items()
    }
    return {s.key: s for s in desired_rooms(CONFIG, ROOMS, tables)}


def applied(spec_map) -> dict[str, RoomRecord]:
    return {
        key: RoomRecord(key, f"!{i}", s.compound, dict(s.state), False)
        for i, (key, s) in enumerate(spec_map.items())
    }


def test_parents_come_before_children() -> None:
    order = list(specs())
    assert order[0] == "community:sanlin"
    assert order.index("compound:heping") < order.index("heping:neighbours")


def test_observer_cannot_post_anywhere_and_staff_moderate() -> None:
    s = specs({RESIDENT: "1"})
    for key in ("heping:announcements", "heping:hall", "heping:neighbours"):
        levels = s[key].state["power_levels"]
        assert levels["users"][OBSERVER] == OBSERVER_LEVEL
        assert OBSERVER_LEVEL < levels["events_default"]
        assert OBSERVER_LEVEL < levels["events"]["m.reaction"]
    announcements = s["heping:announcements"].state["power_levels"]
    assert announcements["events_default"] == POSTER_LEVEL
    assert announcements["users"][STAFF] == STAFF_LEVEL
    assert RESIDENT not in announcements["users"]  # residents stay at 0 < POSTER_LEVEL
    assert announcements["events"]["m.reaction"] == 0


def test_residents_join_by_space_membership_and_staff_rooms_are_invite_only() -> None:
    s = specs()
    assert s["heping:neighbours"].state["join_rules"] == {
        "join_rule": "restricted",
        "allow_spaces": ["compound:heping"],
    }
    assert s["heping:five_in_one"].state["join_rules"] == {"join_rule": "invite"}
    assert s["heping:lobby"].state["join_rules"] == {"join_rule": "public"}


def test_building_room_invites_only_that_buildings_residents() -> None:
    other = "@li_si:linli.localhost"
    s = specs({RESIDENT: "1", other: "3"})
    assert RESIDENT in s["heping:building_1"].state["members"]
    assert other not in s["heping:building_1"].state["members"]
    assert other in s["heping:building_3"].state["members"]
    assert STAFF in s["heping:building_3"].state["members"]


def test_party_member_grant_invites_to_party_room() -> None:
    assert RESIDENT not in specs({RESIDENT: "1"})["heping:party"].state["members"]
    granted = specs({RESIDENT: "1"}, {RESIDENT: frozenset({Role.PARTY_MEMBER})})
    assert RESIDENT in granted["heping:party"].state["members"]


def test_first_plan_creates_everything_and_second_plans_nothing() -> None:
    s = specs()
    first = plan(list(s.values()), {})
    assert sum(isinstance(a, CreateRoom) for a in first) == len(s)
    assert plan(list(s.values()), applied(s)) == []


def test_changed_topic_plans_exactly_one_change() -> None:
    s = specs()
    recorded = applied(s)
    old = recorded["heping:hall"]
    recorded["heping:hall"] = replace(old, state={**old.state, "topic": "old topic"})
    actions = plan(list(s.values()), recorded)
    assert actions == [
        SetFacet("heping:hall", "topic", s["heping:hall"].state["topic"], "old topic")
    ]


def test_removed_room_is_unlinked_and_archived() -> None:
    s = specs()
    recorded = applied(s)
    del s["heping:dance"]
    space = s["compound:heping"]
    children = dict(space.state["children"])
    del children["heping:dance"]
    s["compound:heping"] = replace(space, state={**space.state, "children": children})
    actions = plan(list(s.values()), recorded)
    assert SetChild("compound:heping", "heping:dance", None) in actions
    assert next(a for a in actions if isinstance(a, Archive)).key == "heping:dance"
    assert len(actions) == 2


def test_new_resident_is_invited_and_moved_out_one_removed() -> None:
    before = specs({RESIDENT: "1"})
    after = specs({"@new:linli.localhost": "1"})
    actions = plan(list(after.values()), applied(before))
    assert Invite("heping:building_1", "@new:linli.localhost") in actions
    assert Remove("heping:building_1", RESIDENT) in actions


def test_observers_speak_only_in_their_own_room() -> None:
    s = specs()
    own = s["heping:observers"].state["power_levels"]
    assert own["users"][OBSERVER] == POSTER_LEVEL >= own["events_default"]
    assert s["heping:observers"].state["join_rules"] == {"join_rule": "invite"}
    assert OBSERVER in s["heping:observers"].state["members"]


def test_adding_a_compound_links_it_and_leaves_the_others_alone() -> None:
    from dataclasses import replace as swap

    before = specs()
    # Only xingfu applied so far; heping (sorted before it) is added now.
    only_xingfu = {
        k: s for k, s in before.items() if not k.startswith(("heping", "compound:heping"))
    }
    community = only_xingfu["community:sanlin"]
    children = dict(community.state["children"])
    children.pop("compound:heping")
    only_xingfu["community:sanlin"] = swap(
        community, state={**community.state, "children": children}
    )
    actions = plan(list(before.values()), applied(only_xingfu))
    links = [a for a in actions if isinstance(a, SetChild) and a.parent == "community:sanlin"]
    assert [a.child for a in links] == ["compound:heping"]  # xingfu is not re-linked


def test_a_power_level_change_names_the_users_and_room_defaults_that_differ() -> None:
    old = {"users": {STAFF: 50}, "users_default": 50, "events_default": 0, "events": {"a": 1}}
    new = {"users": {STAFF: 50, RESIDENT: 10}, "users_default": 0, "events_default": 0}
    change = SetFacet("heping:hall", "power_levels", new, old).describe()
    assert change == (
        f"~ heping:hall: power levels ({RESIDENT} default→10, events, users_default 50→0)"
    )


def test_each_observers_room_names_its_compound_and_plan_shows_the_rename() -> None:
    s = specs()
    heping, xingfu = s["heping:observers"].state["name"], s["xingfu:observers"].state["name"]
    assert heping == "街道观察室 · 和平里小区"
    assert xingfu.startswith("街道观察室 · ") and xingfu != heping
    # Rooms observers only read keep their plain names: residents see them in one compound.
    assert s["heping:hall"].state["name"] == "议事厅"
    # A deployment applied before rooms were named per compound: plan renames just these two.
    recorded = applied(s)
    for key in ("heping:observers", "xingfu:observers"):
        old = recorded[key]
        recorded[key] = replace(old, state={**old.state, "name": "街道观察室"})
    actions = plan(list(s.values()), recorded)
    assert actions == [
        SetFacet("heping:observers", "name", heping, "街道观察室"),
        SetFacet("xingfu:observers", "name", xingfu, "街道观察室"),
    ]
    assert actions[0].describe() == (
        "~ heping:observers: name '街道观察室' → '街道观察室 · 和平里小区'"
    )


def test_an_english_compound_names_its_observers_room_in_english() -> None:
    english = replace(ROOMS.compounds["heping"], locale="en")
    rooms = replace(ROOMS, compounds={"heping": english})
    tables = {"heping": role_table(english, rooms, {}, {})}
    named = {s.key: s.state["name"] for s in desired_rooms(CONFIG, rooms, tables)}
    assert named["heping:observers"] == "Observers' room · Heping Li"
