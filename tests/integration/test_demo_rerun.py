"""`make demo` run twice: a resident who asked to be forgotten stays forgotten, and the rerun
changes nothing that is already right (the demo's own Synapse, as a new user runs it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bench.common import free_port
from bridge.demo import run_demo
from tests.integration.matrix_client import ResidentClient

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
BOT = "@linli:linli.localhost"


async def demo_up(data: Path) -> tuple[asyncio.Task[int], dict[str, object]]:
    summary = data / "demo.json"
    summary.unlink(missing_ok=True)
    task = asyncio.create_task(run_demo(data, EXAMPLES))
    for _ in range(1200):
        if summary.exists() and summary.stat().st_size:
            return task, json.loads(summary.read_text(encoding="utf-8"))
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.1)
    raise AssertionError("the demo did not come up")


async def demo_down(task: asyncio.Task[int]) -> None:
    task.cancel()  # as Ctrl-C would: the demo stops Linli and its Synapse on the way out
    with pytest.raises(asyncio.CancelledError):
        await task


def bot_says(pred):  # type: ignore[no-untyped-def]
    return lambda e: e["sender"] == BOT and pred(e["content"].get("body", ""))


async def test_an_erased_resident_stays_erased_when_the_demo_runs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LINLI_DEMO_HS_PORT", "LINLI_DEMO_AS_PORT", "LINLI_DEMO_GRID_PORT"):
        monkeypatch.setenv(name, str(free_port()))
    data = tmp_path / "data"
    task, summary = await demo_up(data)
    accounts = {a["user_id"]: a["password"] for a in summary["accounts"]}  # type: ignore[attr-defined]
    li_si = "@li_si:linli.localhost"
    try:
        client = await ResidentClient.login(str(summary["homeserver"]), li_si, accounts[li_si])
        neighbours = await client.join("#heping-neighbours:linli.localhost")
        await client.send_text(neighbours, "!我 删除 确认")
        await client.wait_for_event(neighbours, bot_says(lambda b: b.startswith("已删除")))
        await client.close()
    finally:
        await demo_down(task)

    task, summary = await demo_up(data)  # the same data/: ports, tokens, passwords kept
    try:
        client = await ResidentClient.login(str(summary["homeserver"]), li_si, accounts[li_si])
        lobby = await client.join("#heping-lobby:linli.localhost")
        await client.send_text(lobby, "!我")
        answer = await client.wait_for_event(lobby, bot_says(lambda b: "个人信息" in b))
        assert answer["content"]["body"] == "我们没有保存您的个人信息。"
        neighbours = await client.resolve_alias("#heping-neighbours:linli.localhost")
        assert neighbours not in await client.joined_rooms()  # not let back in either
        await client.close()
    finally:
        await demo_down(task)
