"""Fixtures for every test: one fresh database per test on each engine Linli supports (SQLite
and PostgreSQL; tests/postgres.py says where the PostgreSQL comes from). `database_url` is one
`Store.open` can use at once (on PostgreSQL already at the schema's head); `empty_database_url`
has no schema at all, for the migration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.postgres import ThrowawayPostgres

ENGINES = ["sqlite", "postgresql"]


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
