"""`make demo` run twice, as a new user runs it (`linli demo` as a process of its own, stopped
with Ctrl-C): a resident who asked to be forgotten stays forgotten and is not let back in."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bench.common import free_port
from tests.integration.backoffice import DashboardClient
from tests.integration.matrix_client import ResidentClient

ROOT = Path(__file__).parents[2]
BOT = "@linli:linli.localhost"


async def demo_up(data: Path, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, dict]:  # type: ignore[type-arg]
    summary = data / "demo.json"
    summary.unlink(missing_ok=True)
    log = data.parent / "demo-stderr.log"  # what it said, for a failure's message
    with log.open("ab") as err:  # the child keeps its own copy of the file
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge.cli", "demo", "--data", str(data),
            "--rooms-config", str(ROOT / "rooms_config"),
            cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err,
            start_new_session=True,  # its own process group: the demo and the Synapse it starts
        )  # fmt: skip
    for _ in range(1800):
        if summary.exists() and summary.stat().st_size:
            return process, json.loads(summary.read_text(encoding="utf-8"))
        if process.returncode is not None:
            said = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise AssertionError(f"the demo stopped with {process.returncode}:\n{said}")
        await asyncio.sleep(0.1)
    process.kill()
    raise AssertionError("the demo did not come up")


async def demo_down(process: asyncio.subprocess.Process) -> None:
    """Ctrl-C, as a user stops it. On a loaded machine the demo has been seen to take over a
    minute to stop (an open issue, see the closing note); what this test is about is the rerun,
    so after a minute the whole group is killed, its Synapse with it."""
    process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), 60)
    except TimeoutError:
        os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


def poll_from_bot(question: str):  # type: ignore[no-untyped-def]
    start = "org.matrix.msc3381.poll.start"
    return lambda e: (
        e["sender"] == BOT
        and e["type"] == start
        and e["content"][start]["question"]["org.matrix.msc1767.text"] == question
    )


def bot_says(pred):  # type: ignore[no-untyped-def]
    return lambda e: e["sender"] == BOT and pred(e["content"].get("body", ""))


async def test_an_erased_resident_stays_erased_when_the_demo_runs_again(tmp_path: Path) -> None:
    env = dict(os.environ)
    for port in ("HS", "AS", "GRID", "METRICS"):
        env[f"LINLI_DEMO_{port}_PORT"] = str(free_port())
    data = tmp_path / "data"
    process, summary = await demo_up(data, env)
    # Tokens, the demo Synapse's database and media, Linli's log: for the demo's user alone.
    assert data.stat().st_mode & 0o777 == 0o700
    assert (data / "synapse").stat().st_mode & 0o777 == 0o700
    accounts = {a["user_id"]: a["password"] for a in summary["accounts"]}
    li_si = "@li_si:linli.localhost"
    try:
        client = await ResidentClient.login(str(summary["homeserver"]), li_si, accounts[li_si])
        # The votes demo: its owners' committee member starts a quick poll and a formal vote in
        # the hall from their own account; the bot posts them as native polls.
        hall = await client.join("#heping-hall:linli.localhost")
        for question in ("周末小区大扫除安排在几点？", "使用维修基金更换1号楼电梯"):
            await client.wait_for_event(hall, poll_from_bot(question), timeout=90)
        neighbours = await client.join("#heping-neighbours:linli.localhost")
        # The community demo: staff post an activity, a resident signs up (the list edited).
        await client.wait_for_event(
            neighbours, bot_says(lambda b: b.startswith("【活动 #1】包饺子迎冬至")), timeout=90
        )
        await client.wait_for_event(
            neighbours,
            lambda e: (
                e["sender"] == BOT
                and "1. 张阿姨（带一袋面粉）"
                in e["content"].get("m.new_content", {}).get("body", "")
            ),
            timeout=90,
        )
        await client.send_text(neighbours, "!我 删除 确认")
        # A demo just started may still be catching up with its Synapse: a generous deadline.
        try:
            await client.wait_for_event(
                neighbours, bot_says(lambda b: b.startswith("已删除")), timeout=90
            )
        except TimeoutError as e:  # say what the demo logged: seen once under a parallel suite
            said = (data.parent / "demo-stderr.log").read_text(errors="replace")[-3000:]
            log_file = data / "linli.log"
            log = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else ""
            raise AssertionError(f"no 已删除 answer:\n{said}\n--- linli.log ---\n{log}") from e
        await client.close()
        await _staff_open_the_back_office(summary, accounts)
    finally:
        await demo_down(process)

    process, summary = await demo_up(data, env)  # the same data/: ports, tokens, passwords kept
    try:
        client = await ResidentClient.login(str(summary["homeserver"]), li_si, accounts[li_si])
        lobby = await client.join("#heping-lobby:linli.localhost")
        await client.send_text(lobby, "!我")
        answer = await client.wait_for_event(lobby, bot_says(lambda b: "个人信息" in b), timeout=90)
        assert answer["content"]["body"] == "我们没有保存您的个人信息。"
        neighbours = await client.resolve_alias("#heping-neighbours:linli.localhost")
        assert neighbours not in await client.joined_rooms()  # not let back in either
        await client.close()
    finally:
        await demo_down(process)


async def _staff_open_the_back_office(summary: dict[str, Any], accounts: dict[str, str]) -> None:
    """The demo's staff room carries the widget at the printed URL, and signing in there with
    the demo Synapse's OpenID token works (its listener serves the `openid` resource)."""
    wang = "@wuye_wang:linli.localhost"
    staff = await ResidentClient.login(str(summary["homeserver"]), wang, accounts[wang])
    page = DashboardClient(str(summary["dashboard"]).split("/linli/dashboard/")[0])
    try:
        five = await staff.join("#heping-five_in_one:linli.localhost")
        widget = await staff.get_state(five, "im.vector.modular.widgets", "linli_backoffice")
        assert widget["url"].startswith(str(summary["dashboard"]))
        signed = await page.sign_in(staff)
        assert signed.status == 200, signed.body
        assert (await page.call("GET", "api/tickets")).status == 200
    finally:
        await page.close()
        await staff.close()
