"""The homeserver client against a scripted local HTTP server: what it retries and what not."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bridge.matrix import MatrixClient, derived_txn_id
from bridge.matrix_errors import Forbidden, Unavailable


class Script:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.seen: list[web.Request] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(request)
        status, body = self.answers.pop(0) if self.answers else (200, {"event_id": "$ok"})
        return web.json_response(body, status=status)


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Script]]:
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", script
    await runner.cleanup()


def client(url: str, sleeps: list[float]) -> MatrixClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return MatrixClient(url, "as-token", "@linli:x", backoff_base=0.5, sleep=sleep)


async def test_429_waits_as_told_and_5xx_backs_off(server: tuple[str, Script]) -> None:
    url, script = server
    sleeps: list[float] = []
    c = client(url, sleeps)
    script.answers = [
        (429, {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1500}),
        (502, {}),
        (503, {}),
        (200, {"event_id": "$sent"}),
    ]
    assert await c.send("!r:x", {"body": "hi"}, "txn1", as_user="@linli_b:x") == "$sent"
    assert sleeps == [1.5, 1.0, 2.0]
    request = script.seen[-1]
    assert request.headers["Authorization"] == "Bearer as-token"
    assert request.query["user_id"] == "@linli_b:x"
    assert request.path.endswith("/send/m.room.message/txn1")
    await c.close()


async def test_a_4xx_is_never_retried_and_becomes_a_typed_error(server: tuple[str, Script]) -> None:
    url, script = server
    sleeps: list[float] = []
    c = client(url, sleeps)
    script.answers = [(403, {"errcode": "M_FORBIDDEN", "error": "not in room"})]
    with pytest.raises(Forbidden) as e:
        await c.send("!r:x", {"body": "hi"}, "txn2")
    assert (e.value.status, e.value.errcode) == (403, "M_FORBIDDEN")
    assert sleeps == [] and len(script.seen) == 1
    await c.close()


async def test_gives_up_after_the_last_attempt(server: tuple[str, Script]) -> None:
    url, script = server
    sleeps: list[float] = []
    c = MatrixClient(url, "t", "@linli:x", max_attempts=3, sleep=lambda s: _record(sleeps, s))
    script.answers = [(500, {})] * 3
    with pytest.raises(Unavailable):
        await c.send("!r:x", {}, "txn3")
    assert len(script.seen) == 3 and len(sleeps) == 2
    await c.close()


async def _record(sleeps: list[float], seconds: float) -> None:
    sleeps.append(seconds)


def test_derived_txn_ids_are_stable_and_distinct() -> None:
    assert derived_txn_id("$a", "1") == derived_txn_id("$a", "1")
    assert derived_txn_id("$a", "1") != derived_txn_id("$a", "2")
    assert derived_txn_id("$a", "1") != derived_txn_id("$b", "1")
