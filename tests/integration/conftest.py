"""One real Synapse for the session (SQLite, loopback), registered with Linli's appservice.

Each test gets its own Linli database and alias prefix (`harness`), and makes its own users.
Linli's database is SQLite; `LINLI_TEST_ENGINE=postgresql` runs the suite on PostgreSQL (a fresh
database per test, tests/postgres.py).
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from bridge.config import AppserviceConfig, BridgeConfig, HomeserverConfig
from bridge.local_synapse import LocalSynapse, SynapseSettings
from bridge.registration import write_registration
from tests.integration.harness import EXAMPLES, Harness
from tests.integration.matrix_client import ResidentClient

SERVER = "linli.localhost"
PASSWORD = "correct horse battery"
_users = itertools.count()


def free_port() -> int:
    # The port may be taken again before it is used; on a loopback-only test machine that race
    # is remote enough, and LocalSynapse.start() refuses a taken port loudly.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class AppserviceRegistration:
    path: Path
    as_token: str
    hs_token: str
    port: int  # where Linli must listen for the homeserver's transactions
    sender_localpart: str


@dataclass(frozen=True)
class Session:
    synapse: LocalSynapse
    as_token: str
    hs_token: str
    port: int


@pytest.fixture(scope="session")
def appservice_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def appservice_registration(
    tmp_path_factory: pytest.TempPathFactory, appservice_port: int
) -> AppserviceRegistration:
    """Linli's registration file, written by the product's own writer from a test bridge.yaml."""
    config = BridgeConfig(
        homeserver=HomeserverConfig(server_name=SERVER),
        appservice=AppserviceConfig(
            as_token=secrets.token_hex(16),
            hs_token=secrets.token_hex(16),
            listen_port=appservice_port,
            url=f"http://127.0.0.1:{appservice_port}",
        ),
    )
    # No compounds given: the alias namespace covers every test's prefix.
    path = write_registration(
        config, None, tmp_path_factory.mktemp("appservice") / "linli-registration.yaml"
    )
    return AppserviceRegistration(
        path=path,
        as_token=config.appservice.as_token,
        hs_token=config.appservice.hs_token,
        port=appservice_port,
        sender_localpart=config.bots.main,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def synapse(
    tmp_path_factory: pytest.TempPathFactory, appservice_registration: AppserviceRegistration
) -> AsyncIterator[LocalSynapse]:
    homeserver = LocalSynapse(
        SynapseSettings(
            data_dir=tmp_path_factory.mktemp("synapse"),
            server_name=SERVER,
            port=free_port(),
            app_service_config_files=[appservice_registration.path],
        )
    )
    await homeserver.start()
    try:
        # The example config's staff and observers exist, so that apply can invite them.
        for localpart in _example_localparts():
            await homeserver.register_user(localpart, PASSWORD)
        yield homeserver
    finally:
        await homeserver.stop()


@pytest.fixture(scope="session")
def session(synapse: LocalSynapse, appservice_registration: AppserviceRegistration) -> Session:
    return Session(
        synapse,
        appservice_registration.as_token,
        appservice_registration.hs_token,
        appservice_registration.port,
    )


def _example_localparts() -> set[str]:
    found = set()
    for path in EXAMPLES.rglob("*.yaml"):
        for token in path.read_text(encoding="utf-8").split('"'):
            if token.startswith("@") and token.endswith(f":{SERVER}"):
                found.add(token[1 : -len(SERVER) - 1])
    return found


@pytest_asyncio.fixture(loop_scope="session")
async def harness(
    session: Session, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    database_url = None
    if os.environ.get("LINLI_TEST_ENGINE") == "postgresql":
        database_url = await request.getfixturevalue("postgres").fresh_database()
    h = Harness(
        homeserver_url=session.synapse.base_url,
        server_name=SERVER,
        as_token=session.as_token,
        hs_token=session.hs_token,
        port=session.port,
        workdir=tmp_path,
        database_url=database_url,
    )
    yield h
    await h.stop_all()
    if database_url is not None:
        await request.getfixturevalue("postgres").drop(database_url)


@pytest_asyncio.fixture(loop_scope="session")
async def make_user(
    synapse: LocalSynapse,
) -> AsyncIterator[Callable[[], Awaitable[ResidentClient]]]:
    """A factory: each call registers a new user and returns their logged-in client."""
    clients: list[ResidentClient] = []

    async def make() -> ResidentClient:
        localpart = f"user{next(_users)}_{secrets.token_hex(3)}"
        user_id = await synapse.register_user(localpart, PASSWORD)
        client = await ResidentClient.login(synapse.base_url, user_id, PASSWORD)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def staff_client(
    synapse: LocalSynapse,
) -> AsyncIterator[Callable[[str], Awaitable[ResidentClient]]]:
    """Log in as one of the example config's people (they exist for the whole session)."""
    clients: list[ResidentClient] = []

    async def login(localpart: str) -> ResidentClient:
        client = await ResidentClient.login(synapse.base_url, f"@{localpart}:{SERVER}", PASSWORD)
        clients.append(client)
        return client

    yield login
    for client in clients:
        await client.close()
