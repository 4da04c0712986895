"""How an activity's card reads: its head lines (time, place, places taken, deadline,
volunteers wanted, how to sign up or that it is closed) above the live list (rules.py), in the
compound's language."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bots.community import rules
from bots.community.rules import Places
from bots.community.store import ActivityRecord
from bridge.bot import Services
from bridge.rooms_config import Compound


class ActivityCards:
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    def text(self, compound: Compound | None, key: str, **args: Any) -> str:
        return self.services.text(compound, key, **args)

    def local(self, compound: Compound, when: Any) -> str:
        return str(when.astimezone(self.tz).strftime(self.text(compound, "community.time_format")))

    def duration(self, compound: Compound, minutes: int) -> str:
        if minutes % 60 == 0:
            return self.text(compound, "community.duration_hours", hours=minutes // 60)
        if minutes > 60:
            hours = f"{minutes / 60:.1f}".rstrip("0").rstrip(".")
            return self.text(compound, "community.duration_hours", hours=hours)
        return self.text(compound, "community.duration_minutes", minutes=minutes)

    def card_text(self, activity: ActivityRecord, compound: Compound, places: Places) -> str:

        def t(key: str, **args: Any) -> str:
            return self.text(compound, f"community.{key}", **args)

        taken = len(places.confirmed)
        lines = [
            t("head", number=activity.number, title=activity.title),
            t(
                "line_time",
                time=self.local(compound, activity.starts_at),
                hours=self.duration(compound, activity.minutes),
            ),
        ]
        if activity.place:
            lines.append(t("line_place", place=activity.place))
        if activity.capacity is None:
            lines.append(t("line_no_limit", taken=taken))
        else:
            lines.append(t("line_capacity", capacity=activity.capacity, taken=taken))
        lines.append(t("line_deadline", deadline=self.local(compound, activity.deadline)))
        if activity.volunteers:
            lines.append(t("line_volunteers", volunteers=activity.volunteers))
        if activity.status == "cancelled":
            lines.append(t("line_cancelled"))
        elif activity.status == "done":
            lines.append(t("line_done"))
        elif self.services.clock.now() >= activity.deadline:
            lines.append(t("line_closed"))
        else:
            lines.append(t("line_how", number=activity.number))
            if activity.volunteers:
                lines.append(t("line_how_volunteer", number=activity.number))
        words = {
            key: t(key)
            for key in (
                "list_head",
                "list_empty",
                "waiting_head",
                "volunteers_head",
                "checked_mark",
            )
        }
        lines.extend(rules.list_lines(places, words, volunteers=activity.volunteers))
        return "\n".join(lines)
