"""Log lines: one format with a UTC timestamp and the logger's name, JSON lines when asked, and
no tokens, names or addresses even at DEBUG."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from bridge import logs
from bridge.store import Store

TOKEN = "as-token-that-must-never-be-logged"
NAME, HOUSEHOLD = "王小明", ("2", "1", "501")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logs._mask_filter.secrets.clear()


def test_a_text_line_has_a_utc_timestamp_the_level_and_the_logger(captured: io.StringIO) -> None:
    logs.setup(fmt="text", stream=captured)
    logging.getLogger("bridge.scheduler").info("job %s fired", "ticket:1:remind")
    line = captured.getvalue().strip()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO bridge.scheduler: job ticket:1:remind fired",
        line,
    ), line


def test_json_lines_carry_the_same_fields(captured: io.StringIO) -> None:
    logs.setup(fmt="json", stream=captured)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("bridge.dispatch").exception("event %s failed", "$abc")
    record = json.loads(captured.getvalue())
    assert record["level"] == "ERROR" and record["logger"] == "bridge.dispatch"
    assert record["message"] == "event $abc failed"
    assert record["time"].endswith("Z") and "ValueError: boom" in record["exception"]


def test_a_known_secret_is_masked_wherever_it_appears(captured: io.StringIO) -> None:
    logs.setup(stream=captured)
    logs.hide(TOKEN)
    log = logging.getLogger("bridge.matrix")
    log.warning("request with %s failed", TOKEN)
    try:
        raise RuntimeError(f"Bearer {TOKEN}")
    except RuntimeError:
        log.exception("unexpected")
    text = captured.getvalue()
    assert TOKEN not in text
    assert text.count(logs.MASK) == 2


async def test_debug_logging_of_the_store_shows_no_names_or_addresses(
    captured: io.StringIO, tmp_path: Path
) -> None:
    logs.setup(verbose=True, stream=captured)
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path}/linli.db")
    building, unit, room = HOUSEHOLD
    await store.roster.import_roster("heping", [(building, unit, room, "88.5", [NAME], [])], NOW)
    # An error from the database: its message names the statement, never the values.
    try:
        async with store.db.engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO roster_households (compound, building, unit, room, floor_area, "
                "owners, phone_hashes, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ("heping", building, unit, room, "1", f'["{NAME}"]', "[]", NOW.isoformat()),
            )
    except IntegrityError:
        logging.getLogger("bridge.dispatch").exception("could not import")
    else:
        pytest.fail("the duplicate household was accepted")
    await store.close()
    text = captured.getvalue()
    assert "could not import" in text
    assert NAME not in text and "2-1-501" not in text
    assert "'2', '1', '501'" not in text


def test_the_log_file_and_each_rotated_one_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    from bridge.config import LoggingConfig

    path = tmp_path / "logs" / "linli.log"
    path.parent.mkdir()
    path.write_text("from an older Linli\n")
    path.chmod(0o644)  # as Linli left it before: world-readable
    old_umask = os.umask(0o022)
    root = logging.getLogger()
    kept = list(root.handlers), root.level
    try:
        logs.configure(LoggingConfig(file=path, max_bytes=10_000, backups=2))
        for n in range(400):  # about 40 KB: rotated more than twice
            logging.getLogger("bridge.test").info("event $%040d handled", n)
        for handler in root.handlers:
            handler.close()
    finally:
        os.umask(old_umask)
        root.handlers, root.level = kept[0], kept[1]
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["linli.log", "linli.log.1", "linli.log.2"]
    assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o600 for f in files}
