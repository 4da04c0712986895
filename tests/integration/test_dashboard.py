"""The back office through the real Synapse: sign-in with a real OpenID token, the property
queue, and its buttons running the `!工单` commands, whose messages the resident reads in the
ticket's thread. The clock is a FakeClock: sessions expire when the test moves it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bridge.app import Bridge
from bridge.clock import FakeClock
from tests.integration.backoffice import DashboardClient, openid_token
from tests.integration.harness import Harness
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient
from tests.integration.test_tickets import BOT, MONDAY_10, in_thread

STAFF = "@wuye_wang:linli.localhost"


@dataclass
class Office:
    harness: Harness
    bridge: Bridge
    clock: FakeClock
    resident: ResidentClient
    staff: ResidentClient
    neighbours: str
    pages: list[DashboardClient]

    def dashboard(self) -> DashboardClient:
        """A new page (a browser of its own, with no session yet)."""
        page = DashboardClient(f"http://127.0.0.1:{self.harness.port}")
        self.pages.append(page)
        return page

    @property
    def page(self) -> DashboardClient:
        return self.pages[0] if self.pages else self.dashboard()

    async def open_ticket(self, body: str = "@物业 3号楼水管漏水") -> tuple[str, int]:
        event_id = await self.resident.send_text(self.neighbours, body)
        reply = await self.from_bot_in(event_id, lambda b: "工单 #" in b)
        # The reply goes out while the ticket is written (bots/tickets/desk.py): the page
        # lists tickets from the store, so the test waits for the write as a page would.
        await self.bridge.worker.drain()
        return event_id, int(reply.split("工单 #")[1].split("（")[0])

    async def from_bot_in(self, root: str, predicate: Any) -> str:
        event = await self.resident.wait_for_event(
            self.neighbours,
            lambda e: (
                e["sender"] == BOT
                and in_thread(root)(e)
                and predicate(e["content"].get("body", ""))
            ),
        )
        return str(event["content"]["body"])


@pytest.fixture
async def o(harness: Harness, make_user, staff_client) -> AsyncIterator[Office]:
    harness.only("heping", "xingfu")
    clock = FakeClock(MONDAY_10)
    resident: ResidentClient = await make_user()
    bridge = await harness.start_bridge(apply=False, clock=clock)
    await bridge.store.people.bind_household(
        "heping", resident.user_id, "3", "2", "1101", clock.now()
    )
    await bridge.provisioner.apply()
    staff = await staff_client("wuye_wang")
    neighbours = await resident.join(harness.alias("heping-neighbours"))
    await staff.join(neighbours)
    office = Office(harness, bridge, clock, resident, staff, neighbours, [])
    yield office
    for page in office.pages:
        await page.close()


async def test_sign_in_with_a_real_openid_token_and_every_refusal(o: Office, staff_client) -> None:
    # A forged token, and one said to come from another server: Linli asks only its homeserver.
    forged = await o.page.call("POST", "api/session", {"access_token": "forgedtoken1234567890"})
    assert forged.status == 401 and forged.body["errcode"] == "LINLI_BAD_TOKEN"
    real = await openid_token(o.staff)
    elsewhere = await o.page.call(
        "POST",
        "api/session",
        {"access_token": real["access_token"], "matrix_server_name": "evil.example"},
    )
    assert elsewhere.status == 401
    # A resident has no back office, whatever the URL says.
    resident = await o.dashboard().sign_in(o.resident)
    assert resident.status == 403 and resident.body["errcode"] == "LINLI_NOT_STAFF"
    assert "工作人员" in resident.body["error"]
    # No session, no data.
    assert (await o.dashboard().call("GET", "api/tickets")).status == 401
    # Staff get a session of Linli's own, and their roles per compound.
    signed = await o.page.sign_in(o.staff)
    assert signed.status == 200, signed.body
    assert signed.body["user_id"] == STAFF and signed.body["expires_in"] == 30 * 60
    assert "default-src 'none'" in signed.headers["Content-Security-Policy"]
    me = await o.page.call("GET", "api/me")
    assert me.body["name"] == "wuye_wang"  # the homeserver's display name (its default here)
    assert me.body["compounds"] == {
        "heping": {"name": "和平里小区", "locale": "zh", "roles": ["property_staff"]}
    }
    # The session ends on Linli's clock.
    o.clock.advance(timedelta(minutes=31))
    expired = await o.page.call("GET", "api/tickets")
    assert expired.status == 401 and expired.body["errcode"] == "LINLI_NO_SESSION"
    # The page itself: served with the same policy, no inline script, the library vendored.
    page = await o.page.call("GET", "")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    library = await o.page.call("GET", "static/matrix-widget-api.min.js")
    assert library.status == 200
    assert (await o.page.call("GET", "static/..%2Fserver.py")).status == 404


async def test_the_exchange_is_rate_limited(o: Office) -> None:
    statuses = [
        (await o.page.call("POST", "api/session", {"access_token": f"forged{n:016d}"})).status
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]


async def test_staff_queue_claim_pause_resume_done_as_the_commands_do(
    o: Office, staff_client
) -> None:
    root, number = await o.open_ticket("@物业 紧急！3号楼水管爆了")
    assert (await o.page.sign_in(o.staff)).status == 200
    queue = await o.page.call("GET", "api/tickets")
    [ticket] = queue.body["tickets"]
    assert ticket["number"] == number and ticket["compound"] == "heping"
    assert ticket["urgent"] and not ticket["overdue"] and ticket["clock"] == "first"
    assert ticket["link"].startswith("https://matrix.to/#/")
    assert ticket["building"] == "3"
    # Staff of another compound see none of it, and cannot act on it.
    other = o.dashboard()
    assert (await other.sign_in(await staff_client("wuye_xf_liu"))).status == 200
    assert (await other.call("GET", "api/tickets")).body["tickets"] == []
    refused = await other.call(
        "POST", f"api/tickets/heping/{number}/claim", {"request_id": "abcdefgh1"}
    )
    assert refused.status == 403
    # Claim: the resident reads what `!工单 认领` says, once even if the page sends it twice.
    claim = {"request_id": "claim-0001"}
    answer = await o.page.call("POST", f"api/tickets/heping/{number}/claim", claim)
    assert answer.status == 200, answer.body
    assert answer.body["ticket"]["assignee"] == STAFF
    # What the command says in the room it was typed in comes back to the page instead.
    assert answer.body["said"] == [f"好的，已在工单 #{number} 的讨论串里回复。"]
    await o.from_bot_in(root, lambda b: f"工单 #{number} 由" in b)
    again = await o.page.call("POST", f"api/tickets/heping/{number}/claim", claim)
    assert again.status == 200
    # Pause with a reason, then resume: the queue shows the pause and its reason.
    paused = await o.page.call(
        "POST",
        f"api/tickets/heping/{number}/pause",
        {"request_id": "pause-0001", "reason": "等配件"},
    )
    assert paused.status == 200, paused.body
    assert paused.body["ticket"]["status"] == "waiting"
    assert paused.body["ticket"]["waiting_reason"] == "等配件"
    assert paused.body["ticket"]["clock"] is None
    await o.from_bot_in(root, lambda b: "暂停计时" in b)
    no_reason = await o.page.call(
        "POST", f"api/tickets/heping/{number}/pause", {"request_id": "pause-0002"}
    )
    assert no_reason.status == 400
    resumed = await o.page.call(
        "POST", f"api/tickets/heping/{number}/resume", {"request_id": "resume-001"}
    )
    assert resumed.status == 200 and resumed.body["ticket"]["status"] == "open"
    await o.from_bot_in(root, lambda b: "继续计时" in b)
    # A refusal is the command's own words: resuming a running ticket.
    wrong = await o.page.call(
        "POST", f"api/tickets/heping/{number}/resume", {"request_id": "resume-002"}
    )
    assert wrong.status == 409 and wrong.body["errcode"] == "LINLI_REFUSED"
    # Done: the resident is asked to confirm, as after `!工单 完成`.
    done = await o.page.call(
        "POST",
        f"api/tickets/heping/{number}/done",
        {"request_id": "done-00001", "text": "换了阀门"},
    )
    assert done.status == 200 and done.body["ticket"]["status"] == "done"
    body = await o.from_bot_in(root, lambda b: "已处理完成" in b)
    assert "换了阀门" in body
    # The ticket's history, from its event log; the claim was made once.
    history = await o.page.call("GET", f"api/tickets/heping/{number}")
    actions = [line["action"] for line in history.body["history"]]
    assert actions.count("assigned") == 1
    assert {"assigned", "first_response", "waiting", "resumed", "done"} <= set(actions)
    messages = await o.resident.messages(o.neighbours, limit=50)
    claimed = [
        e
        for e in messages
        if e["sender"] == BOT and f"工单 #{number} 由" in e["content"].get("body", "")
    ]
    assert len(claimed) == 1


async def test_a_role_change_ends_the_session(o: Office) -> None:
    assert (await o.page.sign_in(o.staff)).status == 200
    assert (await o.page.call("GET", "api/tickets")).status == 200
    o.harness.edit_compound(
        "heping", 'property_staff: ["@wuye_wang:linli.localhost"]', "property_staff: []"
    )
    await o.bridge.reload(o.harness.rooms())
    ended = await o.page.call("GET", "api/tickets")
    assert ended.status == 401 and ended.body["errcode"] == "LINLI_ROLES_CHANGED"
    # Signing in again: no longer staff.
    assert (await o.page.sign_in(o.staff)).status == 403


async def test_the_widget_is_in_the_staff_rooms_and_apply_puts_it_back(o: Office) -> None:
    five = await o.staff.resolve_alias(o.harness.alias("heping-five_in_one"))
    await o.staff.join(five)
    widget = await o.staff.get_state(five, "im.vector.modular.widgets", "linli_backoffice")
    assert widget["url"].startswith(f"http://127.0.0.1:{o.harness.port}/linli/dashboard/?")
    assert "$matrix_room_id" in widget["url"] and "$matrix_widget_id" in widget["url"]
    assert "$matrix_user_id" not in widget["url"]
    layout = await o.staff.get_state(five, "io.element.widgets.layout")
    assert layout["widgets"]["linli_backoffice"]["container"] == "top"
    # Not in rooms with residents in them.
    with pytest.raises(MatrixHTTPError) as none_there:
        await o.resident.get_state(o.neighbours, "im.vector.modular.widgets", "linli_backoffice")
    assert none_there.value.status == 404
    # Removed by hand (staff have the power to): a live plan shows it, apply puts it back.
    await o.staff.send_state(five, "im.vector.modular.widgets", "linli_backoffice", {})
    plan = await o.bridge.provisioner.plan(live=True)
    assert any("heping:five_in_one: widget" in line for line in plan.describe())
    await o.bridge.provisioner.apply(live=True)
    again = await o.staff.get_state(five, "im.vector.modular.widgets", "linli_backoffice")
    assert again["url"] == widget["url"]


async def test_the_committee_approves_and_refuses_requests_as_its_commands_do(
    o: Office, make_user, staff_client
) -> None:
    committee = await staff_client("juwei_chen")
    work_room = await committee.join(o.harness.alias("heping-committee"))
    newcomers = [await make_user(), await make_user()]
    lobby = await newcomers[0].join(o.harness.alias("heping-lobby"))
    await newcomers[1].join(lobby)
    for newcomer, address in zip(newcomers, ("1-1-101", "2-1-202"), strict=True):
        await newcomer.send_text(lobby, f"!认证 {address} 张三")
        await newcomer.wait_for_event(
            lobby, lambda e: e["sender"] == BOT and "已收到认证申请" in e["content"].get("body", "")
        )
    page = o.dashboard()
    assert (await page.sign_in(committee)).status == 200
    listed = (await page.call("GET", "api/verifications")).body["verifications"]
    assert [(v["household"], v["name"]) for v in listed] == [
        ("1-1-101", "张三"),
        ("2-1-202", "张三"),
    ]
    first, second = (v["number"] for v in listed)
    # Property staff are not the residents' committee: no list, no decision.
    staff = o.dashboard()
    assert (await staff.sign_in(o.staff)).status == 200
    assert (await staff.call("GET", "api/verifications")).body["verifications"] == []
    denied = await staff.call(
        "POST", f"api/verifications/heping/{first}/approve", {"request_id": "approve-01"}
    )
    assert denied.status == 403
    # Approve: the newcomer is welcomed in the lobby, as after `!认证 同意`.
    approved = await page.call(
        "POST", f"api/verifications/heping/{first}/approve", {"request_id": "approve-01"}
    )
    assert approved.status == 200 and approved.body["status"] == "approved", approved.body
    await newcomers[0].wait_for_event(
        lobby, lambda e: e["sender"] == BOT and "认证通过" in e["content"].get("body", "")
    )
    await committee.wait_for_event(
        work_room,
        lambda e: (
            e["sender"] == BOT and f"认证申请 #{first} 已同意" in e["content"].get("body", "")
        ),
    )
    # Refuse needs a reason; with one, the applicant hears it in private.
    bare = await page.call(
        "POST", f"api/verifications/heping/{second}/refuse", {"request_id": "refuse-01"}
    )
    assert bare.status == 400
    refused = await page.call(
        "POST",
        f"api/verifications/heping/{second}/refuse",
        {"request_id": "refuse-02", "reason": "房号不对"},
    )
    assert refused.status == 200 and refused.body["status"] == "rejected"
    assert refused.body["said"] == [f"认证申请 #{second} 已拒绝。"]
    # Deciding again is the command's own refusal.
    again = await page.call(
        "POST", f"api/verifications/heping/{second}/approve", {"request_id": "approve-02"}
    )
    assert again.status == 409 and again.body["errcode"] == "LINLI_REFUSED"
    assert (await page.call("GET", "api/verifications")).body["verifications"] == []


async def test_the_street_office_sees_every_compound_side_by_side_and_exports_them(
    o: Office, staff_client
) -> None:
    _, number = await o.open_ticket("@物业 3号楼电梯坏了")
    assert (await o.page.sign_in(o.staff)).status == 200
    claim = {"request_id": "claim-street"}
    assert (await o.page.call("POST", f"api/tickets/heping/{number}/claim", claim)).status == 200
    # Property staff are no observers: no street figures for them.
    assert (await o.page.call("GET", "api/street")).body["headers"]
    assert (await o.page.call("GET", "api/street")).body["rows"] == []
    o.clock.advance(timedelta(minutes=5))  # the figures are of tickets opened before now
    street = o.dashboard()
    assert (await street.sign_in(await staff_client("jiedao_zhou"))).status == 200
    overview = await street.call("GET", "api/street?days=30")
    assert overview.status == 200, overview.body
    headers, rows = overview.body["headers"], overview.body["rows"]
    assert headers[:5] == ["小区", "工单数", "响应率(%)", "解决率(%)", "满意率(%)"]
    by_name = {row[0]: row for row in rows}
    assert set(by_name) == {"和平里小区", "幸福家园"}
    assert by_name["和平里小区"][1:5] == [1, 100.0, 0.0, None]
    assert "维修 1" in by_name["和平里小区"][8]
    assert by_name["幸福家园"][1:5] == [0, None, None, None]
    assert overview.body["chart"].startswith("data:image/svg+xml;base64,")
    # The staff ranking across the compounds observed: the one who claimed the ticket.
    [first] = overview.body["ranking"]
    assert first["rank"] == 1 and first["compound"] == "和平里小区" and first["handled"] == 1
    assert first["name"] == "wuye_wang"  # as the homeserver names them (no display name set)
    assert (await street.call("GET", "api/street?days=3")).status == 400
    # The exports: CSV (UTF-8 with a BOM, for spreadsheet programs) and XLSX.
    async with street.http.get(
        street.base + "api/street/export.csv?days=30",
        headers={"Authorization": f"Bearer {street.token}"},
    ) as resp:
        assert resp.status == 200
        assert "attachment" in resp.headers["Content-Disposition"]
        text = (await resp.read()).decode("utf-8")
    assert text.startswith("\ufeff小区,工单数,响应率(%)")
    assert "和平里小区,1,100.0,0.0,," in text
    async with street.http.get(
        street.base + "api/street/export.xlsx?days=30",
        headers={"Authorization": f"Bearer {street.token}"},
    ) as resp:
        assert resp.status == 200
        data = await resp.read()
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["小区", "工单数", "响应率(%)"]
    assert values[1][:5] == ["和平里小区", 1, 100, 0, None]
    # No session, no export.
    async with street.http.get(street.base + "api/street/export.csv") as resp:
        assert resp.status == 401


async def test_notices_reach_per_building_with_the_unreached_households(
    o: Office, staff_client
) -> None:
    committee = await staff_client("juwei_chen")
    work_room = await committee.join(o.harness.alias("heping-committee"))
    await committee.send_text(work_room, "!通知 3 明天9点停水")
    await committee.wait_for_event(
        work_room, lambda e: e["sender"] == BOT and "通知 #1" in e["content"].get("body", "")
    )
    page = o.dashboard()
    assert (await page.sign_in(committee)).status == 200
    [notice] = (await page.call("GET", "api/notices")).body["notices"]
    assert notice["number"] == 1 and "停水" in notice["text"]
    [building] = notice["buildings"]
    assert building["building"] == "3" and building["reached"] == 0
    assert any("1101" in household for household in building["unreached"])
    # Staff of another compound see none of heping's notices.
    other = o.dashboard()
    assert (await other.sign_in(await staff_client("wuye_xf_liu"))).status == 200
    assert (await other.call("GET", "api/notices")).body["notices"] == []


async def test_a_click_cut_short_is_finished_by_the_scheduler_once(o: Office) -> None:
    """Linli stopped after writing the click down and before running it (or the homeserver
    failed): when the job falls due the same command runs for the same cause, and the resident
    reads the claim once; a click that was seen through leaves nothing for the scheduler."""
    from bridge.dashboard.actions import CLICK, TAKE_OVER_AFTER, Click, cause_of

    root, number = await o.open_ticket()
    cause = cause_of(STAFF, "cut-short-1")
    click = Click(
        user_id=STAFF,
        compound="heping",
        cause=cause,
        room_key="five_in_one",
        command="ticket claim",
        args={"number": number},
    )
    await o.bridge.scheduler.schedule_kind(
        f"dashboard:{cause}", CLICK, o.clock.now() + TAKE_OVER_AFTER, click
    )
    await o.harness.stop_bridge(o.bridge)  # the crash: nothing ran
    o.bridge = await o.harness.start_bridge(apply=False, clock=o.clock)
    o.clock.advance(TAKE_OVER_AFTER + timedelta(seconds=1))
    await o.bridge.scheduler.run_due()
    await o.from_bot_in(root, lambda b: f"工单 #{number} 由" in b)
    # A click seen through: its job is cancelled, the scheduler sends nothing more.
    assert (await o.page.sign_in(o.staff)).status == 200
    done = await o.page.call(
        "POST", f"api/tickets/heping/{number}/done", {"request_id": "done-after-1"}
    )
    assert done.status == 200, done.body
    o.clock.advance(TAKE_OVER_AFTER + timedelta(seconds=1))
    await o.bridge.scheduler.run_due()
    await o.from_bot_in(root, lambda b: "已处理完成" in b)
    messages = await o.resident.messages(o.neighbours, limit=50)
    bodies = [e["content"].get("body", "") for e in messages if e["sender"] == BOT]
    assert sum(f"工单 #{number} 由" in b for b in bodies) == 1
    assert sum("已处理完成" in b for b in bodies) == 1
