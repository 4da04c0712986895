"""Schema migrations on a real database, SQLite and PostgreSQL: each revision upgrades a
populated database, and a database newer than the code is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bridge.store import Store
from bridge.store.database import Database, DatabaseTooNew

HEAD = "0011_community"


async def test_every_revision_upgrades_a_populated_database(empty_database_url: str) -> None:
    url = empty_database_url
    db = Database(url)
    await db.migrate("0001")
    # Plain SQL, as the first revision's schema had it (not today's models), with timestamps as
    # each engine's driver wrote them then.
    at = "2026-11-23 02:00:00" if url.startswith("sqlite") else "2026-11-23 02:00:00+00"
    async with db.engine.begin() as raw:
        await raw.execute(
            text(
                "INSERT INTO residents (compound, user_id, building, unit, room, verified_at) "
                f"VALUES ('heping', '@a:x', '3', '2', '1101', '{at}')"
            )
        )
        await raw.execute(
            text(
                "INSERT INTO role_grants (compound, user_id, role, granted_by, granted_at) "
                f"VALUES ('heping', '@a:x', 'party_member', '@c:x', '{at}')"
            )
        )
    for revision in (
        "0002",
        "0003",
        "0004",
        "0005",
        "0006",
        "0007_notices",
        "0007_votes",
        "0008_votes_tally",
        "0009_votes_integrity",
        HEAD,
    ):
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


async def test_a_database_from_a_newer_linli_is_refused(empty_database_url: str) -> None:
    store = await Store.open(empty_database_url)
    async with store.db.engine.begin() as raw:
        await raw.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await store.close()
    with pytest.raises(DatabaseTooNew, match="upgrade Linli"):
        await Store.open(empty_database_url)


async def test_a_sqlite_database_gets_the_folder_it_is_named_in(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path}/data/new/linli.db")
    await store.close()
    assert (tmp_path / "data" / "new" / "linli.db").is_file()
