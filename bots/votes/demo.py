"""The votes bot's part of `make demo` (its `seed_demo` hook): a roster with floor areas in each
example compound that has demo residents (their households, owners, and a few more), and in
its hall one open quick poll and one formal owners' vote, started by its owners' committee
member from their own account, as a person would type them. Done once per compound: a
compound that has a roster already is left as it is (a rerun must not bind a resident who asked
to be forgotten again as an owner)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

from bridge.demo_account import demo_account
from bridge.roles import Role

if TYPE_CHECKING:
    from bots.votes.bot import VoteBot

log = logging.getLogger(__name__)

POLL = "!投票 周末小区大扫除安排在几点？| 上午8点 | 上午9点 | 下午3点 | 每户一票 | 截止 7天"
VOTE = "!表决 使用维修基金更换1号楼电梯 | 重大 | 业主 | 截止 14天"


async def seed(bot: VoteBot, passwords: Mapping[str, str]) -> None:
    services = bot.services
    store, now = services.store, services.clock.now()
    for key, compound in services.rooms.compounds.items():
        mine = [r for r in await store.people.residents(key) if r.user_id in passwords]
        hall = await store.rooms.by_key(f"{key}:hall")
        committee = compound.config.staff.get(Role.OWNERS_COMMITTEE, [])
        if not mine or hall is None or not committee:
            continue
        if await store.roster.roster_size(key) > 0:
            continue  # seeded before
        households = {(r.building, r.unit, r.room) for r in mine}
        # Nine more households in one of the compound's own buildings (the roster import
        # refuses others), one where no demo resident lives when there is such a building.
        buildings = list(compound.config.buildings) or ["2"]
        taken = {r.building for r in mine}
        extra = next((b for b in buildings if b not in taken), buildings[0])
        for i in range(9):
            households.add((extra, "1", str(101 + i)))
        rows: list[tuple[str, str, str, str, list[str], list[str]]] = [
            (b, u, r, f"{80 + (int(r) * 7) % 60}.{(int(r) * 13) % 100:02d}", ["业主"], list[str]())
            for b, u, r in sorted(households)
        ]
        await store.roster.import_roster(key, rows, now)
        for r in mine:
            await store.people.bind_household(
                key, r.user_id, r.building, r.unit, r.room, now, is_owner=True
            )
        password = passwords.get(committee[0])
        if password is None:
            continue  # the committee member lives on another homeserver
        await _say_as(bot, committee[0], password, hall.room_id, [POLL, VOTE])
        log.info("demo votes seeded in %s", key)


async def _say_as(
    bot: VoteBot, user_id: str, password: str, room_id: str, bodies: list[str]
) -> None:
    """Log in as a demo account, join the room and send the messages, as their client would."""
    try:
        async with demo_account(bot.services.config.homeserver.url, user_id, password) as me:
            await me.join(room_id)
            room = quote(room_id, safe="")
            for i, body in enumerate(bodies):
                path = f"/rooms/{room}/send/m.room.message/linli-demo-{i}"
                status = await me.call("PUT", path, {"msgtype": "m.text", "body": body})
                if status != 200:
                    log.warning("demo vote command refused: HTTP %d", status)
    except LookupError as e:
        # The demo goes on without its votes rather than stopping (they are seeded once).
        log.warning("demo votes: %s", e)
