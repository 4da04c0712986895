"""What an operator meets when running Linli: a reload picks up a new compound, a homeserver
that does not answer or does not know Linli is one clear line, a second instance is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.app import StartError
from bridge.config import HomeserverConfig
from bridge.instance import single_instance
from tests.integration.harness import EXAMPLES, Harness
from tests.integration.matrix_client import ResidentClient


async def test_a_reload_applies_a_compound_added_to_the_config(harness: Harness, make_user) -> None:
    harness.only("heping")
    bridge = await harness.start_bridge()
    visitor: ResidentClient = await make_user()
    # Not yet there: the community space does not list 幸福家园.
    assert "xingfu" not in bridge.rooms.compounds
    shutil.copy(EXAMPLES / "compounds" / "xingfu.yaml", harness.rooms_dir / "compounds")
    report = await bridge.reload(harness.rooms())
    assert report.done  # its space and rooms were created
    assert "xingfu" in bridge.services.rooms.compounds
    lobby = await visitor.join(harness.alias("xingfu-lobby"))  # the lobby is open to all
    assert lobby.startswith("!")
    # A bot reads the new compound too: the role table knows its staff.
    compound = bridge.services.rooms.compounds["xingfu"]
    table = await bridge.services.roles.table(compound)
    assert table.staff  # the compound's staff from its YAML
    # A second reload with nothing new changes nothing.
    assert not (await bridge.reload(harness.rooms())).done


async def test_a_homeserver_that_does_not_answer_is_one_clear_line(harness: Harness) -> None:
    harness.only("heping")
    bridge = await harness.start_bridge(apply=False)
    await harness.stop_bridge(bridge)
    config = harness.config.model_copy(
        update={"homeserver": HomeserverConfig(url="http://127.0.0.1:9", server_name="x")}
    )
    from bots import ALL_BOTS
    from bridge.app import Bridge
    from bridge.matrix import MatrixClient

    client = MatrixClient(
        config.homeserver.url, config.appservice.as_token, "@linli:x", max_attempts=1
    )
    down = Bridge(config, harness.rooms(), ALL_BOTS, client=client)
    with pytest.raises(StartError) as e:
        await down.start()
    assert "does not answer" in str(e.value) and "http://127.0.0.1:9" in str(e.value)
    await down.stop()


async def test_a_homeserver_without_linlis_registration_is_one_clear_line(
    harness: Harness,
) -> None:
    harness.only("heping")
    harness.as_token = "a-token-the-homeserver-never-heard-of"
    with pytest.raises(StartError) as e:
        await harness.start_bridge()
    assert "linli registration" in str(e.value)


def test_a_second_instance_on_the_same_database_is_refused(tmp_path: Path) -> None:
    from bench.common import free_port

    harness_config = Harness(
        homeserver_url="http://127.0.0.1:9",
        server_name="x",
        as_token="a" * 20,
        hs_token="b" * 20,
        port=free_port(),
        workdir=tmp_path,
    ).config
    with single_instance(harness_config):
        with pytest.raises(StartError) as e, single_instance(harness_config):
            pass
        assert "another Linli is running" in str(e.value)
    with single_instance(harness_config):  # released when the first stopped
        pass


async def test_plan_shows_a_room_renamed_by_hand_and_apply_puts_it_back(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bridge.cli import main as linli

    harness.only("heping")
    bridge = await harness.start_bridge()
    hall = await bridge.store.rooms.by_key("heping:hall")
    assert hall is not None
    await harness.stop_bridge(bridge)
    config = harness.write_bridge_yaml()
    assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
    assert "No changes" in capsys.readouterr().out
    # Someone with the power renames the hall by hand.
    from bridge.matrix import MatrixClient

    admin = MatrixClient(harness.homeserver_url, harness.as_token, harness.config.bot_user_id)
    try:
        await admin.put_state(hall.room_id, "m.room.name", {"name": "随便聊聊"})
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        out = capsys.readouterr().out
        assert "heping:hall" in out and "name" in out and "No changes" not in out
        assert await asyncio.to_thread(linli, ["-c", str(config), "apply"]) == 0
        assert (await admin.get_state(hall.room_id, "m.room.name"))["name"] == "议事厅"
        capsys.readouterr()
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        assert "No changes" in capsys.readouterr().out
    finally:
        await admin.close()


async def test_plan_touches_neither_a_missing_nor_an_older_database(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import hashlib
    import sqlite3

    from bridge.cli import main as linli
    from bridge.store.database import Database

    harness.only("heping")
    config = harness.write_bridge_yaml()
    if harness.database_url is not None:  # PostgreSQL: plan's transaction is rolled back
        await _plan_leaves_postgresql_as_it_was(harness.database_url, config, capsys)
        return
    database = harness.workdir / "linli.db"
    files_before = sorted(p.name for p in harness.workdir.iterdir())
    assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
    out = capsys.readouterr().out
    assert "does not exist yet" in out and "+ create space compound:heping" in out
    assert sorted(p.name for p in harness.workdir.iterdir()) == files_before  # none created

    # A database an older Linli left (schema revision 0006), with no Linli running.
    older = Database(f"sqlite+aiosqlite:///{database}")
    await older.migrate("0006")
    await older.close()

    def snapshot() -> tuple[list[str], str, str | None]:
        files = sorted(p.name for p in harness.workdir.iterdir())
        digest = hashlib.sha256(database.read_bytes()).hexdigest()
        # immutable: a plain read-only open would itself leave -wal and -shm files behind.
        db = sqlite3.connect(f"file:{database}?immutable=1", uri=True)
        try:
            revision = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        finally:
            db.close()
        return files, digest, revision

    before = snapshot()
    assert before[2] == "0006"
    assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
    out = capsys.readouterr().out
    assert "schema revision 0006" in out and "linli db upgrade" in out
    assert "+ create space compound:heping" in out  # and still planned
    assert snapshot() == before  # no file added, not a byte changed, not migrated

    # With a connection open on it (a running Linli): read through its write-ahead log.
    holder = sqlite3.connect(database)
    try:
        holder.execute("SELECT count(*) FROM alembic_version").fetchone()
        files_open = sorted(p.name for p in harness.workdir.iterdir())
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        assert "schema revision 0006" in capsys.readouterr().out
        assert sorted(p.name for p in harness.workdir.iterdir()) == files_open
    finally:
        holder.close()
    assert snapshot()[1:] == before[1:]


async def test_plan_shows_a_join_rule_and_a_power_level_changed_by_hand_and_apply_restores_them(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bridge.cli import main as linli

    harness.only("heping")
    bridge = await harness.start_bridge()
    records = await bridge.store.rooms.all()
    await harness.stop_bridge(bridge)
    key, room = next(
        (k, r)
        for k, r in sorted(records.items())
        if r.state["join_rules"]["join_rule"] == "restricted"
    )
    config = harness.write_bridge_yaml()
    # By hand, with a plain client holding the power (Linli's own token, as an admin might).
    hand = ResidentClient(harness.homeserver_url, harness.config.bot_user_id, harness.as_token)
    try:
        await hand.send_state(room.room_id, "m.room.join_rules", "", {"join_rule": "public"})
        levels = await hand.get_state(room.room_id, "m.room.power_levels")
        await hand.send_state(
            room.room_id, "m.room.power_levels", "", {**levels, "users_default": 50}
        )
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert f"~ {key}: join_rules {{'join_rule': 'public'}} → " in "\n".join(out)
        assert f"~ {key}: power levels (users_default 50→0)" in out
        assert len(out) == 2, out  # nothing else drifted

        assert await asyncio.to_thread(linli, ["-c", str(config), "apply"]) == 0
        capsys.readouterr()
        rules = await hand.get_state(room.room_id, "m.room.join_rules")
        assert rules["join_rule"] == "restricted"
        assert rules["allow"] == [
            {"type": "m.room_membership", "room_id": records["compound:heping"].room_id}
        ]
        assert (await hand.get_state(room.room_id, "m.room.power_levels"))["users_default"] == 0
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        assert "No changes" in capsys.readouterr().out
    finally:
        await hand.close()


async def _plan_leaves_postgresql_as_it_was(
    url: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from sqlalchemy import text

    from bridge.cli import main as linli
    from bridge.store.database import Database

    db = Database(url)
    try:
        # The harness's databases come migrated (a copy of a template): this one is emptied.
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        assert "holds no schema yet" in capsys.readouterr().out
        assert await db.current_revision() is None
        await db.migrate("0006")
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        out = capsys.readouterr().out
        assert "schema revision 0006" in out and "+ create space compound:heping" in out
        assert await db.current_revision() == "0006"
    finally:
        await db.close()
