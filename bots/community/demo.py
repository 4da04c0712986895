"""The community bots' part of `make demo` (CommunityBot's `seed_demo` hook): in 和平里's
neighbours' room the property staff post an activity a week ahead, a demo resident signs up and
another offers an idle item, each from their own account as a person would type it. Done once:
a compound that has an activity already is left as it is."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from bridge.demo_account import demo_account

if TYPE_CHECKING:
    from bots.community.bot import CommunityBot

log = logging.getLogger(__name__)

COMPOUND = "heping"
STAFF = "wuye_wang"
SIGNER = "zhang_san"
GIVER = "li_si"


async def seed(bot: CommunityBot, passwords: Mapping[str, str]) -> None:
    services = bot.services
    server = services.config.homeserver.server_name
    room = await services.store.rooms.by_key(f"{COMPOUND}:neighbours")
    if room is None or await bot.desk.activities.by_number(COMPOUND, 1) is not None:
        return
    day = (services.clock.now() + timedelta(days=7)).astimezone(bot.desk.tz)
    activity = (
        f"!活动 包饺子迎冬至 | 时间 {day:%m-%d} 09:30 | 地点 社区活动室 | 名额 20"
        f" | 截止 {day - timedelta(days=1):%m-%d} 18:00 | 志愿者 2 | 时长 2小时"
    )
    for localpart, body in (
        (STAFF, activity),
        (SIGNER, "!报名 1 带一袋面粉"),
        (GIVER, "!闲置 婴儿床一张，九成新，自取"),
    ):
        user_id = f"@{localpart}:{server}"
        password = passwords.get(user_id)
        if password is None:
            continue
        try:
            async with demo_account(services.config.homeserver.url, user_id, password) as me:
                await me.join(room.room_id)
                path = f"/rooms/{quote(room.room_id, safe='')}/send/m.room.message/linli-demo-1"
                status = await me.call("PUT", path, {"msgtype": "m.text", "body": body})
                if status != 200:
                    log.warning("demo community command refused: HTTP %d", status)
        except LookupError as e:
            log.warning("demo community: %s", e)  # the demo goes on without this part
    log.info("demo activity and board post sent in %s", COMPOUND)
