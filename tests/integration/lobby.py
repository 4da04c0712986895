"""A newcomer verified the way residents are: `!认证` in the lobby, `!认证 同意` by the committee
in its work room, then into the neighbours' room. Uses only what the two clients see."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.integration.linli_process import LinliProcess
from tests.integration.matrix_client import ResidentClient

_REQUEST = re.compile(r"认证申请 #(\d+)：")


def from_bot(linli: LinliProcess, predicate: Callable[[str], bool]) -> Callable[[Any], bool]:
    return lambda e: (
        e["sender"] == linli.bot_user_id
        and e["type"] == "m.room.message"
        and predicate(str(e["content"].get("body", "")))
    )


async def verify_in_lobby(
    linli: LinliProcess,
    newcomer: ResidentClient,
    committee: ResidentClient,
    address: str,
    name: str,
    *,
    timeout: float = 30,  # noqa: ASYNC109
) -> str:
    """Verify the newcomer for `address` under `name`; returns the neighbours' room they joined."""
    lobby = await newcomer.join(linli.alias("heping-lobby"))
    await newcomer.send_text(lobby, f"!认证 {address} {name}")
    work_room = await committee.join(linli.alias("heping-committee"))
    request = await committee.wait_for_event(
        work_room,
        from_bot(linli, lambda b: newcomer.user_id in b and b.startswith("认证申请 #")),
        timeout,
    )
    match = _REQUEST.search(request["content"]["body"])
    assert match is not None, request["content"]["body"]
    await committee.send_text(work_room, f"!认证 同意 {match.group(1)}")
    await newcomer.wait_for_event(
        lobby,
        lambda e: (
            from_bot(linli, lambda b: "认证通过" in b)(e)
            and newcomer.user_id in e["content"].get("m.mentions", {}).get("user_ids", [])
        ),
        timeout,
    )
    return await newcomer.join(linli.alias("heping-neighbours"))
