"""One webhook target, several kinds of body: a sender that is both the grid platform (work
order statuses, for tickets) and a notice feed reaches each bot by the body's keys, and a bot
whose bodies could not be told apart from another's is refused at start instead of silently
taking them over."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
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


def handler(name: str, seen: list[str], answer: int = 200) -> Any:
    async def handle(sender: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        seen.append(name)
        return answer, {"kind": name, "sender": sender}

    return handle


WATER = lambda: {"water"}  # noqa: E731
NOBODY: Any = lambda: set()  # noqa: E731


def signed(body: bytes | dict[str, Any], at: datetime = NOW) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {SIGNATURE_HEADER: signature_header(SECRET, int(at.timestamp()), raw)}


async def post(
    webhooks: Webhooks, body: bytes | dict[str, Any], copies: int = 1
) -> tuple[int, dict[str, Any]]:
    statuses = await post_copies(webhooks, body, copies)
    return statuses[0]


async def post_copies(
    webhooks: Webhooks, body: bytes | dict[str, Any], copies: int
) -> list[tuple[int, dict[str, Any]]]:
    """The same signed request `copies` times at once."""
    app = web.Application()
    app.router.add_post("/linli/webhooks/{target}", webhooks.handle_inbound)
    raw, headers = signed(body)
    async with TestClient(TestServer(app)) as client:

        async def one() -> tuple[int, dict[str, Any]]:
            answer = await client.post("/linli/webhooks/water", data=raw, headers=headers)
            return answer.status, await answer.json()

        return list(await asyncio.gather(*(one() for _ in range(copies))))


async def test_one_sender_reaches_each_bot_by_the_kind_of_its_body(webhooks: Webhooks) -> None:
    seen: list[str] = []
    webhooks.on_inbound(
        "work order status", ("reference", "status"), handler("s", seen), senders=WATER
    )
    webhooks.on_inbound("notice", ("id", "compound", "text"), handler("n", seen), senders=WATER)
    notice = {"id": "outage-1", "compound": "heping", "text": "停水"}
    assert await post(webhooks, notice) == (200, {"kind": "n", "sender": "water"})
    status = {"reference": "linli:heping:1", "status": "accepted"}
    assert await post(webhooks, status) == (200, {"kind": "s", "sender": "water"})
    assert seen == ["n", "s"]

    code, answer = await post(webhooks, {"hello": 1})
    assert code == 400 and "notice (compound, id, text)" in answer["error"]
    assert "work order status (reference, status)" in answer["error"]
    code, answer = await post(webhooks, {**notice, **status})
    assert code == 400 and "several kinds" in answer["error"]
    assert seen == ["n", "s"]  # neither refused body reached a bot


async def test_a_sender_gets_only_the_kinds_it_is_configured_for(
    webhooks: Webhooks, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    # The water company sends notices; it is no grid platform.
    webhooks.on_inbound(
        "work order status", ("reference", "status"), handler("s", seen), senders=NOBODY
    )
    webhooks.on_inbound("notice", ("id", "compound", "text"), handler("n", seen), senders=WATER)
    status = {"reference": "linli:heping:1", "status": "resolved", "note": "住户张三家已修好"}
    with caplog.at_level(logging.WARNING):
        code, answer = await post(webhooks, status)
    assert code == 403 and "work order status" in answer["error"]
    assert seen == []
    assert "住户张三" not in caplog.text and "linli:heping:1" not in caplog.text
    # The refused request was not claimed: nothing to replay.
    webhooks.kinds[0] = dataclasses.replace(webhooks.kinds[0], senders=WATER)
    assert (await post(webhooks, status))[0] == 200


async def test_concurrent_copies_of_one_request_are_handled_once(webhooks: Webhooks) -> None:
    seen: list[str] = []
    webhooks.on_inbound("notice", ("id", "compound", "text"), handler("n", seen), senders=WATER)
    notice = {"id": "outage-2", "compound": "heping", "text": "停水"}
    statuses = sorted(code for code, _ in await post_copies(webhooks, notice, 8))
    assert statuses == [200] + [409] * 7 and seen == ["n"]


async def test_a_failed_handler_releases_its_claim_so_the_retry_is_handled(
    webhooks: Webhooks,
) -> None:
    seen: list[str] = []
    webhooks.on_inbound(
        "notice", ("id", "compound", "text"), handler("n", seen, 503), senders=WATER
    )
    notice = {"id": "outage-3", "compound": "heping", "text": "停水"}
    assert (await post(webhooks, notice))[0] == 503
    webhooks.on_inbound("notice", ("id", "compound", "text"), handler("n", seen), senders=WATER)
    assert (await post(webhooks, notice))[0] == 200
    assert (await post(webhooks, notice))[0] == 409  # handled now: a replay
    assert seen == ["n", "n"]


async def test_a_signed_body_with_a_huge_number_or_deep_nesting_is_a_400(
    webhooks: Webhooks,
) -> None:
    seen: list[str] = []
    webhooks.on_inbound("notice", ("id", "compound", "text"), handler("n", seen), senders=WATER)
    huge = b'{"id": "x", "compound": "heping", "text": "t", "n": ' + b"9" * 5000 + b"}"
    deep = (
        b'{"id": "x", "compound": "heping", "text": "t", "n": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    )
    for body in (huge, deep):
        code, answer = await post(webhooks, body)
        assert code == 400 and "JSON" in answer["error"]
    assert seen == []


def test_a_kind_that_cannot_be_told_apart_is_refused_instead_of_taking_over(
    webhooks: Webhooks,
) -> None:
    webhooks.on_inbound("notice", ("id", "compound", "text"), handler("n", []), senders=WATER)
    with pytest.raises(ValueError, match="cannot be told apart"):
        webhooks.on_inbound("alert", ("id", "text"), handler("a", []), senders=WATER)
    with pytest.raises(ValueError, match="cannot be told apart"):
        webhooks.on_inbound(
            "alert", ("id", "compound", "text", "level"), handler("a", []), senders=WATER
        )
    # The same kind registered again (a bot built again) replaces itself.
    webhooks.on_inbound("notice", ("id", "compound", "text"), handler("n2", []), senders=WATER)
    assert [k.name for k in webhooks.kinds] == ["notice"]
