"""Removing a member whom the homeserver no longer has in the room (they left by themselves,
or a run stopped between the kick and its record): done, not a failed apply. Seen when the
demo ran again after a resident had asked to be forgotten (403 "The target user is not in
the room" stopped the demo)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bridge.clock import FakeClock
from bridge.matrix_errors import Forbidden
from bridge.provision.apply import Applier
from bridge.provision.plan import SetChild
from tests.recording_client import RecordingClient


class GoneMember(RecordingClient):
    def __init__(self, membership: str) -> None:
        super().__init__("@linli:test")
        self.membership = membership

    async def kick(self, room_id: str, user_id: str, reason: str, *, as_user: Any = None) -> None:
        raise Forbidden(403, "M_FORBIDDEN", "The target user is not in the room", "POST", "kick")

    async def get_state(
        self, room_id: str, event_type: str, state_key: str = "", *, as_user: Any = None
    ) -> dict[str, Any]:
        return {"membership": self.membership}


def applier(client: RecordingClient) -> Applier:
    from datetime import UTC, datetime

    clock = FakeClock(datetime(2026, 12, 3, tzinfo=UTC))
    return Applier(client, None, clock, "test", "@linli:test", lambda key: "搬走")  # type: ignore[arg-type]


async def test_removing_someone_who_already_left_is_done() -> None:
    await applier(GoneMember("leave"))._remove("!r:test", "@li_si:test", "heping-hall")


async def test_a_refused_kick_of_someone_still_in_the_room_is_still_an_error() -> None:
    with pytest.raises(Forbidden):
        await applier(GoneMember("join"))._remove("!r:test", "@li_si:test", "heping-hall")


class SlowFirstSave:
    """A room store whose first save of a record takes longer to commit than the second: what
    two transactions on one row can do."""

    def __init__(self) -> None:
        self.committed: dict[str, dict[str, Any]] = {}
        self.calls = 0

    async def save(self, key: str, room_id: str, compound: Any, state: Any, *rest: Any) -> None:
        self.calls += 1
        snapshot = json.loads(json.dumps(state))  # as the row's JSON is written, at once
        if self.calls == 1:
            await asyncio.sleep(0.05)
        self.committed[key] = snapshot


async def test_two_children_linked_side_by_side_are_both_in_the_space_record() -> None:
    """A reload that added a compound once left one interest group unlinked in the record (the
    next apply linked it again): two SetChild of one space saved its state concurrently, and
    the older snapshot committed last."""
    store = SlowFirstSave()
    a = applier(RecordingClient("@linli:test"))
    a.rooms = store  # type: ignore[assignment]
    a._ids = {"space": "!s:test", "chess": "!c:test", "dance": "!d:test"}
    a._state = {"space": {"children": {}}}
    a._compound = {}
    await asyncio.gather(
        a._do(SetChild("space", "chess", {"suggested": False})),
        a._do(SetChild("space", "dance", {"suggested": False})),
    )
    assert set(store.committed["space"]["children"]) == {"chess", "dance"}
