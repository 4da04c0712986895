"""What a secret ballot leaves behind: a receipt key of its own (made by `linli init`, 0600,
not the appservice token), no content of a ballot-room event in the inbox once handled, and
secret voters and ballots stored apart (no shared order)."""

from __future__ import annotations

import base64
import hmac
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bots.votes.bot import VoteBot
from bridge.app import Bridge
from bridge.cli import main as linli
from bridge.config import load_bridge_config
from bridge.store.models import InboxEvent
from tests.unit.test_votes_replay import (
    CAROL,
    NOW,
    bridge,
    message,
    recording,
    response,
    room,
)

__all__ = ["bridge"]  # the fixture


def test_linli_init_makes_a_receipt_key_of_its_own_for_its_owner_only(tmp_path: Path) -> None:
    config = tmp_path / "bridge.yaml"
    assert linli(["-c", str(config), "init"]) == 0
    key = tmp_path / "receipt.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    text = key.read_text(encoding="utf-8").strip()
    loaded = load_bridge_config(config)
    assert loaded.receipt_key_file == key.resolve()
    # Not derived from anything the registration file (or the database) holds.
    assert loaded.appservice.as_token not in text and loaded.appservice.hs_token not in text
    before = key.read_text(encoding="utf-8")
    assert linli(["-c", str(config), "init", "--force"]) == 0
    assert key.read_text(encoding="utf-8") == before  # an existing key is never replaced


# ---------------------------------------------------------------- through the bot

COMMITTEE = "@yewei_zhao:linli.localhost"


async def secret_vote(bridge: Bridge) -> tuple[str, int]:
    hall = await room(bridge, "hall")
    await bridge.router.handle(
        message("$v", COMMITTEE, "!表决 修路 | 简单多数 | 每户一票 | 不记名", hall), NOW
    )
    assert await bridge.scheduler.run_due() == 1  # the ballot papers
    poll = await bridge.bot(VoteBot).votes.get("heping", 1)
    assert poll is not None
    return hall, poll.id


def paper_of(bridge: Bridge, dm: str) -> str:
    [paper] = [
        s.event_id
        for s in recording(bridge).sent
        if s.room_id == dm and s.event_type.endswith("poll.start")
    ]
    return paper


async def body_of(bridge: Bridge, event_id: str) -> dict[str, Any]:
    async with bridge.store.db.sessions() as session:
        body = (
            await session.execute(select(InboxEvent.body).where(InboxEvent.event_id == event_id))
        ).scalar_one()
        return dict(body)


async def test_a_secret_ballot_leaves_no_content_in_the_inbox_once_handled(bridge: Bridge) -> None:
    await secret_vote(bridge)
    dm = await bridge.store.people.direct_room(CAROL)
    assert dm is not None
    raw = response("$ballot", CAROL, paper_of(bridge, dm), ["no"], dm)
    raw["unsigned"] = {"age": 5}
    await bridge.store.inbox.store_transaction("t1", [raw], NOW)

    await bridge.router.handle(raw, NOW, fresh=True)  # as the inbox worker does

    assert "回执码" in recording(bridge).bodies(dm)[-1]
    stored = await body_of(bridge, "$ballot")
    assert stored["content"] == {} and "unsigned" not in stored
    assert "no" not in json.dumps(stored)


async def test_a_ballot_whose_handling_fails_keeps_only_what_a_retry_needs(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    await secret_vote(bridge)
    dm = await bridge.store.people.direct_room(CAROL)
    assert dm is not None
    raw = response("$ballot", CAROL, paper_of(bridge, dm), ["no"], dm)
    raw["content"]["body"] = "a client's fallback text naming the choice"
    raw["unsigned"] = {"age": 5}
    await bridge.store.inbox.store_transaction("t1", [raw], NOW)

    async def broken(*args: Any, **kwargs: Any) -> str:
        raise OSError("the database went away")

    monkeypatch.setattr(bridge.bot(VoteBot).ballots, "cast_secret", broken)
    with pytest.raises(OSError):
        await bridge.router.handle(raw, NOW, fresh=True)
    stored = await body_of(bridge, "$ballot")
    assert "unsigned" not in stored and "body" not in stored["content"]
    monkeypatch.undo()
    await bridge.router.handle(stored, NOW, fresh=False)  # the retry, from what is kept
    assert "回执码" in recording(bridge).bodies(dm)[-1]


async def test_an_observer_who_is_a_resident_gets_no_ballot_paper_and_cannot_vote(
    bridge: Bridge,
) -> None:
    observer = "@jiedao_zhou:linli.localhost"  # the street office's observer, also a resident
    await bridge.store.people.bind_household("heping", observer, "3", "1", "103", NOW)
    await secret_vote(bridge)
    dm = await bridge.store.people.direct_room(observer)
    assert dm is None or not [
        s for s in recording(bridge).sent if s.room_id == dm and "poll.start" in s.event_type
    ]
    # Even with a paper (given before the role was), the ballot is refused, not counted.
    bot = bridge.bot(VoteBot)
    poll = await bot.votes.get("heping", 1)
    assert poll is not None
    await bot.secret._give_paper(poll, observer, "$test")
    dm = await bridge.store.people.direct_room(observer)
    assert dm is not None
    await bridge.router.handle(response("$obs", observer, paper_of(bridge, dm), ["yes"], dm), NOW)
    assert recording(bridge).bodies(dm)[-1] == "观察员只能查看，不能投票。"
    assert await bot.ballots.secret_voters(poll.id) == []


def test_a_receipt_is_keyed_by_the_receipt_key_file(bridge: Bridge) -> None:
    secret = bridge.bot(VoteBot).secret
    receipt = secret.receipt(1, "$e")  # the key file is made if it is missing
    path = bridge.config.receipt_key_file
    assert path is not None and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = path.read_text(encoding="utf-8").strip().encode()
    digest = hmac.new(key, b"1:$e", "sha256").digest()
    code = base64.b32encode(digest)[:10].decode()
    assert receipt == f"{code[:5]}-{code[5:]}"
