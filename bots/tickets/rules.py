"""The tickets bot's small rules over plain values: who a message is for, which building it
names, what a tap means, which words filter a list. No I/O (STYLE.md: pure core)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES, Role

# "3号楼", "3栋", "3幢", "3#楼", "building 3"
_BUILDING = re.compile(
    r"([0-9]{1,3})\s*(?:号楼|栋|幢|#楼|#)|building\s*([0-9]{1,3})", re.IGNORECASE | re.ASCII
)
RATING_KEYS = {"1️⃣": 1, "2️⃣": 2, "3️⃣": 3, "4️⃣": 4, "5️⃣": 5}
# Rooms where a mention opens nothing: newcomers, notices, and the staff's own rooms.
NO_TICKET_ROOMS = frozenset(
    {"lobby", "announcements", "five_in_one", "party", "committee", "observers"}
)
LIST_FILTERS = {"未完成": "open", "我的": "mine", "超时": "overdue"}


def building_in(text: str) -> str | None:
    """The building a message names ("3号楼电梯坏了" → "3"), if it names one."""
    match = _BUILDING.search(text)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def rating_from_key(key: str) -> int | None:
    return RATING_KEYS.get(key)


def team_mentioned(
    body: str,
    mentioned_users: Collection[str],
    staff: Mapping[str, frozenset[Role]],
    aliases: Collection[str],
    committee_aliases: Mapping[str, str],
) -> str | None:
    """The team a resident's message asks for: "property" for a property alias ("@物业") or
    a real mention of property staff; a committee role for its alias or a mention of its
    members, when the compound lets residents open tickets for it; None otherwise."""
    folded = body.casefold()
    if any(alias.casefold() in folded for alias in aliases):
        return "property"
    for alias, role in committee_aliases.items():
        if alias.casefold() in folded:
            return role
    for user in sorted(mentioned_users):
        roles = staff.get(user, frozenset())
        if roles & PROPERTY_ROLES:
            return "property"
        if roles & COMMITTEE_ROLES and any(r.value in committee_aliases.values() for r in roles):
            return next(r.value for r in sorted(roles) if r in COMMITTEE_ROLES)
    return None


def short(text: str, limit: int = 24) -> str:
    """A ticket's text in a list: one line, at most `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Rooms where staff business may be answered in place; anywhere else residents read along.
STAFF_ROOMS = frozenset({"five_in_one", "committee", "party", "observers"})


def asks_the_resident(reason: str) -> bool:
    """A pause whose reason is a question to the resident ("几点在家？") ends when they reply;
    any other pause ("等配件") only when staff resume it."""
    return reason.rstrip().endswith(("?", "？"))
