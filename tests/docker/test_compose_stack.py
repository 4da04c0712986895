"""docs/self-hosting.md followed word for word under a real Docker engine: the first start, plan
and apply in Linli's container, a resident verified and answered by the containerised Linli,
restarts and SIGKILLs while residents post, a backup and its restore, an upgrade on the old
volumes, and `down` keeping them. The tests run in order on one stack (`make docker-test`).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.docker.stack import PASSWORD, SERVER, Stack
from tests.integration.lobby import verify_in_lobby
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient

BOT = f"@linli:{SERVER}"
POLL_START = "org.matrix.msc3381.poll.start"
TICKET = re.compile(r"工单 #(\d+)")
shared: dict[str, Any] = {}  # what one step leaves the next: clients, rooms, counts


@pytest.fixture(scope="module", autouse=True)
async def _clients_closed() -> AsyncIterator[None]:
    yield
    for name in ("resident", "neighbour", "committee"):
        if name in shared:
            await shared.pop(name).close()


class Linli:
    """What tests/integration/lobby.py needs to know of the Linli it talks to."""

    bot_user_id = BOT

    @staticmethod
    def alias(key: str) -> str:
        return f"#{key}:{SERVER}"


def from_bot(predicate: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["sender"] == BOT and predicate(e)


def body(e: dict[str, Any]) -> str:
    return str(e.get("content", {}).get("body", ""))


def thread_of(e: dict[str, Any]) -> str | None:
    relation = e.get("content", {}).get("m.relates_to") or {}
    return relation.get("event_id") if relation.get("rel_type") == "m.thread" else None


async def send_as_a_client_would(who: ResidentClient, room: str, text: str) -> str:
    """A message sent again after Synapse's 429 (its message rate limit), as clients do."""
    for _ in range(20):
        try:
            return await who.send_text(room, text)
        except MatrixHTTPError as e:
            if e.status != 429:
                raise
            await asyncio.sleep(2)
    raise AssertionError("still rate-limited after 40 s")


def test_a_mistake_in_env_is_one_line_from_compose(stack: Stack) -> None:
    stack.write_env(POSTGRES_PASSWORD=True)
    ran = stack.compose("config", "--quiet")
    assert ran.code != 0
    assert ran.err.strip().count("\n") == 0 and "POSTGRES_PASSWORD" in ran.err, ran.err
    assert "set it in .env" in ran.err


def test_the_first_start_brings_up_three_healthy_services(stack: Stack) -> None:
    w, ports = stack.workdir, stack.ports
    stack.write_env()
    stack.write_synapse_overrides()
    # cp docker/env.example .env (above); mkdir linli; cp -r rooms_config linli/;
    # sudo chown 10001:10001 linli — and the example compound this community does not run goes.
    shutil.copytree(w / "rooms_config", w / "linli" / "rooms_config")
    os.chown(w / "linli", 10001, 10001)
    (w / "linli" / "rooms_config" / "compounds" / "xingfu.yaml").unlink()
    stack.ok("build", "linli")

    # Started before `linli init`: one line saying what to run, no traceback.
    ran = stack.compose("run", "--rm", "--no-deps", "linli")
    assert ran.code != 0
    assert "linli init" in ran.err and "Traceback" not in ran.said, ran.said

    stack.ok(
        "run", "--rm", "--no-deps", "linli", "init",
        "--server-name", SERVER,
        "--homeserver-url", f"http://synapse:{ports['hs']}",
        "--listen-host", "0.0.0.0", "--listen-port", str(ports["as"]),
        "--appservice-url", f"http://linli:{ports['as']}",
        "--database-url", f"postgresql+asyncpg://linli@postgres:{ports['pg']}/linli",
        "--metrics-host", "0.0.0.0", "--metrics-port", str(ports["metrics"]),
    )  # fmt: skip
    config = w / "linli" / "bridge.yaml"
    assert (config.stat().st_uid, config.stat().st_mode & 0o777) == (10001, 0o600)
    # The grid platform the default escalation ends at (docs: the `webhooks: grid:` target).
    with config.open("a") as file:
        file.write(
            "webhooks:\n  grid:\n    url: http://127.0.0.1:9/orders\n"
            f"    secret: {'s' * 32}\n    inbound_secret: {'i' * 32}\n"
        )
    stack.ok(
        "run", "--rm", "--no-deps", "linli",
        "registration", "-o", "/config/registration.yaml", "--group-readable",
    )  # fmt: skip
    registration = w / "linli" / "registration.yaml"
    assert registration.stat().st_mode & 0o777 == 0o640
    stack.ok("run", "--rm", "--no-deps", "synapse", "generate")
    stack.ok("up", "-d")
    stack.wait_healthy("postgres", "synapse", "linli")
    # Nothing of Linli's writable in /config but its own files; nothing readable by others.
    ran = stack.ok("exec", "-T", "linli", "sh", "-c", "id -u; ls -ln /config; stat -c %a /data")
    assert ran.out.splitlines()[0] == "10001"
    assert re.search(r"^-rw------- .* 10001 .* bridge\.yaml$", ran.out, re.M), ran.out
    assert re.search(r"^-rw-r----- .* 10001 .* registration\.yaml$", ran.out, re.M), ran.out
    assert re.search(r"^drwx\S* +\d+ +0 +0 .* rooms_config$", ran.out, re.M), (
        ran.out
    )  # the operator's
    assert ran.out.splitlines()[-1] == "700"


