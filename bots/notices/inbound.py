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
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bots.notices import rules
from bots.notices.board import NoticeBoard, settings_for
from bots.notices.reach_rules import NoticeInputError
from bots.notices.records import NewNotice
from bridge.bot import Services
from bridge.rooms_config import Compound

log = logging.getLogger(__name__)

MAX_TEXT = 4000
MAX_ID = 128


class InboundNotices:
    def __init__(self, services: Services, board: NoticeBoard) -> None:
        self.services = services
        self.board = board
        # Who may send notices is read at each request (a reload may add a sender).
        services.webhooks.on_inbound(
            "notice", ("id", "compound", "text"), self.accept, senders=self.senders
        )

    def senders(self) -> set[str]:
        named = {
            sender
            for compound in self.services.rooms.compounds.values()
            for sender in settings_for(compound).senders
        }
        targets = self.services.webhooks.targets  # as reloaded
        return named | {name for name, target in targets.items() if target.notice_compounds}

    def may_post(self, sender: str, compound: Compound) -> bool:
        """A compound names the sender, or the sender's webhook target names the compound."""
        target = self.services.webhooks.targets.get(sender)
        return sender in settings_for(compound).senders or (
            target is not None and compound.key in target.notice_compounds
        )

    async def accept(self, sender: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Checked, then stored with its posting job in one transaction before the 200: the
        scheduler posts it in the compound's lane, so a crash after the answer loses nothing
        and it keeps its order with the compound's other notices."""
        text = payload.get("text")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            return 413, {"error": f"text longer than {MAX_TEXT} characters"}
        try:
            body = InboundNotice.model_validate(payload)
        except ValidationError as e:
            return 400, {"error": "; ".join(_said(error) for error in e.errors())}
        compound = self.services.rooms.compounds.get(body.compound)
        if compound is None or not self.may_post(sender, compound):
            log.warning("inbound notice from %s refused: compound not allowed", sender)
            return 403, {"error": "this sender may not post to that compound"}
        buildings = body.buildings
        if isinstance(buildings, list):
            buildings = ",".join(str(b) for b in buildings)
        try:
            targets = rules.parse_buildings(buildings, compound.config.buildings)
        except NoticeInputError as e:
            return 400, {
                "error": f"bad buildings ({e.key})",
                **{k: str(v) for k, v in e.args_.items()},
            }
        now = self.services.clock.now()
        settings = settings_for(compound)
        hours = body.expires_hours
        given = now + timedelta(hours=hours) if hours is not None else None
        notice, made_now = await self.board.create(
            NewNotice(
                compound=compound.key,
                cause=f"webhook:{sender}:{body.id}",
                author=None,
                origin=f"webhook:{sender}",
                staff_room_id=None,
                text=body.text.strip(),
                targets=list(targets) if targets is not None else None,
                urgent=body.urgent,
                status="scheduled",  # posted by its job, due now
                created_at=now,
                post_at=now,
                cron=None,
                expires_at=self.board.expiry(settings, body.urgent, now, given),
            ),
            compound,
        )
        rooms = len(self.board.rooms_for(notice))
        return 200, {"number": notice.number, "rooms": rooms, "duplicate": not made_now}


class InboundNotice(BaseModel):
    """A notice's body, typed strictly: `expires_hours: true` is not one hour, "3" is not 3."""

    model_config = ConfigDict(strict=True, extra="forbid")

    id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]
    compound: Annotated[str, StringConstraints(max_length=64)]
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    buildings: str | list[Annotated[str, StringConstraints(max_length=16)] | int] = "all"
    urgent: bool = False
    expires_hours: Annotated[int, Field(gt=0, le=24 * 90)] | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


def _said(error: Any) -> str:
    """One validation error as a sender's developer reads it (never the value sent)."""
    where = ".".join(str(part) for part in error.get("loc", ())) or "body"
    return f"{where}: {error.get('msg', 'invalid')}"
