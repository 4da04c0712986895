"""One webhook target, several kinds of body: a sender that is both the grid platform (work
order statuses, for tickets) and a notice feed reaches each bot by the body's keys, and a bot
whose bodies could not be told apart from another's is refused at start instead of silently
taking them over."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bridge.clock import FakeClock
from bridge.config import WebhookTarget
from bridge.scheduler import Scheduler
from bridge.store import Store
from bridge.webhooks import SIGNATURE_HEADER, Webhooks, signature_header

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SECRET = "inbound-secret-0123456789"


@pytest.fixture
async def webhooks(database_url: str) -> AsyncIterator[Webhooks]:
    store = await Store.open(database_url)
    clock = FakeClock(NOW)
    target = WebhookTarget(url="http://127.0.0.1:9/x", secret="s" * 16, inbound_secret=SECRET)
    yield Webhooks(store.db, Scheduler(store.jobs, clock), clock, {"water": target})
    await store.close()


def handler(name: str, seen: list[str]) -> Any:
    async def handle(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        seen.append(name)
        return 200, {"kind": name}

    return handle


async def post(webhooks: Webhooks, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    app = web.Application()
    app.router.add_post("/linli/webhooks/{target}", webhooks.handle_inbound)
    raw = json.dumps(body).encode()
    headers = {SIGNATURE_HEADER: signature_header(SECRET, int(NOW.timestamp()), raw)}
    async with TestClient(TestServer(app)) as client:
        answer = await client.post("/linli/webhooks/water", data=raw, headers=headers)
        return answer.status, await answer.json()


async def test_one_sender_reaches_each_bot_by_the_kind_of_its_body(webhooks: Webhooks) -> None:
    seen: list[str] = []
    webhooks.on_inbound("water", "work order status", ("reference", "status"), handler("s", seen))
    webhooks.on_inbound("water", "notice", ("id", "compound", "text"), handler("n", seen))
    notice = {"id": "outage-1", "compound": "heping", "text": "停水"}
    assert await post(webhooks, notice) == (200, {"kind": "n"})
    status = {"reference": "linli:heping:1", "status": "accepted"}
    assert await post(webhooks, status) == (200, {"kind": "s"})
    assert seen == ["n", "s"]

    code, answer = await post(webhooks, {"hello": 1})
    assert code == 400 and "notice (compound, id, text)" in answer["error"]
    assert "work order status (reference, status)" in answer["error"]
    code, answer = await post(webhooks, {**notice, **status})
    assert code == 400 and "several kinds" in answer["error"]
    assert seen == ["n", "s"]  # neither refused body reached a bot


def test_a_kind_that_cannot_be_told_apart_is_refused_instead_of_taking_over(
    webhooks: Webhooks,
) -> None:
    webhooks.on_inbound("water", "notice", ("id", "compound", "text"), handler("n", []))
    with pytest.raises(ValueError, match="cannot be told apart"):
        webhooks.on_inbound("water", "alert", ("id", "text"), handler("a", []))
    with pytest.raises(ValueError, match="cannot be told apart"):
        webhooks.on_inbound("water", "alert", ("id", "compound", "text", "level"), handler("a", []))
    # The same kind registered again (a bot built again) replaces itself.
    webhooks.on_inbound("water", "notice", ("id", "compound", "text"), handler("n2", []))
    assert [k.name for k in webhooks.inbound["water"]] == ["notice"]
