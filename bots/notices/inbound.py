"""Notices from outside systems (the water or power company, the street office) by signed
webhook: `POST /linli/webhooks/<sender>` with

    {"id": "outage-42", "compound": "heping", "buildings": "3,5-7" | "all",
     "text": "...", "urgent": false, "expires_hours": 24}

The signature and timestamp are checked by bridge/webhooks.py before this runs (401 / 409).
A sender may post only to the compounds that name it in `notices.senders`; the same id again
is the same notice (posted once, answered 200 with its number). Accepted notices are tracked
like staff notices.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bots.notices import rules
from bots.notices.board import NoticeBoard, settings_for
from bots.notices.reach_rules import NoticeInputError
from bots.notices.store import NewNotice
from bridge.bot import Services

log = logging.getLogger(__name__)

MAX_TEXT = 4000
MAX_ID = 128


class InboundNotices:
    def __init__(self, services: Services, board: NoticeBoard) -> None:
        self.services = services
        self.board = board
        senders = {
            sender
            for compound in services.rooms.compounds.values()
            for sender in settings_for(compound).senders
        }
        for sender in sorted(senders):
            if sender in services.config.webhooks:
                services.webhooks.on_inbound(
                    sender, "notice", ("id", "compound", "text"), self._handler(sender)
                )

    def _handler(self, sender: str) -> Any:
        async def handle(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            return await self.accept(sender, payload)

        return handle

    async def accept(self, sender: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        notice_id, key, text = payload.get("id"), payload.get("compound"), payload.get("text")
        if not isinstance(notice_id, str) or not 0 < len(notice_id) <= MAX_ID:
            return 400, {"error": f"id must be a string of 1-{MAX_ID} characters"}
        if not isinstance(text, str) or not text.strip():
            return 400, {"error": "text must be a non-empty string"}
        if len(text) > MAX_TEXT:
            return 413, {"error": f"text longer than {MAX_TEXT} characters"}
        compound = self.services.rooms.compounds.get(key) if isinstance(key, str) else None
        if compound is None or sender not in settings_for(compound).senders:
            log.warning(
                "inbound notice %s from %s refused: compound not allowed", notice_id, sender
            )
            return 403, {"error": "this sender may not post to that compound"}
        buildings = payload.get("buildings", "all")
        if isinstance(buildings, list):
            buildings = ",".join(str(b) for b in buildings)
        urgent = payload.get("urgent", False)
        hours = payload.get("expires_hours")
        if not isinstance(buildings, str) or not isinstance(urgent, bool):
            return 400, {"error": "buildings must be a string or list, urgent a boolean"}
        if hours is not None and (not isinstance(hours, int) or not 0 < hours <= 24 * 90):
            return 400, {"error": "expires_hours must be a whole number of hours up to 2160"}
        try:
            targets = rules.parse_buildings(buildings, compound.config.buildings)
        except NoticeInputError as e:
            return 400, {
                "error": f"bad buildings ({e.key})",
                **{k: str(v) for k, v in e.args_.items()},
            }
        now = self.services.clock.now()
        settings = settings_for(compound)
        given = now + timedelta(hours=hours) if isinstance(hours, int) else None
        cause = f"webhook:{sender}:{notice_id}"
        notice, made_now = await self.board.create(
            NewNotice(
                compound=compound.key,
                cause=cause,
                author=None,
                origin=f"webhook:{sender}",
                staff_room_id=None,
                text=text.strip(),
                targets=list(targets) if targets is not None else None,
                urgent=urgent,
                status="posted",
                created_at=now,
                post_at=None,
                cron=None,
                expires_at=self.board.expiry(settings, urgent, now, given),
                posted_at=now,
            ),
            compound,
        )
        # Posted also when the id was seen before: a crash between storing and posting is
        # finished by the sender's retry (the messages' transaction IDs come from the id).
        rooms = await self.board.publish(notice, cause)
        return 200, {"number": notice.number, "rooms": len(rooms), "duplicate": not made_now}
