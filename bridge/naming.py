"""People named in the bots' messages as readers see them: the display name a room shows for
them (their member event), else their profile's, else their user ID. Asked of the homeserver
when a message is built: Linli keeps no names it does not need (and logs none)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from urllib.parse import quote

from bridge.matrix import MatrixClient
from bridge.matrix_errors import MatrixError
from bridge.messages import People, Person


async def person(client: MatrixClient, room_id: str | None, user_id: str) -> Person:
    name: object = None
    if room_id is not None:
        try:
            member = await client.get_state(room_id, "m.room.member", user_id)
            name = member.get("displayname")
        except MatrixError:
            name = None  # not a member there: the profile's name will do
    if not _usable(name):
        try:
            profile = await client.request(
                "GET", f"/_matrix/client/v3/profile/{quote(user_id, safe='')}/displayname"
            )
            name = profile.get("displayname")
        except MatrixError:
            name = None  # no profile name (or hidden): the user ID is what clients show
    return Person(user_id, name.strip() if isinstance(name, str) and _usable(name) else user_id)


async def people(
    client: MatrixClient, room_id: str | None, user_ids: Iterable[str], separator: str
) -> People:
    # Asked side by side: the names are on the round trip a resident waits for.
    found = await asyncio.gather(*(person(client, room_id, u) for u in sorted(set(user_ids))))
    return People(tuple(found), separator)


def _usable(name: object) -> bool:
    return isinstance(name, str) and bool(name.strip())
