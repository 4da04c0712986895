"""The README's operator path, walked end to end as an operator walks it: every `linli` command
a process of its own in the folder `linli init` set up, against a Synapse this test starts with
the registration `linli registration` wrote. Adding a compound needs that registration written
again and Synapse restarted: `plan` says so before anything is touched, and a running Linli
takes the new compound on SIGHUP.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.common import free_port
from bridge.local_synapse import LocalSynapse, SynapseSettings
from tests.integration.linli_process import EXAMPLES, LinliProcess
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient

SERVER = "linli.localhost"
BOT = f"@linli:{SERVER}"
PASSWORD = "correct horse battery"
COMMITTEE_USAGE = "!认证 同意 编号"  # in the help of a residents' committee member only


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def linli(workdir: Path, *args: str) -> Ran:
    """One `linli` command, run in the operator's folder (bridge.yaml found there)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", *args,
        cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


def people_of(*paths: Path) -> set[str]:
    """The localparts of the staff and observers the example files name."""
    found = set()
    for path in paths:
        for token in path.read_text(encoding="utf-8").split('"'):
            if token.startswith("@") and token.endswith(f":{SERVER}"):
                found.add(token[1 : -len(SERVER) - 1])
    return found


def bot_says(predicate: Any) -> Any:
    return lambda e: e["sender"] == BOT and predicate(e["content"].get("body", ""))


def schema_of(path: Path) -> list[Any]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        db.close()


async def test_the_operator_path_from_init_to_a_reloaded_second_compound(tmp_path: Path) -> None:
    workdir = tmp_path / "linli"
    workdir.mkdir()
    hs_port, as_port, metrics_port = free_port(), free_port(), free_port()
    homeserver_url = f"http://127.0.0.1:{hs_port}"

    # init with flags: the listen port, the database, the homeserver.
    ran = await linli(
        workdir, "init", "--server-name", SERVER, "--homeserver-url", homeserver_url,
        "--listen-port", str(as_port), "--metrics-port", str(metrics_port),
        "--database-url", "sqlite+aiosqlite:///data/linli.db",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    config_path = workdir / "bridge.yaml"
    assert config_path.stat().st_mode & 0o777 == 0o600
    # The README: rooms_config/ beside bridge.yaml (here the example compound 和平小区, its
    # staff IDs kept: this Synapse has those accounts), and a grid target for the escalation.
    rooms = workdir / "rooms_config"
    (rooms / "compounds").mkdir(parents=True)
    for name in ("community.yaml", "templates.yaml", "compounds/heping.yaml"):
        shutil.copy(EXAMPLES / name, rooms / name)
    with config_path.open("a", encoding="utf-8") as config:
        config.write(
            "webhooks:\n  grid:\n    url: http://127.0.0.1:9/orders\n"
            f"    secret: {'s' * 32}\n    inbound_secret: {'i' * 32}\n"
        )
    settings = yaml.safe_load(config_path.read_text(encoding="utf-8"))

    ran = await linli(workdir, "registration", "-o", "linli-registration.yaml")
    assert ran.code == 0, ran.err
    registration = workdir / "linli-registration.yaml"
    assert registration.stat().st_mode & 0o777 == 0o600
    synapse = LocalSynapse(
        SynapseSettings(
            data_dir=tmp_path / "synapse",
            server_name=SERVER,
            port=hs_port,
            app_service_config_files=[registration],
            enable_media_repo=False,
        )
    )
    await synapse.start()
    process = LinliProcess(
        workdir=workdir,
        homeserver_url=homeserver_url,
        server_name=SERVER,
        as_token=settings["appservice"]["as_token"],
        hs_token=settings["appservice"]["hs_token"],
        port=as_port,
    )
    clients: list[ResidentClient] = []
    try:
        for localpart in people_of(
            EXAMPLES / "community.yaml", *(EXAMPLES / "compounds").glob("*")
        ):
            await synapse.register_user(localpart, PASSWORD)

        # plan touches nothing: no database yet, and none afterwards.
        ran = await linli(workdir, "plan")
        assert ran.code == 0, ran.err
        assert "does not exist yet" in ran.out
        assert "+ create space compound:heping" in ran.out
        assert not (workdir / "data").exists()

        ran = await linli(workdir, "apply")
        assert ran.code == 0, ran.err
        assert "+ create room heping:lobby" in ran.out
        database = workdir / "data" / "linli.db"
        assert database.stat().st_mode & 0o777 == 0o600

        await process.start()
        # A command answered: a newcomer in the lobby asks for help.
        newcomer = await ResidentClient.login(
            homeserver_url, await synapse.register_user("newcomer", PASSWORD), PASSWORD
        )
        clients.append(newcomer)
        lobby = await newcomer.join(f"#heping-lobby:{SERVER}")
        await newcomer.send_text(lobby, "!帮助")
        answer = await newcomer.wait_for_event(lobby, bot_says(lambda b: "命令" in b), timeout=60)
        assert COMMITTEE_USAGE not in answer["content"]["body"]

        # A second compound: the registration does not reserve its aliases yet.
        shutil.copy(EXAMPLES / "compounds" / "xingfu.yaml", rooms / "compounds")
        schema_before = schema_of(database)
        ran = await linli(workdir, "plan")
        assert ran.code == 0, ran.err
        first = ran.out.splitlines()[0]
        assert first.startswith("! ") and "linli registration" in first and "restart" in first
        assert "+ create space compound:xingfu" in ran.out
        ran = await linli(workdir, "apply")
        assert ran.code == 1
        assert ran.err.count("\n") == 1 and "linli registration" in ran.err, ran.err
        with pytest.raises(MatrixHTTPError) as missing:
            await newcomer.resolve_alias(f"#xingfu:{SERVER}")
        assert missing.value.status == 404  # apply refused before touching anything
        assert schema_of(database) == schema_before
        # A reload now is refused the same way, and the running configuration stays.
        process.send_signal(signal.SIGHUP)
        await process.wait_logged("reload refused")
        assert "linli registration" in process.log_tail(5)

        # Written again, Synapse restarted (Linli keeps running), applied, reloaded.
        ran = await linli(workdir, "registration", "-o", "linli-registration.yaml")
        assert ran.code == 0, ran.err
        await synapse.stop()
        await synapse.start()
        ran = await linli(workdir, "apply")
        assert ran.code == 0, ran.err
        assert "+ create space compound:xingfu" in ran.out
        process.send_signal(signal.SIGHUP)
        await process.wait_logged("configuration reloaded: 2 compounds")

        # The running Linli knows the new compound: its committee gets committee-level help.
        committee = await ResidentClient.login(homeserver_url, f"@juwei_chen:{SERVER}", PASSWORD)
        clients.append(committee)
        xingfu_lobby = await committee.join(f"#xingfu-lobby:{SERVER}")
        await committee.send_text(xingfu_lobby, "!帮助")
        help_text = await committee.wait_for_event(
            xingfu_lobby, bot_says(lambda b: "命令" in b), timeout=60
        )
        assert COMMITTEE_USAGE in help_text["content"]["body"]

        ran = await linli(workdir, "plan")
        assert ran.out.strip() == "No changes: the homeserver matches the config.", ran
        await process.stop()
        assert "Linli stopped" in process.log_tail(3)
    finally:
        for client in clients:
            await client.close()
        await process.stop()
        await synapse.stop()
