"""What the database layer lets out: no SQL parameters (residents' names, message texts) in its
errors, which the inbox stores and the logs print, nor in its log lines under `linli -v`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from bridge.cli import setup_logging
from bridge.store import Store
from bridge.store.jobs import add_jobs

# ASCII, so that it shows as typed inside JSON text too
SECRET = "Zhang San, 3-2-1101"
NOON = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)


async def test_a_database_error_does_not_carry_its_parameters(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        job = (f"ticket:1:{SECRET}", "remind", NOON, {"name": SECRET})
        await store.jobs.schedule_many([job])
        with pytest.raises(IntegrityError) as caught:
            async with store.db.transaction() as session:
                # the key is taken: a unique violation whose parameters hold the secret (and
                # whose key would be in PostgreSQL's DETAIL, which the driver leaves out)
                await add_jobs(session, [job], fresh=True)
        error = caught.value
        assert "unique" in str(error).lower()
        # what InboxWorker._failed stores and logs: repr(error), and the log's str(error)
        for text in (str(error), repr(error), str(error.orig)):
            assert SECRET not in text
    finally:
        await store.close()


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    names = ["", "sqlalchemy", "sqlalchemy.engine", "aiosqlite", "alembic"]
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_verbose_logging_does_not_print_sql_parameters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, restore_loggers: None
) -> None:
    setup_logging(verbose=True)
    assert logging.getLogger("sqlalchemy.engine").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("aiosqlite").getEffectiveLevel() >= logging.WARNING
    caplog.set_level(logging.DEBUG)  # everything else at DEBUG, as `linli -v` has it
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}")
    try:
        await store.jobs.schedule("ticket:1:remind", "remind", NOON, {"name": SECRET})
        assert (await store.jobs.due(NOON))[0].payload == {"name": SECRET}
    finally:
        await store.close()
    assert not [r for r in caplog.records if SECRET in r.getMessage()]
