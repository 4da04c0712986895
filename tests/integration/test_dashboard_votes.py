"""The back office's votes view through the real Synapse: an owners' vote's turnout in the
words `!表决 进度` uses (never who chose what), and paper ballots entered by one committee
member and confirmed by a second, through the votes bot's own commands; the property company
may look but not enter paper ballots in an owners' vote."""

from __future__ import annotations

import json
import secrets
from urllib.parse import quote

from tests.integration.backoffice import DashboardClient
from tests.integration.test_votes import (
    POLL_START,
    World,
    answer,
    from_bot,
    notice,
    owners_roster,
    w,  # noqa: F401 - the fixture
)


async def test_turnout_and_paper_ballots_from_the_back_office(
    w: World,  # noqa: F811
    make_user,
    staff_client,
) -> None:
    dave = await make_user()
    await owners_roster(w, dave)
    committee = await staff_client("yewei_zhao")
    await committee.join(w.hall)
    await committee.send_text(w.hall, "!表决 更换小区门禁 | 一般 | 业主")
    start = await w.alice.wait_for_event(w.hall, from_bot(POLL_START))
    await answer(w.alice, w.hall, start["event_id"], ["no"])
    await w.alice.send_text(w.hall, "!表决 进度 1")
    in_hall = await w.alice.wait_for_event(w.hall, notice(lambda b: "1/4" in b))

    base = f"http://127.0.0.1:{w.harness.port}"
    page, other_page, office_page = DashboardClient(base), DashboardClient(base), None
    try:
        assert (await page.sign_in(committee)).status == 200
        shown = await page.call("GET", "api/votes")
        assert shown.status == 200
        [poll] = shown.body["polls"]
        assert poll["number"] == 1 and poll["status"] == "open" and poll["may_enter_paper"]
        assert poll["turnout"] == in_hall["content"]["body"]  # the same words as in the hall
        assert w.alice.user_id not in json.dumps(shown.body)  # who voted is not listed

        # The property company may look, not enter paper ballots in an owners' vote.
        manager = await staff_client("wuye_jingli")
        office_page = DashboardClient(base)
        assert (await office_page.sign_in(manager)).status == 200
        [seen] = (await office_page.call("GET", "api/votes")).body["polls"]
        assert not seen["may_enter_paper"]
        refused = await office_page.call(
            "POST",
            "api/votes/heping/1/paper",
            {"household": "1-1-202", "choice": "反对", "request_id": secrets.token_hex(8)},
        )
        assert refused.status == 409 and "只能由业委会或居委会登记" in refused.body["error"]

        # Entered once, whatever the retries (the same request ID), then confirmed by another.
        click = {"household": "1-1-202", "choice": "反对", "request_id": secrets.token_hex(8)}
        entered = await page.call("POST", "api/votes/heping/1/paper", click)
        assert entered.status == 200, entered.body
        [said] = entered.body["said"]
        assert said.startswith("已登记 1-1-202")
        again = await page.call("POST", "api/votes/heping/1/paper", click)
        assert again.status == 200
        batch = said.split("批次 ")[1][:6]
        self_confirm = await page.call(
            "POST",
            "api/votes/heping/1/confirm",
            {"batch": batch, "request_id": secrets.token_hex(8)},
        )
        assert self_confirm.status == 409 and "需要另一位委员" in self_confirm.body["error"]
        scrutineer = await staff_client("juwei_chen")
        assert (await other_page.sign_in(scrutineer)).status == 200
        confirmed = await other_page.call(
            "POST",
            "api/votes/heping/1/confirm",
            {"batch": batch, "request_id": secrets.token_hex(8)},
        )
        assert confirmed.status == 200, confirmed.body
        assert "已确认批次" in confirmed.body["said"][0] and "1 张" in confirmed.body["said"][0]
        [after] = (await page.call("GET", "api/votes")).body["polls"]
        assert "2/4" in after["turnout"]  # Alice online, 1-1-202 on paper: counted once
        bad = await page.call("POST", "api/votes/heping/1/paper", {"household": "1-1-202"})
        assert bad.status == 400  # no choice, no request ID: nothing entered
        assert "一般" in after["rule"] or "2/3" in after["rule"]  # the rule in words

        # Closed: the result in the hall's words, and where the audit file opens.
        await committee.send_text(w.hall, "!投票 结束 1")
        audit_file = await w.alice.wait_for_event(
            w.hall,
            lambda e: (
                e["content"].get("body", "").endswith("-audit.json")
                and e["content"].get("msgtype") == "m.file"
            ),
        )
        await w.alice.wait_for_event(w.hall, notice(lambda b: "SHA-256" in b))
        [closed] = (await page.call("GET", "api/votes")).body["polls"]
        assert closed["status"] == "closed" and not closed["may_enter_paper"]
        assert closed["result"] and "表决 #1" in closed["result"]
        link = closed["audit"]
        assert link.endswith(quote(audit_file["event_id"], safe="") + "?via=linli.localhost")
    finally:
        for p in (page, other_page, office_page):
            if p is not None:
                await p.close()


async def test_proposals_and_their_stage_accepted_and_rejected_from_the_back_office(
    w: World,  # noqa: F811
    staff_client,
) -> None:
    committee = await staff_client("juwei_chen")  # the residents' committee
    committee_room = await committee.join(w.harness.alias("heping-committee"))
    await w.alice.send_text(w.hall, "!提案 在小区东门设置快递柜")
    await w.carol.send_text(w.hall, "!提案 取消物业费")
    await committee.wait_for_event(committee_room, notice(lambda b: b.startswith("新提案 #2")))

    base = f"http://127.0.0.1:{w.harness.port}"
    page, owners_page = DashboardClient(base), DashboardClient(base)
    try:
        assert (await page.sign_in(committee)).status == 200
        listed = (await page.call("GET", "api/proposals")).body["proposals"]
        assert [(p["number"], p["status"]) for p in listed] == [(2, "pending"), (1, "pending")]
        rejected = await page.call(
            "POST",
            "api/proposals/heping/2/reject",
            {"reason": "物业费由合同约定，不能表决取消", "request_id": secrets.token_hex(8)},
        )
        assert rejected.status == 200, rejected.body
        accepted = await page.call(
            "POST",
            "api/proposals/heping/1/accept",
            {"period": "3天", "request_id": secrets.token_hex(8)},
        )
        assert accepted.status == 200, accepted.body
        # Residents read it as the commands say it: the discussion opens in the hall.
        await w.alice.wait_for_event(w.hall, notice(lambda b: b.startswith("提案 #1 开始讨论")))
        stages = {
            p["number"]: (p["status"], p["reason"], p["discussion_until"] is not None)
            for p in (await page.call("GET", "api/proposals")).body["proposals"]
        }
        assert stages == {
            2: ("rejected", "物业费由合同约定，不能表决取消", False),
            1: ("accepted", None, True),
        }
        no_reason = await page.call(
            "POST", "api/proposals/heping/1/reject", {"request_id": secrets.token_hex(8)}
        )
        assert no_reason.status == 400
        # Only the residents' committee decides proposals: the owners' committee sees none.
        owners = await staff_client("yewei_zhao")
        assert (await owners_page.sign_in(owners)).status == 200
        assert (await owners_page.call("GET", "api/proposals")).body["proposals"] == []
        refused = await owners_page.call(
            "POST", "api/proposals/heping/1/accept", {"request_id": secrets.token_hex(8)}
        )
        assert refused.status == 403
    finally:
        await page.close()
        await owners_page.close()
