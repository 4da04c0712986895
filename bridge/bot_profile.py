"""The bot as residents see it: a display name in their compound's language and an avatar,
set at apply and changed only when they differ.

One profile for the bot user (its name in the bridge's language, `bots.display_name`); a
compound in another language sees that language's name in its own rooms, through the bot's
member event there (Matrix display names may differ per room). The avatar, a small PNG drawn
here (or the operator's file, `bots.avatar`), is uploaded once: its mxc:// URL and digest are
kept in the bot's own account data, so a second apply uploads nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import Iterable
from functools import cache
from typing import Any
from urllib.parse import quote

from bridge.chart_font import cjk_font_path
from bridge.config import BridgeConfig
from bridge.matrix import MatrixClient
from bridge.matrix_errors import MatrixError, NotFound
from bridge.rooms_config import RoomsConfig
from bridge.store.rooms import RoomRecord

log = logging.getLogger(__name__)

AVATAR_DATA = "cn.linli.avatar"  # account data of the bot: {"sha256": ..., "url": "mxc://..."}
_GREEN, _WHITE = (46, 125, 50), (255, 255, 255)
_PROPAGATION_CHECKS = 50


@cache
def drawn_avatar() -> bytes:
    """Linli's own avatar: a white 邻 on a green disc (a house when no CJK font is there),
    large and plain enough to know at a glance in a member list."""
    from PIL import Image, ImageDraw, ImageFont

    size = 256
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, size - 1, size - 1), fill=_GREEN)
    font_path = cjk_font_path()
    if font_path is not None:
        font = ImageFont.truetype(str(font_path), 150)
        draw.text((size / 2, size / 2), "邻", font=font, fill=_WHITE, anchor="mm")
    else:
        draw.polygon([(128, 50), (210, 120), (46, 120)], fill=_WHITE)
        draw.rectangle((70, 120, 186, 200), fill=_WHITE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class BotProfile:
    def __init__(self, client: MatrixClient, config: BridgeConfig) -> None:
        self.client = client
        self.config = config
        self.user_id = config.bot_user_id
        # Rooms whose member event was found right in this process: not read again.
        self._named: dict[str, tuple[str, str | None]] = {}
        self._profile_done: tuple[str, str | None] | None = None
        self._avatar_checked: tuple[str, str | None] | None = None  # (digest, url) this process
        self._renamed = False  # the profile changed, and rooms may not show it yet

    def name_for(self, locale: str) -> str:
        names = self.config.bots.display_name
        found = next((n for lang, n in names.items() if lang == locale), None)
        return found or names.get(self.config.locale) or self.config.bots.main

    async def ensure_profile(self) -> list[str]:
        """The profile's name and avatar, before any room is made (a new room's first events
        then show the bot by its name). Returns what changed (for apply's report)."""
        changed: list[str] = []
        avatar = await self._avatar(changed)
        name = self.name_for(self.config.locale)
        renamed = False
        if self._profile_done != (name, avatar):
            profile = await self._profile()
            if profile.get("displayname") != name:
                await self.client.set_displayname(self.user_id, name)
                changed.append(f"bot display name: {name}")
                renamed = True
            if avatar is not None and profile.get("avatar_url") != avatar:
                await self._put_profile("avatar_url", avatar)
                changed.append("bot avatar")
                renamed = True
            self._profile_done = (name, avatar)
        if renamed:
            self._named.clear()  # the homeserver renames the bot in every room
            self._renamed = True
        return changed

    async def ensure_rooms(self, rooms: RoomsConfig, records: Iterable[RoomRecord]) -> list[str]:
        """The bot's name in the rooms of compounds in another language than the profile's."""
        changed: list[str] = []
        if self._profile_done is None:
            return changed
        name, avatar = self._profile_done
        renamed, self._renamed = self._renamed, False
        for record in records:
            compound = rooms.compounds.get(record.compound or "")
            if compound is None or record.archived:
                continue
            wanted = self.name_for(compound.locale)
            if wanted == name or self._named.get(record.room_id) == (wanted, avatar):
                continue
            if renamed:
                await self._propagated(record.room_id, name, avatar)
            if await self._name_in_room(record.room_id, wanted, avatar):
                changed.append(f"bot display name in {record.key}: {wanted}")
            self._named[record.room_id] = (wanted, avatar)
        return changed

    async def _propagated(self, room_id: str, name: str, avatar: str | None) -> None:
        """Wait (a few seconds at most) until the homeserver has carried a profile change into
        this room: it does so in the background, and would overwrite a room's own name set
        before it got there."""
        for _ in range(_PROPAGATION_CHECKS):
            try:
                member = await self.client.get_state(room_id, "m.room.member", self.user_id)
            except NotFound:
                return
            if member.get("displayname") == name and member.get("avatar_url") == avatar:
                return
            await asyncio.sleep(0.1)
        log.warning("room %s: the bot's new profile has not reached it yet", room_id)

    async def _name_in_room(self, room_id: str, name: str, avatar: str | None) -> bool:
        try:
            member = await self.client.get_state(room_id, "m.room.member", self.user_id)
        except NotFound:
            return False  # not in the room (yet): the next apply names it
        if member.get("displayname") == name and member.get("membership") == "join":
            return False
        content: dict[str, Any] = {**member, "membership": "join", "displayname": name}
        if avatar is not None:
            content["avatar_url"] = avatar
        await self.client.put_state(room_id, "m.room.member", content, self.user_id)
        return True

    async def _avatar(self, changed: list[str]) -> str | None:
        """The avatar's mxc:// URL, uploaded once per picture (None: no media repository)."""
        path = self.config.bots.avatar
        data = path.read_bytes() if path is not None else drawn_avatar()
        digest = hashlib.sha256(data).hexdigest()
        if self._avatar_checked is not None and self._avatar_checked[0] == digest:
            return self._avatar_checked[1]
        kept = await self._account_data()
        if kept.get("sha256") == digest and isinstance(kept.get("url"), str):
            self._avatar_checked = (digest, str(kept["url"]))
            return str(kept["url"])
        url = await self.client.upload(data, "image/png", "linli-avatar.png")
        self._avatar_checked = (digest, url)
        if url is None:
            log.warning("the homeserver has no media repository: the bot keeps no avatar")
            return None
        await self.client.request(
            "PUT", self._account_data_path(), {"sha256": digest, "url": url}, as_user=self.user_id
        )
        changed.append("bot avatar uploaded")
        return url

    def _account_data_path(self) -> str:
        return f"/_matrix/client/v3/user/{quote(self.user_id, safe='')}/account_data/{AVATAR_DATA}"

    async def _account_data(self) -> dict[str, Any]:
        try:
            return await self.client.request("GET", self._account_data_path(), as_user=self.user_id)
        except NotFound:
            return {}

    async def _profile(self) -> dict[str, Any]:
        try:
            return await self.client.request(
                "GET", f"/_matrix/client/v3/profile/{quote(self.user_id, safe='')}"
            )
        except MatrixError:
            return {}

    async def _put_profile(self, field: str, value: str) -> None:
        await self.client.request(
            "PUT",
            f"/_matrix/client/v3/profile/{quote(self.user_id, safe='')}/{field}",
            {field: value},
            as_user=self.user_id,
        )
