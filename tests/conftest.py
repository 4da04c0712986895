"""Fixtures for every test: `database_url`, one fresh database per test on each engine Linli
supports (SQLite and PostgreSQL; tests/postgres.py says where the PostgreSQL comes from)."""

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
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(params=ENGINES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}"
        return
    server: ThrowawayPostgres = request.getfixturevalue("postgres")
    url = await server.fresh_database()
    yield url
    await server.drop(url)
