"""`/health` and `/metrics` as an operator's tools see them: a real SQLite store, a scripted
homeserver, aiohttp's test client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bridge import metrics
from bridge.appservice import AppserviceServer
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig
from bridge.matrix import MatrixClient
from bridge.ops import HealthCheck, OpsServer
from bridge.store import Database, Store

HS_TOKEN = "hs-token-for-the-ops-tests"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

METRIC_NAMES = [
    "linli_appservice_transactions_total counter",
    "linli_appservice_events_received_total counter",
    "linli_events_handled_total counter",
    "linli_events_failed_total counter",
    "linli_event_handling_seconds histogram",
    "linli_commands_total counter",
    "linli_inbox_events gauge",
    "linli_scheduled_jobs gauge",
    "linli_scheduler_jobs_fired_total counter",
    "linli_scheduler_lag_seconds histogram",
    "linli_webhook_outbox gauge",
    "linli_webhook_deliveries_total counter",
    "linli_tickets gauge",
    "linli_homeserver_request_seconds histogram",
    "linli_homeserver_request_errors_total counter",
]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path}/ops.db")
    yield opened
    await opened.close()


@pytest.fixture
async def homeserver() -> AsyncIterator[str]:
    """A homeserver that answers `/versions` and nothing else."""
    app = web.Application()

    async def versions(request: web.Request) -> web.Response:
        return web.json_response({"versions": ["v1.11"]})

    app.router.add_get("/_matrix/client/versions", versions)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[Any]:
    clients: list[TestClient[Any, Any]] = []

    async def serve(app: web.Application) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield serve
    for client in clients:
        await client.close()


def matrix(url: str) -> MatrixClient:
    return MatrixClient(url, "as-token", "@linli:linli.localhost")


async def test_health_is_200_with_a_working_database_and_homeserver(
    store: Store, homeserver: str, http: Any
) -> None:
    client = matrix(homeserver)
    ops = OpsServer(store, HealthCheck(store, client), "127.0.0.1", 0)
    response = await (await http(ops.app)).get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["homeserver"] == "ok"
    assert body["inbox_backlog"] == 0
    assert body["homeserver_answered_seconds_ago"] is not None
    assert body["role"] == "single"  # "leader" when holding the PostgreSQL lease (cli_commands)
    await client.close()


async def test_health_counts_the_inbox_backlog(store: Store, homeserver: str, http: Any) -> None:
    await store.inbox.store_transaction("t1", [{"event_id": "$a"}, {"event_id": "$b"}], NOW)
    client = matrix(homeserver)
    ops = OpsServer(store, HealthCheck(store, client), "127.0.0.1", 0)
    body = await (await (await http(ops.app)).get("/health")).json()
    assert body["inbox_backlog"] == 2
    await client.close()


async def test_health_is_503_when_the_database_is_unreachable(
    tmp_path: Path, homeserver: str, http: Any
) -> None:
    # A database file in a folder that does not exist: every connection fails.
    unreachable = Store(Database(f"sqlite+aiosqlite:///{tmp_path}/gone/linli.db"))
    client = matrix(homeserver)
    ops = OpsServer(unreachable, HealthCheck(unreachable, client), "127.0.0.1", 0)
    response = await (await http(ops.app)).get("/health")
    assert response.status == 503
    body = await response.json()
    assert body["database"] == "down" and body["homeserver"] == "ok"
    assert body["inbox_backlog"] is None
    # /metrics still answers: the counters do not need the database.
    assert (await (await http(ops.app)).get("/metrics")).status == 200
    await client.close()
    await unreachable.close()


async def test_health_is_503_when_the_homeserver_does_not_answer(store: Store, http: Any) -> None:
    client = matrix(f"http://127.0.0.1:{closed_port()}")
    ops = OpsServer(store, HealthCheck(store, client), "127.0.0.1", 0)
    response = await (await http(ops.app)).get("/health")
    assert response.status == 503
    assert (await response.json())["homeserver"] == "down"
    await client.close()


async def test_health_trusts_recent_traffic_instead_of_asking_the_homeserver(
    store: Store,
) -> None:
    client = matrix(f"http://127.0.0.1:{closed_port()}")
    # An answer a moment ago: no probe (which would fail against the closed port).
    client._observe("PUT", 0.0, 200)
    ok, body = await HealthCheck(store, client).report()
    assert ok and body["homeserver"] == "ok"
    # A failure after it: down, still without asking.
    client._observe("PUT", 0.0, 502)
    ok, body = await HealthCheck(store, client).report()
    assert not ok and body["homeserver"] == "down"
    await client.close()


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_are_on_their_own_listener_and_name_every_metric(
    store: Store, homeserver: str, http: Any
) -> None:
    client = matrix(homeserver)
    ops = OpsServer(store, HealthCheck(store, client), "127.0.0.1", 0)
    await store.jobs.schedule("job:1", "remind", NOW, {})
    metrics.observe_job("remind", "done", 0.5)
    metrics.observe_webhook_attempt(delivered=False)
    await client.probe()
    response = await (await http(ops.app)).get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    for name in METRIC_NAMES:
        assert f"# TYPE {name}" in text, name
    assert value(text, 'linli_scheduled_jobs{status="pending"}') == 1
    await client.close()


async def test_the_appservice_port_serves_health_without_a_token_and_no_metrics(
    store: Store, homeserver: str, http: Any
) -> None:
    client = matrix(homeserver)
    config = BridgeConfig(appservice=AppserviceConfig(as_token="a" * 20, hs_token=HS_TOKEN))
    health = HealthCheck(store, client)
    server = AppserviceServer(
        config, store, FakeClock(NOW), lambda _: None, lambda _: False, None, health.handle
    )
    appservice = await http(server.app)
    assert (await appservice.get("/health")).status == 200
    assert (await appservice.get("/metrics")).status == 404
    # The homeserver's own paths still need the hs_token.
    assert (await appservice.post("/_matrix/app/v1/ping", json={})).status == 401
    await client.close()


async def test_counters_move_with_transactions_events_and_homeserver_errors(
    store: Store, http: Any
) -> None:
    client = matrix(f"http://127.0.0.1:{closed_port()}")
    ops = await http(OpsServer(store, HealthCheck(store, client), "127.0.0.1", 0).app)
    before = await (await ops.get("/metrics")).text()

    metrics.observe_event("m.room.message", 0.004, failed=False)
    metrics.observe_event("m.reaction", 0.2, failed=True)
    config = BridgeConfig(appservice=AppserviceConfig(as_token="a" * 20, hs_token=HS_TOKEN))
    server = AppserviceServer(config, store, FakeClock(NOW), lambda _: None, lambda _: False)
    appservice = await http(server.app)
    put = await appservice.put(
        "/_matrix/app/v1/transactions/1",
        json={"events": [{"event_id": "$x", "sender": "@r:linli.localhost"}]},
        headers={"Authorization": f"Bearer {HS_TOKEN}"},
    )
    assert put.status == 200
    await client.probe()

    after = await (await ops.get("/metrics")).text()

    def moved(sample: str) -> float:
        return value(after, sample) - value(before, sample)

    assert moved('linli_events_handled_total{kind="m.room.message"}') == 1
    assert moved('linli_events_failed_total{kind="m.reaction"}') == 1
    assert moved('linli_event_handling_seconds_count{kind="m.reaction"}') == 1
    assert moved('linli_appservice_transactions_total{outcome="stored"}') == 1
    assert moved("linli_appservice_events_received_total") == 1
    assert moved('linli_homeserver_request_errors_total{method="GET",reason="connection"}') == 1
    assert value(after, 'linli_inbox_events{status="pending"}') == 1
    await client.close()


async def test_the_metrics_listener_binds_a_free_port_when_asked_for_port_0(store: Store) -> None:
    client = matrix(f"http://127.0.0.1:{closed_port()}")
    ops = OpsServer(store, HealthCheck(store, client), "127.0.0.1", 0)
    await ops.start()
    try:
        assert ops.port != 0
    finally:
        await ops.stop()
        await client.close()


async def test_health_turns_503_when_the_homeserver_stops_and_200_when_it_returns(
    store: Store,
) -> None:
    port = closed_port()
    app = web.Application()

    async def versions(request: web.Request) -> web.Response:
        return web.json_response({"versions": ["v1.11"]})

    app.router.add_get("/_matrix/client/versions", versions)
    client = matrix(f"http://127.0.0.1:{port}")
    # fresh_for 0: every report asks the homeserver, as one would after a quiet spell.
    health = HealthCheck(store, client, fresh_for=0.0)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    assert (await health.report())[0]
    await runner.cleanup()
    ok, body = await health.report()
    assert not ok and body["homeserver"] == "down" and body["database"] == "ok"
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    assert (await health.report())[0]
    await runner.cleanup()
    await client.close()
