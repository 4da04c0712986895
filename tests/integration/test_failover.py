"""Two `linli run` on one PostgreSQL: one runs the bots, the other stands by and takes over
when the first is killed (bridge/lease.py). Residents write while the leader dies: every
mention gets one ticket and one reply, none twice, and the standby is answering within seconds.

Both processes listen on the same port when they lead (one machine here; across machines the
operator's reverse proxy sends the homeserver to whichever answers), so the homeserver's
registration names one URL and its recoverer delivers what queued up during the handover.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bench.common import free_port
from tests.integration.conftest import SERVER, Session
from tests.integration.linli_process import LinliProcess
from tests.integration.lobby import from_bot, verify_in_lobby
from tests.integration.matrix_client import ResidentClient
from tests.integration.test_resend import bot_replies, in_thread, tickets_for
from tests.postgres import ThrowawayPostgres


@pytest.fixture
async def pair(
    session: Session, postgres: ThrowawayPostgres, tmp_path: Path
) -> AsyncIterator[tuple[LinliProcess, LinliProcess]]:
    url = await postgres.fresh_database()
    metrics_port = free_port()  # shared, as the appservice port is: only the leader listens
    first = LinliProcess(
        tmp_path / "a",
        session.synapse.base_url,
        SERVER,
        session.as_token,
        session.hs_token,
        session.port,
        database_url=url,
        metrics_port=metrics_port,
    )
    second = LinliProcess(
        tmp_path / "b",
        session.synapse.base_url,
        SERVER,
        session.as_token,
        session.hs_token,
        session.port,
        database_url=url,
        metrics_port=metrics_port,
        prefix=first.prefix,  # the same deployment: the same rooms
    )
    yield first, second
    for process in (first, second):
        await process.stop()


async def logged_again(process: LinliProcess, text: str, timeout: float) -> None:  # noqa: ASYNC109
    """Until this life of the process logs `text` (the log file holds every life's)."""
    start = process.log_text().rfind("---- start ")
    deadline = time.monotonic() + timeout
    while text not in process.log_text()[start:]:
        if not process.running or time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not logged:\n{process.log_tail()}")
        await asyncio.sleep(0.05)  # polling the log: from outside nothing else says it


async def standing_by(process: LinliProcess) -> None:
    await process.spawn()
    await logged_again(process, "standby: another Linli runs on", 60)


async def test_the_standby_takes_over_when_the_leader_is_killed_and_nothing_is_lost_or_repeated(
    pair: tuple[LinliProcess, LinliProcess], make_user: Any, staff_client: Any
) -> None:
    leader, standby = pair
    await leader.start()
    await standing_by(standby)
    assert "holding the lease" in leader.log_text()
    assert (await leader_health(leader))["role"] == "leader"
    # The standby neither applied, nor listens, nor handles anything while it waits.
    assert "started" not in standby.log_text() and "apply" not in standby.log_text()
    resident: ResidentClient = await make_user()
    committee = await staff_client("juwei_chen")
    room = await verify_in_lobby(leader, resident, committee, "3-2-1101", "住户甲")

    mentions: list[str] = []
    takeovers: list[float] = []
    for round_ in range(3):
        # A mention the leader may or may not have answered when it dies.
        mentions.append(await resident.send_text(room, f"@物业 {round_ + 1}号楼电梯坏了"))
        await asyncio.sleep(0.05 * round_)
        killed = time.monotonic()
        await leader.kill()  # SIGKILL
        await logged_again(standby, "holding the lease", 30)
        await standby.wait_ready(60)
        takeovers.append(time.monotonic() - killed)
        # The one killed comes back as the standby.
        leader, standby = standby, leader
        await standing_by(standby)
        # Answered by the new leader, once (the homeserver delivers what queued meanwhile).
        answered = from_bot(leader, lambda b: "工单 #" in b)
        await resident.wait_for_event(
            room, lambda e, a=answered, m=mentions[-1]: a(e) and in_thread(m)(e), 60
        )
    later = await resident.send_text(room, "@物业 4号楼门禁坏了")
    answered = from_bot(leader, lambda b: "工单 #" in b)
    await resident.wait_for_event(room, lambda e: answered(e) and in_thread(later)(e), 60)
    mentions.append(later)

    print(f"takeovers (kill → the standby answering the homeserver): {takeovers}")
    for mention in mentions:
        # Handled to the end: a bot answers first and writes after (the resident waits).
        assert await leader.wait_handled(mention) == "done"
        replies = await bot_replies(leader, resident, room, mention)
        assert len(replies) == 1, (mention, replies)
        assert tickets_for(leader, mention) == 1
    assert leader.query("SELECT count(*) FROM tickets") == [(len(mentions),)]
    assert leader.query("SELECT count(*) FROM inbox_events WHERE status = 'failed'") == [(0,)]
    assert max(takeovers) < 10, takeovers  # the bound; about 1-1.5 s here

    # A standby stopped while it waits simply ends.
    standby.send_signal(signal.SIGTERM)
    for _ in range(100):
        if not standby.running:
            break
        await asyncio.sleep(0.1)  # polling the process: nothing else to wait on
    assert not standby.running


async def leader_health(process: LinliProcess) -> dict[str, Any]:
    """/health of the one that leads (its metrics listener, on the port it logged)."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{process.metrics_port}/health") as resp:
            body: dict[str, Any] = await resp.json()
            return body
