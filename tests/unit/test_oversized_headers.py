"""A request aiohttp cannot parse (here a header over 8 KB), sent without a token to the
appservice port (which also serves the webhooks) or the metrics port, is one WARNING line that
does not quote the header: no ERROR, no traceback (issue 18)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bench.common import free_port
from bridge.appservice import AppserviceServer
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig
from bridge.matrix import MatrixClient
from bridge.ops import HealthCheck, OpsServer
from bridge.store import Database, Store
from tests.unit.test_ops import NOW

MARKER = "oversized-header-value-"


async def status_of_oversized_request(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    header = MARKER + "x" * 9000
    writer.write(f"GET {path} HTTP/1.1\r\nHost: linli\r\nX-Filler: {header}\r\n\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return status


def appservice(port: int, store: Store) -> AppserviceServer:
    config = BridgeConfig(
        appservice=AppserviceConfig(
            listen_host="127.0.0.1", listen_port=port, as_token="a" * 20, hs_token="h" * 20
        )
    )
    return AppserviceServer(config, store, FakeClock(NOW), lambda _: None, lambda _: False)


@pytest.mark.parametrize(
    ("listener", "path"),
    [("appservice", "/_matrix/app/v1/transactions/1"), ("appservice", "/linli/webhooks/grid"),
     ("metrics", "/metrics")],
)  # fmt: skip
async def test_an_oversized_header_is_one_warning_line_without_the_header(
    listener: str, path: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(Database(f"sqlite+aiosqlite:///{tmp_path}/linli.db"))
    client = MatrixClient("http://127.0.0.1:9", "token", "@linli:linli.localhost")
    port = free_port()
    server: AppserviceServer | OpsServer
    if listener == "appservice":
        server = appservice(port, store)
    else:
        server = OpsServer(store, HealthCheck(store, client), "127.0.0.1", port)
    start: Callable[[], Awaitable[None]] = server.start
    await start()
    caplog.set_level(logging.DEBUG)
    try:
        status = await status_of_oversized_request(port, path)
    finally:
        await server.stop()
        await client.close()
    assert status.split()[1] == b"400", status
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelname for r in said] == ["WARNING"], [r.getMessage() for r in said]
    assert said[0].exc_info is None and said[0].exc_text is None
    assert "LineTooLong" in said[0].getMessage()
    assert MARKER not in caplog.text
