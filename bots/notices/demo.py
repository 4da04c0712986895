"""`make demo` shows the notices bot: one notice posted to building 3 of 和平里 and read by a
demo resident (a real read receipt from their account), one scheduled for tomorrow morning,
one recurring every Monday. Each is made once (its cause is fixed), so a second run of the demo
changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from bots.notices.board import settings_for
from bots.notices.records import NewNotice
from bridge.demo_account import demo_account

if TYPE_CHECKING:
    from bots.notices.bot import NoticeBot

log = logging.getLogger(__name__)

COMPOUND = "heping"
STAFF = "wuye_wang"  # the example compound's property staff: the demo notices' author
READER = "li_si"  # a demo resident of building 3


async def seed(bot: NoticeBot, passwords: Mapping[str, str]) -> None:
    services = bot.services
    compound = services.rooms.compounds.get(COMPOUND)
    if compound is None:
        return
    server = services.config.homeserver.server_name
    now = services.clock.now()
    settings = settings_for(compound)
    tz = bot.board.tz
    work_room = await services.store.rooms.by_key(f"{COMPOUND}:five_in_one")
    tomorrow_9 = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(9), tz)
    demos = [
        ("posted", ["3"], "**电梯维保**\n3号楼电梯本周四 9:00-11:00 维保，请走楼梯。", None, None),
        (
            "scheduled",
            None,
            "明天上午 9 点起清洗二次供水水箱，停水约 3 小时，请提前储水。",
            tomorrow_9,
            None,
        ),
        (
            "recurring",
            None,
            "垃圾分类提醒：厨余垃圾请在早 7-9 点、晚 6-8 点投放。",
            None,
            "0 9 * * 1",
        ),
    ]
    for status, targets, text, at, cron in demos:
        notice, made_now = await bot.board.create(
            NewNotice(
                compound=COMPOUND,
                cause=f"demo:{COMPOUND}:{status}",
                author=f"@{STAFF}:{server}",
                origin="staff",
                staff_room_id=work_room.room_id if work_room else None,
                text=text,
                targets=targets,
                urgent=False,
                status=status,
                created_at=now,
                post_at=at,
                cron=cron,
                expires_at=None if cron else bot.board.expiry(settings, False, at or now, None),
                posted_at=now if status == "posted" else None,
            ),
            compound,
        )
        if status != "posted":
            continue
        await bot.board.publish(notice, f"demo:{COMPOUND}:{status}")
        if made_now:
            await _read_as(bot, f"@{READER}:{server}", passwords, notice.id)
    log.info("demo notices in place (%s)", ", ".join(d[0] for d in demos))


async def _read_as(bot: NoticeBot, user_id: str, passwords: Mapping[str, str], notice: int) -> None:
    """The demo resident opens building 3's room and reads the notice: a real read receipt,
    sent with their own account, that Linli receives like any other."""
    password = passwords.get(user_id)
    posts = await bot.notices.posts(notice)
    building = await bot.services.store.rooms.by_key(f"{COMPOUND}:building_3")
    post = next((p for p in posts if building and p.room_id == building.room_id), None)
    if password is None or post is None:
        return
    try:
        async with demo_account(bot.services.config.homeserver.url, user_id, password) as me:
            await me.join(post.room_id)
            room, event = quote(post.room_id, safe=""), quote(post.event_id, safe="")
            status = await me.call("POST", f"/rooms/{room}/receipt/m.read/{event}", {})
            if status != 200:
                log.warning("demo read receipt refused: HTTP %d", status)
    except LookupError as e:
        log.warning("demo notices: %s", e)
    # A homeserver that has just started may not push it (receipts are ephemeral): read the
    # receipts back through /sync, as after a downtime.
    await bot.notice_clock.catch_up_soon()
