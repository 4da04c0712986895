"""A transaction Synapse wrote while it still thought Linli down is never sent on its own (its
recoverer had just looked): the one after it skips its number, and is refused once, while the
homeserver may be recovering, so that the recoverer sends the missing one first
(bridge/txn_gaps.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bench.common import free_port
from bridge.appservice import AppserviceServer
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig
from bridge.store import Store
from bridge.txn_gaps import GapGuard
from tests.unit.test_ops import NOW

HS_TOKEN = "h" * 20


def test_a_skipped_number_is_refused_once_and_the_sequence_goes_on() -> None:
    guard = GapGuard()
    assert not guard.refuse("7")  # nothing seen yet: nothing to compare with
    guard.accepted("7")
    assert not guard.refuse("8")
    guard.accepted("8")
    assert guard.refuse("10")  # 9 was written and not sent
    guard.accepted("9")  # the recoverer sends it first...
    assert not guard.refuse("10")  # ...then the refused one again
    guard.accepted("10")
    assert guard.refusals == 1


def test_a_gap_that_was_not_ours_costs_one_refusal() -> None:
    guard = GapGuard()
    guard.accepted("20")
    assert guard.refuse("22")  # 21 went to another application service
    assert not guard.refuse("22")  # sent again: taken
    guard.accepted("22")
    assert guard.last == 22 and guard.refusals == 1


def test_numbering_anew_and_opaque_ids_are_not_gaps() -> None:
    guard = GapGuard()
    guard.accepted("500")
    assert not guard.refuse("1")  # Synapse on SQLite numbers from one after its restart
    guard.accepted("1")
    assert not guard.refuse("2") and guard.refuse("4")
    other = GapGuard()
    other.accepted("abc")
    assert not other.refuse("txn-9") and other.last is None


def test_the_last_run_seeds_the_sequence() -> None:
    guard = GapGuard()
    guard.seed(["40:aa", "41:bb", "linli-ping:cc"])  # newest last; opaque ones skipped
    assert guard.last == 41
    assert guard.refuse("43") and not guard.refuse("42")


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[tuple[AppserviceServer, list[str]]]:
    store = await Store.open(database_url)
    gaps: list[str] = []
    config = BridgeConfig(
        appservice=AppserviceConfig(
            listen_host="127.0.0.1", listen_port=free_port(), as_token="a" * 20, hs_token=HS_TOKEN
        )
    )
    server = AppserviceServer(
        config,
        store,
        FakeClock(NOW),
        lambda arrival: arrival.handled.set(),
        lambda _: False,
        on_gap=lambda: gaps.append("ping"),
    )
    await server.load_recent()
    await server.start()  # the homeserver may be recovering: the gap is watched
    yield server, gaps
    await server.stop()
    await store.close()


def message(n: int) -> dict[str, Any]:
    return {
        "event_id": f"$gap-{n}",
        "room_id": "!r:linli.localhost",
        "sender": "@someone:linli.localhost",
        "type": "m.room.message",
        "origin_server_ts": n,
        "content": {"msgtype": "m.text", "body": f"{n}"},
    }


async def put(server: AppserviceServer, txn_id: str, n: int) -> int:
    port = server.config.appservice.listen_port
    url = f"http://127.0.0.1:{port}/_matrix/app/v1/transactions/{txn_id}"
    headers = {"Authorization": f"Bearer {HS_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.put(url, json={"events": [message(n)]}, headers=headers) as resp:
            return resp.status


async def test_the_endpoint_refuses_the_transaction_after_a_gap_and_asks_for_the_missing_one(
    server: tuple[AppserviceServer, list[str]],
) -> None:
    appservice, gaps = server
    assert await put(appservice, "1", 1) == 200
    assert await put(appservice, "3", 3) == 503  # 2 is stranded in the homeserver
    assert gaps == ["ping"]
    assert await appservice.store.inbox.status_of("$gap-3") is None  # nothing stored
    # The recoverer: the oldest unsent first, then the refused one.
    assert await put(appservice, "2", 2) == 200
    assert await put(appservice, "3", 3) == 200
    for n in (1, 2, 3):
        assert await appservice.store.inbox.status_of(f"$gap-{n}") == "pending"
    assert gaps == ["ping"]


async def test_outside_a_recovery_a_gap_is_taken_as_it_comes(
    server: tuple[AppserviceServer, list[str]],
) -> None:
    appservice, gaps = server
    assert await put(appservice, "1", 1) == 200  # the first since the start
    appservice._acknowledge_at_once_until = 0.0  # long after it: not recovering
    assert await put(appservice, "3", 3) == 200
    assert gaps == []


async def test_the_first_transaction_long_after_the_start_opens_the_watch_again(
    server: tuple[AppserviceServer, list[str]],
) -> None:
    # The ping at start did not get through: the homeserver's recoverer starts minutes later.
    appservice, gaps = server
    appservice.gaps.seed(["4:aa"])
    appservice._acknowledge_at_once_until = 0.0
    assert await put(appservice, "6", 6) == 503  # the first since the start: recovering
    assert gaps == ["ping"]
