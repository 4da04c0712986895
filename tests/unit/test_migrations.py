"""Schema migrations on a real SQLite file: each revision upgrades a populated database, and a
database newer than the code is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bridge.store import Store
from bridge.store.database import Database, DatabaseTooNew

HEAD = "0006"


async def test_every_revision_upgrades_a_populated_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}"
    db = Database(url)
    await db.migrate("0001")
    with sqlite3.connect(tmp_path / "linli.db") as raw:
        raw.execute(
            "INSERT INTO residents (compound, user_id, building, unit, room, verified_at) "
            "VALUES ('heping', '@a:x', '3', '2', '1101', '2026-11-23 02:00:00')"
        )
        raw.execute(
            "INSERT INTO role_grants (compound, user_id, role, granted_by, granted_at) "
            "VALUES ('heping', '@a:x', 'party_member', '@c:x', '2026-11-23 02:00:00')"
        )
    for revision in ("0002", "0003", "0004", "0005", HEAD):
        await db.migrate(revision)
        assert await db.current_revision() == revision
    await db.close()
    store = await Store.open(url)
    [resident] = await store.people.residents("heping")
    assert (resident.user_id, resident.building, resident.room) == ("@a:x", "3", "1101")
    assert await store.people.export("@a:x") == {
        "user_id": "@a:x",
        "households": [
            {
                "compound": "heping",
                "household": "3-2-1101",
                "name": None,
                "owner": False,
                "verified_at": "2026-11-23T02:00:00+00:00",
            }
        ],
        "roles": [{"compound": "heping", "role": "party_member", "shown": False}],
        "verification_requests": [],
    }
    await store.close()


async def test_a_database_from_a_newer_linli_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}"
    store = await Store.open(url)
    await store.close()
    with sqlite3.connect(tmp_path / "linli.db") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(DatabaseTooNew):
        await Store.open(url)