async def test_plan_and_apply_run_inside_the_linli_container(stack: Stack) -> None:
    secret = stack.shared_secret()
    for path in (stack.workdir / "linli" / "rooms_config").rglob("*.yaml"):
        for token in path.read_text(encoding="utf-8").split('"'):
            if token.startswith("@") and token.endswith(f":{SERVER}"):
                await stack.register(secret, token[1 : -len(SERVER) - 1])
    ran = stack.linli("apply")
    assert ran.code == 0, ran.said
    ran = stack.linli("plan")
    assert ran.code == 0 and "No changes: the homeserver matches the config." in ran.out, ran.said
    # `linli backup` is for SQLite; on PostgreSQL it names pg_dump (the docs' Backups).
    ran = stack.linli("backup", "/data/linli.db.bak")
    assert ran.code == 2 and "pg_dump" in ran.err, ran.said
    shared["secret"] = secret


async def test_a_verified_resident_is_answered_by_the_containerised_linli(stack: Stack) -> None:
    base = stack.homeserver_url
    # The docs' step 4: an account made with the shared secret, in Synapse's container.
    stack.ok(
        "exec", "-T", "synapse", "register_new_matrix_user", "-c", "/data/homeserver.yaml",
        "-u", "zhang_wei", "-p", PASSWORD, "--no-admin", f"http://localhost:{stack.ports['hs']}",
    )  # fmt: skip
    resident = await ResidentClient.login(base, f"@zhang_wei:{SERVER}", PASSWORD)
    neighbour = await ResidentClient.login(
        base, await stack.register(shared["secret"], "li_na"), PASSWORD
    )
    committee = await ResidentClient.login(base, f"@juwei_chen:{SERVER}", PASSWORD)
    shared.update(resident=resident, neighbour=neighbour, committee=committee)
    neighbours = await verify_in_lobby(Linli(), resident, committee, "1-1-101", "张伟")  # type: ignore[arg-type]
    await verify_in_lobby(Linli(), neighbour, committee, "2-1-202", "李娜")  # type: ignore[arg-type]
    shared["neighbours"] = neighbours

    # @物业: a ticket, answered in the mention's thread.
    mention = await resident.send_text(neighbours, "@物业 1号楼电梯坏了")
    reply = await resident.wait_for_event(
        neighbours, from_bot(lambda e: thread_of(e) == mention and TICKET.search(body(e))), 90
    )
    assert "工单 #1" in body(reply)

    # A quick poll answered from the client, tallied at its end.
    hall = await resident.join(Linli.alias("heping-hall"))
    await resident.send_text(hall, "!投票 周六几点大扫除？| 8点 | 9点")
    start = await resident.wait_for_event(hall, from_bot(lambda e: e["type"] == POLL_START), 60)
    eight = start["content"][POLL_START]["answers"][0]["id"]
    await resident.send_event(
        hall,
        "org.matrix.msc3381.poll.response",
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": start["event_id"]},
            "org.matrix.msc3381.poll.response": {"answers": [eight]},
        },
    )
    await asyncio.sleep(2)  # the answer reaches Linli before the end command (another event)
    await resident.send_text(hall, "!投票 结束 1")
    result = await resident.wait_for_event(
        hall, from_bot(lambda e: body(e).startswith("投票 #1 已结束")), 60
    )
    assert "8点：1 票" in body(result)

    # A notice read by the resident: its receipt is counted.
    work = await committee.join(Linli.alias("heping-committee"))
    await committee.send_text(work, "!通知 全体 明天停水")
    await committee.wait_for_event(work, from_bot(lambda e: "通知 #1 已发布" in body(e)), 60)
    announcements = await resident.join(Linli.alias("heping-announcements"))
    posted = await resident.wait_for_event(
        announcements, from_bot(lambda e: "明天停水" in body(e)), 60
    )
    await resident.send_read_receipt(announcements, posted["event_id"])
    seen: set[str] = set()
    for _ in range(12):  # the receipt reaches Linli with Synapse's next ephemeral push
        await committee.send_text(work, "!通知 回执 1")
        answer = await committee.wait_for_event(
            work,
            from_bot(lambda e: body(e).startswith("通知 #1 回执：") and e["event_id"] not in seen),
            60,
        )
        seen.add(answer["event_id"])
        if "已读 1 户" in body(answer):
            break
        await asyncio.sleep(4)
    # Reach is counted per household (no roster imported here: the verified households).
    assert "2 户中已送达 1 户（50%）" in body(answer) and "已读 1 户" in body(answer), body(answer)
    # Its chart, drawn in the image (matplotlib, numpy, the CJK font the image keeps).
    chart = await committee.wait_for_event(
        work, from_bot(lambda e: e["content"].get("msgtype") == "m.image"), 60
    )
    assert chart["content"]["info"]["mimetype"] == "image/png"


