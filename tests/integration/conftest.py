"""One real Synapse for the session (SQLite, loopback), registered with Linli's appservice.

Each test gets its own Linli database and alias prefix (`harness`), and makes its own users.

Linli's database: the tests in BOTH_ENGINES run once on SQLite and once on PostgreSQL, the
engine in the test's ID (`[sqlite]`, `[postgresql]`; a fresh database per test,
tests/postgres.py); every other harness test runs on SQLite. `LINLI_TEST_ENGINE=postgresql`
runs every harness test on PostgreSQL instead, `LINLI_TEST_ENGINE=both` every one on both
(about twice the integration suite's time). docs/self-hosting.md says which and why.
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


# On both engines: the Synapse-driven tests where what Linli stores matters most, at least two
# per bot: a record's whole life, a restart in the middle of the clock's work (jobs claimed
# once), aggregates (statistics, tallies, reach), a person's data exported and erased across
# every table. The store operations themselves all run on both engines in the unit tests
# (tests/conftest.py, `database_url`). Process-level and protocol tests (Linli run as a process:
# crash, resend, log privacy, demo; appservice authentication; the homeserver's own checks of
# provisioned rooms) are about what does not depend on the engine, and stay on SQLite.
BOTH_ENGINES = {
    "test_tickets.py": [
        "test_first_response_done_confirm_rate_reopen_and_auto_close",
        "test_reminder_and_escalation_fire_once_across_a_restart_and_reach_the_grid",
        "test_stats_and_the_weekly_report_from_known_times",
        "test_staff_assign_note_category_and_list",
    ],
    "test_votes.py": [
        "test_an_owners_vote_weighted_by_floor_area_passes_ordinary_and_fails_major",
        "test_closing_survives_a_restart_and_fires_once",
        "test_a_secret_owners_vote_keeps_choices_out_of_the_hall_and_its_audit_recounts",
    ],
    "test_notices.py": [
        "test_receipts_and_a_reaction_make_reach_per_building_a_lower_bound",
        "test_recurring_notice_fires_at_each_cron_time_and_not_twice_across_a_restart",
        "test_a_receipt_sent_while_linli_was_down_is_counted_after_it_starts",
    ],
    "test_onboarding.py": [
        "test_personal_data_stays_private_is_exported_and_forgotten",
        "test_moving_out_removes_from_resident_rooms_and_keeps_tickets_anonymised",
        "test_roster_import_reports_bad_lines_and_requests_must_match_it",
    ],
    "test_metrics.py": ["test_commands_and_ticket_gauges_move_when_synapse_delivers"],
}


def engines_for(module: str, test: str) -> list[str]:
    chosen = os.environ.get("LINLI_TEST_ENGINE", "")
    if chosen == "postgresql":
        return ["postgresql"]
    if chosen == "both" or test in BOTH_ENGINES.get(module, ()):
        return ["sqlite", "postgresql"]
    return ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "linli_engine" not in metafunc.fixturenames:
        return
    engines = engines_for(metafunc.definition.path.name, metafunc.definition.originalname)
    if engines != ["sqlite"]:
        metafunc.parametrize("linli_engine", engines, scope="function")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test named in BOTH_ENGINES but gone (renamed) would quietly stop running on
    PostgreSQL: refused, whenever its module is collected."""
    modules = {item.path.name: item.module for item in items if isinstance(item, pytest.Function)}
    for name, tests in BOTH_ENGINES.items():
        if name in modules:
            missing = [t for t in tests if not hasattr(modules[name], t)]
            if missing:
                raise pytest.UsageError(f"BOTH_ENGINES names tests {name} has not: {missing}")


@pytest.fixture
def linli_engine() -> str:
    """The engine of the test's Linli database (parametrised by pytest_generate_tests)."""
    return "sqlite"


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
    session: Session, tmp_path: Path, request: pytest.FixtureRequest, linli_engine: str
) -> AsyncIterator[Harness]:
    database_url = None
    if linli_engine == "postgresql":
        database_url = await request.getfixturevalue("postgres").fresh_database(migrated=True)
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
