"""Files holding tokens or passwords are readable by their owner only."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.cli import main as linli
from bridge.demo import write_summary
from bridge.local_synapse import LocalSynapse, SynapseSettings
from bridge.secret_files import write_secret

EXAMPLES = Path(__file__).parents[2] / "rooms_config"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    # The usual umask (022) would hide a file created world-writable; 0 shows what was asked.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_secret_file_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = write_secret(tmp_path / "tokens.yaml", "as_token: 秘密\n")
    assert mode(path) == 0o600
    assert path.read_text(encoding="utf-8") == "as_token: 秘密\n"


@pytest.mark.parametrize("before", [0o644, 0o666, 0o604, 0o755])
def test_a_world_readable_secret_file_becomes_owner_only(tmp_path: Path, before: int) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text("old, longer text than the new one\n", encoding="utf-8")
    path.chmod(before)
    write_secret(path, "new\n")
    assert mode(path) == 0o600
    assert path.read_text(encoding="utf-8") == "new\n"


def test_a_group_read_permission_given_on_purpose_stays(tmp_path: Path) -> None:
    # e.g. root:matrix-synapse 0640, so that the homeserver's user reads the registration
    path = tmp_path / "linli-registration.yaml"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o660)
    write_secret(path, "new\n")
    assert mode(path) == 0o640


def test_linli_init_writes_bridge_yaml_for_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yaml"
    assert linli(["-c", str(path), "init"]) == 0
    assert mode(path) == 0o600
    # the shipped placeholder file, world-readable in a checkout, is replaced and restricted
    path.write_text("as_token: CHANGE_ME\n", encoding="utf-8")
    path.chmod(0o644)
    assert linli(["-c", str(path), "init"]) == 0
    assert mode(path) == 0o600


def test_linli_registration_writes_the_registration_for_its_owner_only(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "rooms_config")
    config = tmp_path / "bridge.yaml"
    assert linli(["-c", str(config), "init"]) == 0
    output = tmp_path / "synapse" / "linli-registration.yaml"
    assert linli(["-c", str(config), "registration", "-o", str(output)]) == 0
    assert mode(output) == 0o600
    assert "hs_token" in output.read_text(encoding="utf-8")


def test_demo_summary_with_passwords_is_for_its_owner_only(tmp_path: Path) -> None:
    path = write_summary(tmp_path, {"accounts": [{"user_id": "@a:x", "password": "pw"}]})
    assert path == tmp_path / "demo.json"
    assert mode(path) == 0o600


def test_local_synapse_config_with_the_shared_secret_is_for_its_owner_only(
    tmp_path: Path,
) -> None:
    synapse = LocalSynapse(SynapseSettings(data_dir=tmp_path / "synapse"))
    config = synapse.write_config()
    assert "registration_shared_secret" in config.read_text(encoding="utf-8")
    assert {
        name: mode(tmp_path / "synapse" / name)
        for name in ("hs.yaml", "signing.key", "registration_shared_secret")
    } == dict.fromkeys(("hs.yaml", "signing.key", "registration_shared_secret"), 0o600)


async def test_the_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    from bridge.store import Store

    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path}/data/linli.db")
    await store.close()
    assert (tmp_path / "data" / "linli.db").stat().st_mode & 0o777 == 0o600


async def test_backup_copies_the_database_while_it_is_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import shutil
    from datetime import UTC, datetime

    from bridge.store import Store

    shutil.copytree(Path(__file__).parents[2] / "rooms_config", tmp_path / "rooms_config")
    config = tmp_path / "bridge.yaml"
    config.write_text(
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        "database: {url: 'sqlite+aiosqlite:///data/linli.db'}\n",
        encoding="utf-8",
    )
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path}/data/linli.db")
    now = datetime(2026, 11, 23, tzinfo=UTC)
    await store.people.bind_household("heping", "@a:linli.localhost", "3", "2", "1101", now)
    try:  # Linli still has it open
        out = tmp_path / "backups" / "linli-2026-11-23.db"
        code = await asyncio.to_thread(linli, ["-c", str(config), "backup", str(out)])
        assert code == 0, capsys.readouterr().err
        assert out.stat().st_mode & 0o777 == 0o600
        assert "schema revision" in capsys.readouterr().out
        # and not over an existing file
        assert await asyncio.to_thread(linli, ["-c", str(config), "backup", str(out)]) == 1
    finally:
        await store.close()
    copy = await Store.open(f"sqlite+aiosqlite:///{out}")
    try:
        assert [r.user_id for r in await copy.people.residents("heping")] == ["@a:linli.localhost"]
    finally:
        await copy.close()


async def test_restore_puts_a_backup_back_and_db_upgrade_says_the_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    from datetime import UTC, datetime

    from bridge.store import Store

    shutil.copytree(Path(__file__).parents[2] / "rooms_config", tmp_path / "rooms_config")
    config = tmp_path / "bridge.yaml"
    config.write_text(
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        "database: {url: 'sqlite+aiosqlite:///data/linli.db'}\n",
        encoding="utf-8",
    )
    assert await asyncio.to_thread(linli, ["-c", str(config), "db", "upgrade"]) == 0
    assert "schema revision" in capsys.readouterr().out
    url = f"sqlite+aiosqlite:///{tmp_path}/data/linli.db"
    store = await Store.open(url)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    await store.people.bind_household("heping", "@a:linli.localhost", "3", "2", "1101", now)
    await store.close()
    out = tmp_path / "linli-backup.db"
    assert await asyncio.to_thread(linli, ["-c", str(config), "backup", str(out)]) == 0
    # Later the resident moves out; then the backup is restored.
    store = await Store.open(url)
    await store.people.unbind("heping", "@a:linli.localhost")
    await store.close()
    assert await asyncio.to_thread(linli, ["-c", str(config), "restore", str(out)]) == 0
    store = await Store.open(url)
    try:
        assert [r.user_id for r in await store.people.residents("heping")] == ["@a:linli.localhost"]
    finally:
        await store.close()
    assert (tmp_path / "data" / "linli.db").stat().st_mode & 0o777 == 0o600
    # Not a Linli database: refused, nothing replaced.
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"")
    assert await asyncio.to_thread(linli, ["-c", str(config), "restore", str(junk)]) == 2
    # While a Linli runs on the database, restoring is refused.
    from bridge.config import load_bridge_config
    from bridge.instance import single_instance

    with single_instance(load_bridge_config(config), check_port=False):
        assert await asyncio.to_thread(linli, ["-c", str(config), "restore", str(out)]) == 1
    assert "another Linli is running" in capsys.readouterr().err


def test_after_make_demo_linli_finds_the_demo_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(Path(__file__).parents[2] / "bridge.yaml", tmp_path / "bridge.yaml")  # placeholder
    shutil.copytree(Path(__file__).parents[2] / "rooms_config", tmp_path / "rooms_config")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bridge.yaml").write_text(
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        "rooms_config: ../rooms_config\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert linli(["qr", "heping", "-o", str(tmp_path / "qr.png")]) == 0
    assert "using data/bridge.yaml" in capsys.readouterr().err
