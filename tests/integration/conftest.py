"""One real Synapse for the session (SQLite, loopback), registered with Linli's appservice.

Each test gets its own Linli database and alias prefix (`harness`), and makes its own users.
"""

from __future__ import annotations

import itertools
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Session:
    def __init__(self, synapse: LocalSynapse, as_token: str, hs_token: str, port: int) -> None:
        self.synapse = synapse
        self.as_token = as_token
        self.hs_token = hs_token
        self.port = port


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def session(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Session]:
    root = tmp_path_factory.mktemp("synapse")
    port = free_port()
    config = BridgeConfig(
        homeserver=HomeserverConfig(server_name=SERVER),
        appservice=AppserviceConfig(
            as_token=secrets.token_hex(16),
            hs_token=secrets.token_hex(16),
            listen_port=port,
            url=f"http://127.0.0.1:{port}",
        ),
    )
    # No compounds given: the alias namespace covers every test's prefix.
    registration = write_registration(config, None, root / "linli-registration.yaml")
    synapse = LocalSynapse(
        SynapseSettings(
            data_dir=root,
            server_name=SERVER,
            port=free_port(),
            app_service_config_files=[registration],
        )
    )
    synapse.write_config()
    await synapse.start()
    # The example config's staff and observers exist, so that apply can invite them.
    for localpart in _example_localparts():
        await synapse.register_user(localpart, PASSWORD)
    yield Session(synapse, config.appservice.as_token, config.appservice.hs_token, port)
    await synapse.stop()


def _example_localparts() -> set[str]:
    found = set()
    for path in EXAMPLES.rglob("*.yaml"):
        for token in path.read_text(encoding="utf-8").split('"'):
            if token.startswith("@") and token.endswith(f":{SERVER}"):
                found.add(token[1 : -len(SERVER) - 1])
    return found


@pytest_asyncio.fixture(loop_scope="session")
async def harness(session: Session, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(
        homeserver_url=session.synapse.base_url,
        server_name=SERVER,
        as_token=session.as_token,
        hs_token=session.hs_token,
        port=session.port,
        workdir=tmp_path,
    )
    yield h
    await h.stop_all()


@pytest_asyncio.fixture(loop_scope="session")
async def make_user(session: Session) -> AsyncIterator[Callable[[], Awaitable[ResidentClient]]]:
    clients: list[ResidentClient] = []

    async def make() -> ResidentClient:
        localpart = f"user{next(_users)}_{secrets.token_hex(3)}"
        user_id = await session.synapse.register_user(localpart, PASSWORD)
        client = await ResidentClient.login(session.synapse.base_url, user_id, PASSWORD)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def staff_client(
    session: Session,
) -> AsyncIterator[Callable[[str], Awaitable[ResidentClient]]]:
    """Log in as one of the example config's people (they exist for the whole session)."""
    clients: list[ResidentClient] = []

    async def login(localpart: str) -> ResidentClient:
        client = await ResidentClient.login(
            session.synapse.base_url, f"@{localpart}:{SERVER}", PASSWORD
        )
        clients.append(client)
        return client

    yield login
    for client in clients:
        await client.close()
