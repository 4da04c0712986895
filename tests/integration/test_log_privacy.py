"""Linli's log holds Matrix IDs and event IDs, never what residents wrote, their names or
addresses, nor a token, secret or password (README, "Personal data"): Linli runs as a process
of its own with `-v` (DEBUG: every record the normal level writes, and more, in the same
format), every bot is used, and what it printed and its log file (bridge.yaml's logging.file)
are searched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.conftest import PASSWORD, SERVER, Session
from tests.integration.linli_process import GridTarget, LinliProcess
from tests.integration.lobby import from_bot, verify_in_lobby
from tests.integration.matrix_client import ResidentClient

NAME = "王秀英"
ADDRESS = "2-3-602"
REJECTED_NAME = "李建国"
REJECTED_ADDRESS = "1-2-301"
REASON = "花名册上查不到这户"
MENTION = "@物业 2号楼电梯坏了，家里老人下不了楼"
NOTE = "已联系维修师傅老周"
DONE = "已更换电机"
NOTICE = "明天上午9点到11点 2号楼停水检修"
POLL = "二号楼门口的快递柜放哪里"


def in_thread(root: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: (e["content"].get("m.relates_to") or {}).get("event_id") == root


async def exercise_every_bot(
    linli: LinliProcess, make_user: Any, staff_client: Any
) -> list[ResidentClient]:
    """Verification (approved and rejected), `!我`, `!我 导出`, `!谁`, `!查`, a role, `!帮助`,
    a ticket taken up, noted, finished and confirmed, the staff's lists and figures, a notice
    and a quick poll."""
    committee: ResidentClient = await staff_client("juwei_chen")
    staff: ResidentClient = await staff_client("wuye_wang")
    resident: ResidentClient = await make_user()
    neighbours = await verify_in_lobby(linli, resident, committee, ADDRESS, NAME)

    newcomer: ResidentClient = await make_user()
    lobby = await newcomer.join(linli.alias("heping-lobby"))
    await newcomer.send_text(lobby, f"!认证 {REJECTED_ADDRESS} {REJECTED_NAME}")
    work_room = await committee.join(linli.alias("heping-committee"))
    request = await committee.wait_for_event(
        work_room, from_bot(linli, lambda b: newcomer.user_id in b and "认证申请 #" in b)
    )
    number = request["content"]["body"].split("#")[1].split("：")[0]
    await committee.send_text(work_room, f"!认证 拒绝 {number} {REASON}")
    await newcomer.wait_for_event(lobby, from_bot(linli, lambda b: "认证没有通过" in b))

    async def ask(client: ResidentClient, room: str, command: str, answer: str) -> None:
        await client.send_text(room, command)
        await client.wait_for_event(room, from_bot(linli, lambda b: answer in b))

    await ask(resident, neighbours, "!帮助", "可以用")
    await ask(resident, neighbours, "!我", "已私信")
    await ask(resident, neighbours, "!我 导出", "数据已私信")
    await ask(resident, neighbours, "!谁", "工作人员")
    await ask(resident, neighbours, f"!查 {staff.user_id}", "工作人员")
    await ask(committee, work_room, f"!角色 授予 {resident.user_id} 志愿者", "志愿者")

    await staff.join(neighbours)
    mention = await resident.send_text(neighbours, MENTION)
    opened = await resident.wait_for_event(
        neighbours, lambda e: from_bot(linli, lambda b: "工单 #" in b)(e) and in_thread(mention)(e)
    )
    ticket = opened["content"]["body"].split("工单 #")[1].split("（")[0]
    for command, answer in (
        (f"!工单 受理 {ticket}", "已受理"),
        (f"!工单 备注 {ticket} {NOTE}", NOTE),
        (f"!工单 完成 {ticket} {DONE}", "请确认"),
    ):
        await staff.send_text(neighbours, command)
        await staff.wait_for_event(
            neighbours,
            lambda e, a=answer: from_bot(linli, lambda b: a in b)(e) and in_thread(mention)(e),
        )
    await resident.send_text(neighbours, f"!工单 确认 {ticket}")
    await resident.wait_for_event(
        neighbours, lambda e: from_bot(linli, lambda b: "已关闭" in b)(e) and in_thread(mention)(e)
    )
    five_in_one = await staff.join(linli.alias("heping-five_in_one"))
    await ask(staff, five_in_one, "!工单 我的", "工单")
    await ask(staff, five_in_one, "!工单 统计", "工单统计")
    # The notices and votes bots: a notice to the whole compound, a resident's quick poll.
    await ask(staff, five_in_one, f"!通知 全体 {NOTICE}", "已发布")
    await ask(resident, neighbours, f"!投票 {POLL} | 东边 | 西边", "已发起")
    return [resident, newcomer, committee, staff]


def spellings(text: str) -> set[str]:
    r"""The words as written, as JSON writes them ("\u738b..."), and as Python's repr() shows
    that JSON inside a logged tuple ("\\u738b..."): the same words each way."""
    escaped = json.dumps(text)[1:-1]
    return {text, escaped, escaped.replace("\\", "\\\\")}


async def test_the_log_holds_no_names_addresses_texts_or_secrets(
    session: Session, make_user: Any, staff_client: Any, tmp_path: Path
) -> None:
    # At DEBUG only: a record at INFO is written at DEBUG too, through the same handlers and
    # formatter (bridge/logs.py), so a clean DEBUG log means a clean INFO log. (Run at both
    # levels, the two runs cost 30 s of the suite and could only fail together.)
    verbose = True
    grid = GridTarget("http://127.0.0.1:9/orders")  # configured, never called
    linli = LinliProcess(
        tmp_path / "linli",
        session.synapse.base_url,
        SERVER,
        session.as_token,
        session.hs_token,
        session.port,
        grid=grid,
        verbose=verbose,
        log_file="linli-file.log",
    )
    await linli.start()
    try:
        await exercise_every_bot(linli, make_user, staff_client)
    finally:
        await linli.stop()

    log = linli.log_text()
    private = {
        "a resident's name": [NAME, REJECTED_NAME],
        "an address": [ADDRESS, REJECTED_ADDRESS],
        "what someone wrote": [MENTION, "老人下不了楼", NOTE, DONE, REASON, NOTICE, POLL],
        "a token or secret": [
            session.as_token,
            session.hs_token,
            grid.secret,
            grid.inbound_secret,
            PASSWORD,
        ],
    }
    found = {
        f"{kind}: {needle!r}": [
            line[:300] for line in log.splitlines() if any(v in line for v in spellings(needle))
        ]
        for kind, needles in private.items()
        for needle in needles
    }
    found = {what: lines for what, lines in found.items() if lines}
    print(f"\n{len(log.splitlines())} log lines ({'-v' if verbose else 'normal level'})")
    for what, lines in found.items():
        print(f"  {what}: {len(lines)} lines, e.g. {lines[0]}")
    assert linli.log_path.exists() and (linli.workdir / "linli-file.log").exists()
    assert not found, f"private data in Linli's log: {sorted(found)}"
