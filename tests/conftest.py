"""Fixtures for every test: one fresh database per test on each engine Linli supports (SQLite
and PostgreSQL; tests/postgres.py says where the PostgreSQL comes from). `database_url` is one
`Store.open` can use at once (on PostgreSQL already at the schema's head); `empty_database_url`
has no schema at all, for the migration tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.postgres import ThrowawayPostgres

ENGINES = ["sqlite", "postgresql"]

# The tests' files (Synapse's and Linli's SQLite databases above all) go to memory when the
# machine has room there: a test database is thrown away, so the fsync of every commit buys
# nothing, and it was a third of the integration suite's time on the 2-core machine (test_tickets:
# 106 s on disk, 73 s in /dev/shm, back to back). `--basetemp DIR` or LINLI_TEST_DISK_TMP=1 keep
# them on disk (to look at them after a failure: the memory copy is removed at the end).
TMPFS = Path("/dev/shm")
TMPFS_ROOM = 2 << 30
_in_memory = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp or os.environ.get("LINLI_TEST_DISK_TMP"):
        return
    if not (TMPFS.is_dir() and os.access(TMPFS, os.W_OK | os.X_OK)):
        return
    if shutil.disk_usage(TMPFS).free < TMPFS_ROOM:
        return
    base = tempfile.mkdtemp(prefix="linli-tests-", dir=TMPFS)
    config.option.basetemp = base
    config.stash[_in_memory] = base


def pytest_unconfigure(config: pytest.Config) -> None:
    base = config.stash.get(_in_memory, None)
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """Started only when a test asks for a PostgreSQL database."""
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def _database(
    request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}"
        return
    server: ThrowawayPostgres = request.getfixturevalue("postgres")
    url = await server.fresh_database(migrated=migrated)
    yield url
    await server.drop(url)


@pytest_asyncio.fixture(params=ENGINES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async for url in _database(request, tmp_path, migrated=True):
        yield url


@pytest_asyncio.fixture(params=ENGINES)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async for url in _database(request, tmp_path, migrated=False):
        yield url
