"""Who a notice reached, as pure rules over plain data: households (of the roster, or of the
verified residents where a compound has none), reached by ✅, by a read receipt or by a 楼长 in
person, per building; and the residents and households a notice is for. No I/O here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_HOUSEHOLD = re.compile(r"^([0-9A-Za-z]{1,8})-([0-9A-Za-z]{1,8})-([0-9A-Za-z]{1,8})$")
# A notice to an interest group keeps its target as ["group:<key>"] (building names are
# letters and digits only, so the two never mix).
GROUP_PREFIX = "group:"


class NoticeInputError(ValueError):
    """Input a person typed that does not fit: a message key and its arguments."""

    def __init__(self, key: str, **args: object) -> None:
        super().__init__(key)
        self.key = key
        self.args_ = args


def group_target(group: str) -> tuple[str, ...]:
    return (GROUP_PREFIX + group,)


def group_of(targets: Sequence[str] | None) -> str | None:
    """The interest group a notice's targets name, or None (the compound, or buildings)."""
    if targets and len(targets) == 1 and targets[0].startswith(GROUP_PREFIX):
        return targets[0].removeprefix(GROUP_PREFIX)
    return None


@dataclass(frozen=True, order=True)
class Household:
    building: str
    unit: str
    room: str

    @property
    def label(self) -> str:
        return f"{self.building}-{self.unit}-{self.room}"


def parse_household(text: str) -> Household:
    match = _HOUSEHOLD.match(text.strip().translate(str.maketrans("－—", "--")))
    if match is None:
        raise NoticeInputError("notices.bad_household", household=text)
    return Household(*match.groups())


@dataclass(frozen=True)
class BuildingReach:
    """One building's households, each counted once by how it was reached: acknowledged (✅ or
    !收到 by any of its residents), else read (a receipt), else told in person by a 楼长."""

    building: str
    households: int
    reached: int  # acknowledged + read + told
    acknowledged: int
    read: int
    told: int
    residents: int  # verified residents targeted here
    no_account: int  # households on the roster with no verified resident
    unreached_offline: tuple[str, ...]  # unreached with no account (the 楼长 knocks first)
    unreached_online: tuple[str, ...]  # unreached with an account

    @property
    def unreached(self) -> tuple[str, ...]:
        return self.unreached_offline + self.unreached_online


@dataclass(frozen=True)
class Reach:
    buildings: tuple[BuildingReach, ...]
    # Counted against the compound's roster (False: it has none, verified households only).
    roster: bool = False
    households: int = 0
    reached: int = 0
    acknowledged: int = 0
    read: int = 0
    told: int = 0
    residents: int = 0
    no_account: int = 0
    unreached: tuple[str, ...] = field(default=())


def _building_order(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (10**9, name)


def reach(
    targeted: Mapping[str, Household],
    read: Iterable[str],
    acknowledged: Iterable[str],
    told: Iterable[str],
    roster: Iterable[Household] | None = None,
) -> Reach:
    """Reach of one notice over households: those of `roster` (the targeted households of the
    compound's roster; None when it has no roster) and those of the targeted verified residents
    (`targeted` maps each to its household). `read` and `acknowledged` are user IDs (anyone:
    those not targeted are ignored), `told` household labels a 楼长 marked "told in person". A
    lower bound: private receipts are invisible."""
    acked_users = set(acknowledged) & targeted.keys()
    read_users = set(read) & targeted.keys()
    told_labels = set(told)
    people: dict[Household, int] = {}
    acked: set[Household] = set()
    seen: set[Household] = set()
    for user, household in targeted.items():
        people[household] = people.get(household, 0) + 1
        if user in acked_users:
            acked.add(household)
        elif user in read_users:
            seen.add(household)
    seen -= acked
    households = set(people) | set(roster or ())
    by_building: dict[str, list[Household]] = {}
    for household in households:
        by_building.setdefault(household.building, []).append(household)
    rows = []
    for building in sorted(by_building, key=_building_order):
        homes = sorted(by_building[building], key=_household_order)
        n_acked = n_read = n_told = 0
        offline: list[str] = []
        online: list[str] = []
        for h in homes:
            if h in acked:
                n_acked += 1
            elif h in seen:
                n_read += 1
            elif h.label in told_labels:
                n_told += 1
            else:
                (online if h in people else offline).append(h.label)
        rows.append(
            BuildingReach(
                building=building,
                households=len(homes),
                reached=n_acked + n_read + n_told,
                acknowledged=n_acked,
                read=n_read,
                told=n_told,
                residents=sum(people.get(h, 0) for h in homes),
                no_account=sum(1 for h in homes if h not in people),
                unreached_offline=tuple(offline),
                unreached_online=tuple(online),
            )
        )
    return Reach(
        buildings=tuple(rows),
        roster=roster is not None,
        households=sum(r.households for r in rows),
        reached=sum(r.reached for r in rows),
        acknowledged=sum(r.acknowledged for r in rows),
        read=sum(r.read for r in rows),
        told=sum(r.told for r in rows),
        residents=sum(r.residents for r in rows),
        no_account=sum(r.no_account for r in rows),
        # Across buildings, the households with no account first (they need a visit).
        unreached=tuple(label for r in rows for label in r.unreached_offline)
        + tuple(label for r in rows for label in r.unreached_online),
    )


def _household_order(h: Household) -> tuple[tuple[int, str], ...]:
    return (_building_order(h.building), _building_order(h.unit), _building_order(h.room))


def targeted_roster(roster: Iterable[Household], targets: Sequence[str] | None) -> list[Household]:
    """The roster households a notice is for: the targeted buildings' (all when `targets` is
    None); none for an interest group, whose households are its members'."""
    if group_of(targets) is not None:
        return []
    return [h for h in roster if targets is None or h.building in targets]


def targeted_residents(
    residents: Iterable[tuple[str, Household]],
    targets: Sequence[str] | None,
    group_members: Iterable[str] = (),
) -> dict[str, Household]:
    """The verified residents a notice is for: those of the targeted buildings (all when
    `targets` is None), or of an interest group those who are members of its room."""
    if group_of(targets) is not None:
        members = set(group_members)
        return {user: household for user, household in residents if user in members}
    return {
        user: household
        for user, household in residents
        if targets is None or household.building in targets
    }