async def test_restarts_and_kills_while_residents_post_lose_and_repeat_nothing(
    stack: Stack,
) -> None:
    resident, neighbour = shared["resident"], shared["neighbour"]
    room = shared["neighbours"]
    mentions: list[str] = []

    disrupted = asyncio.Event()

    async def post(who: ResidentClient) -> None:
        # Until Linli is back from the kill, one mention every 2 s (Synapse's message rate
        # limit allows a burst of 10, then one per 5 s), at most 8.
        for i in range(8):
            if disrupted.is_set() and i >= 2:
                return
            text = f"@物业 {i + 2}号楼 灯坏了 ({who.user_id})"
            mentions.append(await send_as_a_client_would(who, room, text))
            await asyncio.sleep(2)

    async def disrupt() -> None:
        await asyncio.sleep(1)
        assert (await asyncio.to_thread(stack.compose, "restart", "linli")).code == 0
        await asyncio.sleep(2)
        ran = await asyncio.to_thread(stack.compose, "kill", "-s", "SIGKILL", "linli")
        assert ran.code == 0, ran.said
        await asyncio.sleep(3)
        state = await asyncio.to_thread(
            stack.engine.docker,
            "inspect", "--format", "{{.State.Status}} restarts={{.RestartCount}}",
            await asyncio.to_thread(stack.container, "linli"),
        )  # fmt: skip
        print(f"\nafter docker compose kill -s SIGKILL linli, 3 s later: {state.strip()}")
        ran = await asyncio.to_thread(stack.compose, "up", "-d", "linli")
        assert ran.code == 0, ran.said
        disrupted.set()

    await asyncio.gather(post(resident), post(neighbour), disrupt())
    await asyncio.to_thread(stack.wait_healthy, "linli")
    # Every mention answered in its thread, exactly once.
    answered: Counter[str] = Counter()
    for _ in range(60):
        events = await resident.messages(room, 400)
        answered = Counter(
            thread_of(e) for e in events if e["sender"] == BOT and TICKET.search(body(e))
        )
        if all(answered[m] >= 1 for m in mentions):
            break
        await asyncio.sleep(2)
    assert {m: answered[m] for m in mentions} == dict.fromkeys(mentions, 1)
    shared["tickets"] = 1 + len(mentions)


