"""A port that is taken at start is said in one line naming the setting to change."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bridge.app import StartError, _listening
from bridge.matrix import MatrixClient
from bridge.ops import HealthCheck, OpsServer
from bridge.store import Database, Store


async def test_a_taken_metrics_port_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    store = Store(Database(f"sqlite+aiosqlite:///{tmp_path}/linli.db"))
    client = MatrixClient("http://127.0.0.1:9", "token", "@linli:linli.localhost")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ops = OpsServer(store, HealthCheck(store, client), "127.0.0.1", port)
        with pytest.raises(StartError) as caught:
            await _listening(ops.start(), f"127.0.0.1:{port}", "metrics.listen_port")
    await ops.stop()
    await client.close()
    said = str(caught.value)
    assert f"127.0.0.1:{port} is in use" in said and "metrics.listen_port" in said
    assert "\n" not in said


async def test_other_listen_errors_are_not_disguised_as_a_taken_port() -> None:
    async def refuse() -> None:
        raise PermissionError(13, "permission denied")

    with pytest.raises(PermissionError):
        await _listening(refuse(), "0.0.0.0:80", "appservice.listen_port")
