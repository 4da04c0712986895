"""A compound's community settings: the `community_life:` key of its YAML file, with documented
defaults. Durations are written the way staff say them: "2h", "1d", "90m"."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bridge import time_bounds
from bridge.rooms_config import Compound


def _duration(value: object) -> timedelta:
    return time_bounds.parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class CommunitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Who may post activities: verified residents as well as staff (staff always may).
    residents_may_post: bool = True
    # The direct-message reminder to everyone with a place, this long before the start.
    reminder_before: Duration = timedelta(hours=2)
    # A flood guard: activities one person may start in a day.
    activities_per_day: int = Field(default=5, ge=1, le=100)
    # The neighbours' board: posts one person may make in a day (help, idle, lost, found).
    posts_per_day: int = Field(default=10, ge=1, le=100)
    # Idle items and lost-and-found posts expire this long after posting; their authors are
    # reminded this long before.
    board_expires: Duration = timedelta(days=30)
    board_remind_before: Duration = timedelta(days=3)
    # Open help requests and offers expire sooner; their authors are asked first whether
    # they still need (or still offer) it.
    help_expires: Duration = timedelta(days=3)
    help_ask_before: Duration = timedelta(days=1)
    # Hours credited to a helper when a request is closed with thanks (unless the author
    # gives another duration).
    help_hours: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _reminders_before_expiry(self) -> CommunitySettings:
        if self.board_remind_before >= self.board_expires:
            raise ValueError("board_remind_before must be shorter than board_expires")
        if self.help_ask_before >= self.help_expires:
            raise ValueError("help_ask_before must be shorter than help_expires")
        return self


def settings_for(compound: Compound | None) -> CommunitySettings:
    if compound is None:
        return CommunitySettings()
    return compound.section("community_life", CommunitySettings)