def test_a_backup_is_restored_and_linli_carries_on(stack: Stack) -> None:
    # docker compose exec -T postgres pg_dump -U postgres -Fc linli > linli-$(date +%F).dump
    dump = stack.compose("exec", "-T", "postgres", "pg_dump", "-U", "postgres", "-Fc", "linli")
    assert dump.code == 0 and dump.raw.startswith(b"PGDMP"), dump.err
    stack.ok("stop", "linli", "synapse")
    ran = stack.compose(
        "exec", "-T", "postgres", "pg_restore", "-U", "postgres", "-d", "linli",
        "--clean", "--if-exists", stdin=dump.raw,
    )  # fmt: skip
    assert ran.code == 0, ran.said
    stack.ok("start", "synapse", "linli")
    stack.wait_healthy("synapse", "linli")
    count = stack.ok(
        "exec", "-T", "postgres", "psql", "-U", "postgres", "-d", "linli", "-tAc",
        "SELECT count(*) FROM tickets",
    ).out.strip()  # fmt: skip
    assert int(count) == shared["tickets"]


async def test_an_upgraded_image_starts_on_the_old_volumes(stack: Stack) -> None:
    versions = stack.workdir / "bridge" / "store" / "migrations" / "versions"
    heads = set(re.findall(r'^revision = "([^"]+)"', "\n".join(
        p.read_text() for p in versions.glob("*.py")), re.M))  # fmt: skip
    downs = set(re.findall(r'^down_revision = "([^"]+)"', "\n".join(
        p.read_text() for p in versions.glob("*.py")), re.M))  # fmt: skip
    [head] = heads - downs
    # A later Linli: one more migration (the schema change an upgrade brings).
    (versions / "9999_docker_upgrade.py").write_text(
        f'"""The Docker test\'s upgrade."""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "9999_docker_upgrade"\ndown_revision = "{head}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        '    op.create_table("docker_upgrade", sa.Column("id", sa.Integer, primary_key=True))\n\n\n'
        "def downgrade() -> None:\n"
        '    op.drop_table("docker_upgrade")\n'
    )
    stack.ok("build", "linli")
    stack.ok("up", "-d", "linli")
    stack.wait_healthy("linli")
    revision = stack.ok(
        "exec", "-T", "postgres", "psql", "-U", "postgres", "-d", "linli", "-tAc",
        "SELECT version_num FROM alembic_version",
    ).out.strip()  # fmt: skip
    assert revision == "9999_docker_upgrade"
    resident, room = shared["resident"], shared["neighbours"]
    mention = await resident.send_text(room, "@物业 升级以后 3号楼 门禁坏了")
    reply = await resident.wait_for_event(
        room, from_bot(lambda e: thread_of(e) == mention and TICKET.search(body(e))), 90
    )
    assert f"工单 #{shared['tickets'] + 1}" in body(reply)


def test_down_leaves_the_volumes(stack: Stack) -> None:
    stack.save_logs()
    stack.ok("down")
    volumes = stack.engine.docker("volume", "ls", "--format", "{{.Name}}").split()
    for volume in ("postgres-data", "synapse-data", "linli-data"):
        assert f"{stack.project}_{volume}" in volumes
