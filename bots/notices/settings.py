"""A compound's notice settings: the `notices:` key of its YAML file, with documented defaults.

Durations are written the way staff say them: "30m", "2h", "3d".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from bots.notices.rules import parse_duration
from bridge.roles import Role

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class NoticeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Who may post, edit and cancel notices (run `!通知` in a staff room).
    posters: list[Role] = [
        Role.PROPERTY_MANAGER,
        Role.PROPERTY_STAFF,
        Role.RESIDENTS_COMMITTEE,
        Role.OWNERS_COMMITTEE,
    ]
    # The rooms (keys of the compound's rooms) where notices are written.
    staff_rooms: list[str] = ["five_in_one", "committee"]
    # A notice with no expiry given lasts this long (reminders stop, an urgent one is unpinned).
    default_expiry: Duration = timedelta(days=7)
    # An urgent notice with no expiry given stays pinned this long.
    urgent_expiry: Duration = timedelta(days=1)
    # Direct-message reminders to residents who have not acknowledged, after posting.
    reminders: list[Duration] = [timedelta(hours=4), timedelta(days=1)]
    # Urgent notices remind this often until acknowledged or expired.
    urgent_every: Duration = timedelta(hours=2)
    # Outside systems (webhook targets in bridge.yaml) that may post notices to this compound.
    senders: list[str] = []
    # After the last reminder (this long after it), each 楼长 gets the households to visit.
    visit_list_after: Duration = timedelta(hours=1)
    # A recurring notice with no `有效` ends this long after it was set up (said in the answer).
    series_default_end: Duration = timedelta(days=90)
