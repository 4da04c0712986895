"""A compound's ticket settings: the `tickets:` key of its YAML file, with documented defaults.

Durations are written the way staff say them: "15m", "2h", "3d" (or combined, "1h30m").
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bots.tickets.business_time import BusinessCalendar, Period
from bots.tickets.categories import (
    DEFAULT_KEYWORDS_EN,
    DEFAULT_KEYWORDS_ZH,
    DEFAULT_URGENT_EN,
    DEFAULT_URGENT_ZH,
    Category,
)
from bots.tickets.sla import SlaPolicy, SlaTargets
from bridge import time_bounds

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _duration(value: object) -> timedelta:
    # Bounded in one place for every bot (bridge/time_bounds.py); zero is a valid offset here.
    return time_bounds.parse_duration(value, zero=True)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(Strict):
    start: time
    end: time


class Targets(Strict):
    first_response: Duration
    resolution: Duration

    @model_validator(mode="after")
    def _order(self) -> Targets:
        if self.first_response > self.resolution:
            raise ValueError("first_response must not be longer than resolution")
        return self


class EscalationStep(Strict):
    """One rung of the ladder: how long after the missed deadline, and who hears of it."""

    after: Duration = timedelta(0)
    # role: the compound's staff with that role, mentioned in the ticket's thread;
    # room: a post in that room of the compound; webhook: a work order to a configured target.
    to: Literal["role", "room", "webhook"]
    name: str


class WeeklyReport(Strict):
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    at: time = time(9, 0)
    room: str = "five_in_one"


class TicketSettings(Strict):
    enabled: bool = True
    # Plain-text role aliases that open a ticket for property staff, as residents type them.
    aliases: list[str] = ["@物业", "@property", "@Property"]
    # Optional aliases for the committees, e.g. {"@居委会": residents_committee}.
    committee_aliases: dict[str, Literal["residents_committee", "owners_committee"]] = {}
    business_hours: list[Hours] = [
        Hours(start=time(8, 30), end=time(12, 0)),
        Hours(start=time(13, 30), end=time(17, 30)),
    ]
    weekend: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = ["sat", "sun"]
    statutory_calendar: bool = True
    closed_days: list[date] = []
    open_days: list[date] = []
    default_targets: Targets = Targets(
        first_response=timedelta(minutes=30), resolution=timedelta(hours=8)
    )
    targets: dict[Category, Targets] = {
        Category.REPAIR: Targets(
            first_response=timedelta(minutes=30), resolution=timedelta(hours=16)
        ),
        Category.SECURITY: Targets(
            first_response=timedelta(minutes=15), resolution=timedelta(hours=4)
        ),
    }
    urgent_targets: Targets = Targets(
        first_response=timedelta(minutes=10), resolution=timedelta(hours=2)
    )
    urgent_keywords: list[str] | None = None  # None: the defaults of the compound's language
    keywords: dict[Category, list[str]] | None = None
    remind_before: Duration = timedelta(minutes=15)
    escalation: list[EscalationStep] = [
        EscalationStep(after=timedelta(0), to="role", name="property_manager"),
        EscalationStep(after=timedelta(minutes=30), to="room", name="five_in_one"),
        EscalationStep(after=timedelta(hours=2), to="webhook", name="grid"),
    ]
    auto_close_after: Duration = timedelta(days=3)
    reopen_window: Duration = timedelta(days=7)
    weekly_report: WeeklyReport | None = WeeklyReport()
    max_open_per_resident: int = Field(default=20, ge=1)

    def policy(self, tz: str) -> SlaPolicy:
        calendar = BusinessCalendar(
            periods=tuple(Period(h.start, h.end) for h in self.business_hours),
            tz=ZoneInfo(tz),
            weekend_days=frozenset(WEEKDAYS[d] for d in self.weekend),
            use_statutory_calendar=self.statutory_calendar,
            extra_closed_days=frozenset(self.closed_days),
            extra_open_days=frozenset(self.open_days),
        )
        return SlaPolicy(
            calendar=calendar,
            targets={
                c: SlaTargets(t.first_response, t.resolution) for c, t in self.targets.items()
            },
            default=SlaTargets(
                self.default_targets.first_response, self.default_targets.resolution
            ),
            urgent=SlaTargets(self.urgent_targets.first_response, self.urgent_targets.resolution),
        )

    def urgent_words(self, locale: str) -> list[str]:
        if self.urgent_keywords is not None:
            return self.urgent_keywords
        return [*DEFAULT_URGENT_ZH, *DEFAULT_URGENT_EN] if locale == "zh" else [*DEFAULT_URGENT_EN]

    def category_words(self) -> dict[Category, list[str]]:
        if self.keywords is not None:
            return self.keywords
        merged: dict[Category, list[str]] = {}
        for table in (DEFAULT_KEYWORDS_ZH, DEFAULT_KEYWORDS_EN):
            for category, words in table.items():
                merged.setdefault(category, []).extend(words)
        return merged
