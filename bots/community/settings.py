"""A compound's community settings: the `community_life:` key of its YAML file, with documented
defaults. Durations are written the way staff say them: "2h", "1d", "90m"."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

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


def settings_for(compound: Compound | None) -> CommunitySettings:
    if compound is None:
        return CommunitySettings()
    return compound.section("community_life", CommunitySettings)
