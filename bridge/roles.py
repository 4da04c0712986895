"""The role table's vocabulary: which roles exist and which of them are staff.

Power levels in rooms and permission checks in the bots both derive from these names; a display
name or message text never grants one.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    # Staff of the five-in-one group (五位一体), declared in a compound's YAML.
    PARTY_BRANCH = "party_branch"
    RESIDENTS_COMMITTEE = "residents_committee"
    OWNERS_COMMITTEE = "owners_committee"
    PROPERTY_MANAGER = "property_manager"
    PROPERTY_STAFF = "property_staff"
    POLICE = "police"
    # Residents: verified and bound to a household; the extra roles are granted by the committee.
    RESIDENT = "resident"
    PARTY_MEMBER = "party_member"
    VOLUNTEER = "volunteer"
    BUILDING_CONTACT = "building_contact"
    # Street office and officials: read, never post (只能潜不能说).
    OBSERVER = "observer"


STAFF_ROLES: frozenset[Role] = frozenset(
    {
        Role.PARTY_BRANCH,
        Role.RESIDENTS_COMMITTEE,
        Role.OWNERS_COMMITTEE,
        Role.PROPERTY_MANAGER,
        Role.PROPERTY_STAFF,
        Role.POLICE,
    }
)
PROPERTY_ROLES: frozenset[Role] = frozenset({Role.PROPERTY_MANAGER, Role.PROPERTY_STAFF})
COMMITTEE_ROLES: frozenset[Role] = frozenset({Role.RESIDENTS_COMMITTEE, Role.OWNERS_COMMITTEE})
RESIDENT_ROLES: frozenset[Role] = frozenset(
    {Role.RESIDENT, Role.PARTY_MEMBER, Role.VOLUNTEER, Role.BUILDING_CONTACT}
)
# Roles the committee may grant to a verified resident at run time.
GRANTABLE_ROLES: frozenset[Role] = RESIDENT_ROLES - {Role.RESIDENT}

# Names usable in room templates for a whole group of roles.
ROLE_GROUPS: dict[str, frozenset[Role]] = {
    "staff": STAFF_ROLES,
    "residents": RESIDENT_ROLES,
    "property": PROPERTY_ROLES,
    "committees": COMMITTEE_ROLES,
}


def expand_roles(names: list[str]) -> frozenset[Role]:
    """Role names and group names to roles; raises ValueError naming the unknown one."""
    roles: set[Role] = set()
    for name in names:
        if name in ROLE_GROUPS:
            roles |= ROLE_GROUPS[name]
        else:
            try:
                roles.add(Role(name))
            except ValueError:
                known = ", ".join([*sorted(ROLE_GROUPS), *sorted(r.value for r in Role)])
                raise ValueError(f"unknown role {name!r} (known: {known})") from None
    return frozenset(roles)
