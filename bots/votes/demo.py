"""The votes bot's part of `make demo`: a roster with floor areas in each example compound
that has demo residents (their households, owners, and a few more), and in its hall one open
quick poll and one formal owners' vote, started as its owners' committee would start them.
Running the demo again changes nothing: the polls are keyed by fixed command event IDs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bots.votes.bot import VoteBot
from bridge.app import Bridge
from bridge.roles import Role

POLL = "!投票 周末小区大扫除安排在几点？| 上午8点 | 上午9点 | 下午3点 | 每户一票 | 截止 7天"
VOTE = "!表决 使用维修基金更换1号楼电梯 | 重大 | 业主 | 截止 14天"


async def seed(bridge: Bridge, residents: Sequence[tuple[str, str, str, str, str]]) -> None:
    server = bridge.config.homeserver.server_name
    now = bridge.clock.now()
    votes = bridge.bot(VoteBot).votes
    for key, compound in bridge.rooms.compounds.items():
        mine = [r for r in residents if r[1] == key]
        hall = await bridge.store.rooms.by_key(f"{key}:hall")
        committee = compound.config.staff.get(Role.OWNERS_COMMITTEE, [])
        if not mine or hall is None or not committee:
            continue
        households = {(b, u, r) for _, _, b, u, r in mine}
        for i in range(9):
            households.add(("2", "1", str(101 + i)))
        rows: list[tuple[str, str, str, str, list[str], list[str]]] = [
            (b, u, r, f"{80 + (int(r) * 7) % 60}.{(int(r) * 13) % 100:02d}", ["业主"], list[str]())
            for b, u, r in sorted(households)
        ]
        await bridge.store.roster.import_roster(key, rows, now)
        for localpart, _, b, u, r in mine:
            await bridge.store.people.bind_household(
                key, f"@{localpart}:{server}", b, u, r, now, is_owner=True
            )
        for name, body in (("poll", POLL), ("vote", VOTE)):
            event_id = f"$linli-demo-{key}-{name}"
            if await votes.by_source(event_id) is None:
                await bridge.router.handle(_command(event_id, hall.room_id, committee[0], body))


def _command(event_id: str, room_id: str, sender: str, body: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room_id,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": 0,
        "content": {"msgtype": "m.text", "body": body},
    }
