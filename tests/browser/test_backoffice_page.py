"""The back office page in a real browser (headless Chromium), against the real Synapse: in a
widget host that answers `get_openid` as Element does, and opened by URL as on a phone (the
homeserver's password login in the page). Screenshots are kept in the artefacts folder.

Selenium is blocking: every browser step runs in a thread, so Linli (on this event loop)
keeps answering the page meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from bridge.clock import FakeClock
from tests.browser.widget_host import WidgetHost
from tests.integration.backoffice import openid_token
from tests.integration.harness import Harness
from tests.integration.matrix_client import ResidentClient
from tests.integration.test_tickets import BOT, MONDAY_10, in_thread

PASSWORD = "correct horse battery"


async def in_browser(step: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(step)


def wait_for(driver: WebDriver, css: str, timeout: float = 30) -> Any:
    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


async def opened_ticket(harness: Harness, make_user, staff_client) -> tuple[Any, ...]:
    harness.only("heping")
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
    # A resident asks the property company, a moment before staff open the back office.
    root = await resident.send_text(neighbours, "@物业 3号楼2单元楼道灯坏了")
    reply = await resident.wait_for_event(
        neighbours, lambda e: e["sender"] == BOT and in_thread(root)(e)
    )
    number = int(reply["content"]["body"].split("工单 #")[1].split("（")[0])
    await bridge.worker.drain()  # the ticket is written while its reply goes out
    return bridge, resident, staff, neighbours, root, number


async def test_the_widget_signs_in_shows_the_new_ticket_and_closes_it_with_a_click(
    harness: Harness, make_user, staff_client, browser: WebDriver, artefacts: Path
) -> None:
    _, resident, staff, neighbours, root, number = await opened_ticket(
        harness, make_user, staff_client
    )
    five = await staff.resolve_alias(harness.alias("heping-five_in_one"))
    await staff.join(five)
    widget = await staff.get_state(five, "im.vector.modular.widgets", "linli_backoffice")
    # As Element does: the URL's template variables filled in from the room.
    url = widget["url"].replace("$matrix_room_id", five).replace("$matrix_widget_id", widget["id"])
    host = WidgetHost(url, await openid_token(staff))
    host_url = await host.start()
    try:
        await in_browser(lambda: browser.get(host_url))
        await in_browser(lambda: browser.switch_to.frame(browser.find_element(By.ID, "widget")))
        card = f'li.ticket[data-number="{number}"]'
        item = await in_browser(lambda: wait_for(browser, card))
        text = await in_browser(lambda: item.text)
        assert "楼道灯坏了" in text and "首次回复" in text and "还剩" in text
        await in_browser(lambda: browser.save_screenshot(str(artefacts / "widget-queue.png")))
        # Done, with a note, in two clicks.
        await in_browser(lambda: item.find_element(By.CSS_SELECTOR, "button.act-done").click())
        note = await in_browser(lambda: wait_for(browser, f'{card} form.inline input[name="text"]'))
        await in_browser(lambda: note.send_keys("换了灯泡"))
        await in_browser(lambda: browser.find_element(By.CSS_SELECTOR, f"{card} button.ok").click())
        await in_browser(lambda: wait_for(browser, f'{card}[data-status="done"]'))
        await in_browser(lambda: browser.save_screenshot(str(artefacts / "widget-done.png")))
        browser.switch_to.default_content()
        asked = await in_browser(lambda: browser.execute_script("return window.openidAsked"))
        assert asked == 1
    finally:
        await host.stop()
    # The resident reads the bot's message in the ticket's thread, as after `!工单 完成`.
    done = await resident.wait_for_event(
        neighbours,
        lambda e: (
            e["sender"] == BOT
            and in_thread(root)(e)
            and "已处理完成" in e["content"].get("body", "")
        ),
    )
    assert "换了灯泡" in done["content"]["body"]


async def test_on_a_phone_the_page_logs_in_with_the_homeserver_and_shows_the_queue(
    harness: Harness, make_user, staff_client, browser: WebDriver, artefacts: Path
) -> None:
    bridge, resident, _, neighbours, root, number = await opened_ticket(
        harness, make_user, staff_client
    )
    page = bridge.config.dashboard_url
    await in_browser(lambda: browser.set_window_size(412, 915))  # a phone's screen
    await in_browser(lambda: browser.get(page))
    form = await in_browser(lambda: wait_for(browser, "form#login:not([hidden])"))
    await in_browser(lambda: form.find_element(By.NAME, "user").send_keys("wuye_wang"))
    await in_browser(lambda: form.find_element(By.NAME, "password").send_keys(PASSWORD))
    await in_browser(lambda: browser.save_screenshot(str(artefacts / "phone-login.png")))
    await in_browser(lambda: form.find_element(By.CSS_SELECTOR, "button[type=submit]").click())
    item = await in_browser(lambda: wait_for(browser, f'li.ticket[data-number="{number}"]'))
    assert "楼道灯坏了" in await in_browser(lambda: item.text)
    await in_browser(lambda: browser.save_screenshot(str(artefacts / "phone-queue.png")))
    # Claim from the phone: the resident hears who has it.
    await in_browser(lambda: item.find_element(By.CSS_SELECTOR, "button.act-claim").click())
    await resident.wait_for_event(
        neighbours,
        lambda e: (
            e["sender"] == BOT
            and in_thread(root)(e)
            and f"工单 #{number} 由" in e["content"].get("body", "")
        ),
    )
    # The ticket's history, from its log, in words.
    card = f'li.ticket[data-number="{number}"]'
    await in_browser(
        lambda: WebDriverWait(
            browser, 20, ignored_exceptions=[StaleElementReferenceException]
        ).until(lambda d: "wuye_wang" in d.find_element(By.CSS_SELECTOR, f"{card} .assignee").text)
    )  # the queue shown again after the claim
    await in_browser(
        lambda: browser.find_element(By.CSS_SELECTOR, f"{card} button.act-history").click()
    )
    line = await in_browser(lambda: wait_for(browser, f"{card} ul.history li"))
    assert "报修" in await in_browser(lambda: line.text)
    entries = await in_browser(
        lambda: browser.find_element(By.CSS_SELECTOR, f"{card} ul.history").text
    )
    assert "指派" in entries and "首次回复" in entries
    await in_browser(lambda: browser.save_screenshot(str(artefacts / "phone-history.png")))


async def sign_in_by_password(browser: WebDriver, page: str, localpart: str) -> None:
    await in_browser(lambda: browser.get(page))
    form = await in_browser(lambda: wait_for(browser, "form#login:not([hidden])"))
    await in_browser(lambda: form.find_element(By.NAME, "user").send_keys(localpart))
    await in_browser(lambda: form.find_element(By.NAME, "password").send_keys(PASSWORD))
    await in_browser(lambda: form.find_element(By.CSS_SELECTOR, "button[type=submit]").click())


async def test_the_committee_approves_a_newcomer_from_the_page(
    harness: Harness, make_user, staff_client, browser: WebDriver, artefacts: Path
) -> None:
    harness.only("heping")
    bridge = await harness.start_bridge()
    newcomer: ResidentClient = await make_user()
    lobby = await newcomer.join(harness.alias("heping-lobby"))
    await newcomer.send_text(lobby, "!认证 2-1-202 王芳")
    await newcomer.wait_for_event(
        lobby, lambda e: e["sender"] == BOT and "已收到认证申请" in e["content"].get("body", "")
    )
    await sign_in_by_password(browser, bridge.config.dashboard_url, "juwei_chen")
    item = await in_browser(lambda: wait_for(browser, "li.request"))
    text = await in_browser(lambda: item.text)
    assert "2-1-202" in text and "王芳" in text
    await in_browser(lambda: browser.save_screenshot(str(artefacts / "committee-requests.png")))
    await in_browser(lambda: item.find_element(By.CSS_SELECTOR, "button.act-approve").click())
    await newcomer.wait_for_event(
        lobby, lambda e: e["sender"] == BOT and "认证通过" in e["content"].get("body", "")
    )
    await in_browser(lambda: wait_for(browser, "#no-requests:not([hidden])"))
    # A notice to building 2: its reach per building, the new household not reached yet.
    committee = await staff_client("juwei_chen")
    work_room = await committee.join(harness.alias("heping-committee"))
    await committee.send_text(work_room, "!通知 2 明天9点停水")
    await committee.wait_for_event(
        work_room, lambda e: e["sender"] == BOT and "通知 #1" in e["content"].get("body", "")
    )
    await in_browser(lambda: browser.find_element(By.CSS_SELECTOR, "button.view-notices").click())
    building = await in_browser(lambda: wait_for(browser, 'li.notice [data-building="2"]'))
    assert "2-1-202" in await in_browser(lambda: building.text)
    await in_browser(lambda: browser.save_screenshot(str(artefacts / "committee-notice-reach.png")))
    # Proposals: none yet, and the view says so.
    await in_browser(lambda: browser.find_element(By.CSS_SELECTOR, "button.view-proposals").click())
    await in_browser(lambda: wait_for(browser, "#no-proposals:not([hidden])"))


async def test_the_street_office_compares_its_compounds_on_a_chart(
    harness: Harness, make_user, staff_client, browser: WebDriver, artefacts: Path
) -> None:
    bridge, *_ = await opened_ticket(harness, make_user, staff_client)
    bridge.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    await sign_in_by_password(browser, bridge.config.dashboard_url, "jiedao_zhou")
    table = await in_browser(lambda: wait_for(browser, "#street-table tr:nth-child(2)"))
    assert "和平里小区" in await in_browser(lambda: table.text)
    headers = await in_browser(lambda: browser.find_element(By.CSS_SELECTOR, "#street-table").text)
    assert "响应率" in headers and "满意率" in headers
    ranking = await in_browser(lambda: wait_for(browser, "#ranking-table tr"))
    assert "名次" in await in_browser(lambda: ranking.text)  # the staff ranking drawn too
    drawn = await in_browser(
        lambda: WebDriverWait(browser, 20).until(
            lambda d: d.execute_script(
                "const i = document.getElementById('chart'); return i.complete && i.naturalWidth"
            )
        )
    )
    assert drawn > 300
    await in_browser(lambda: browser.save_screenshot(str(artefacts / "street-overview.png")))


async def test_the_owners_committee_sees_turnout_and_enters_a_paper_ballot(
    harness: Harness, make_user, staff_client, browser: WebDriver, artefacts: Path
) -> None:
    harness.only("heping")
    bridge = await harness.start_bridge()
    resident: ResidentClient = await make_user()  # 1-1-101 votes by household
    await bridge.store.people.bind_household(
        "heping", resident.user_id, "1", "1", "101", bridge.clock.now()
    )
    committee = await staff_client("yewei_zhao")
    hall = await committee.join(harness.alias("heping-hall"))
    await committee.send_text(hall, "!表决 更换小区门禁 | 简单多数 | 每户一票")
    await committee.wait_for_event(
        hall, lambda e: e["sender"] == BOT and "表决 #1" in e["content"].get("body", "")
    )
    await sign_in_by_password(browser, bridge.config.dashboard_url, "yewei_zhao")
    item = await in_browser(lambda: wait_for(browser, 'li.poll[data-number="1"]'))
    assert "更换小区门禁" in await in_browser(lambda: item.text)
    form = await in_browser(lambda: item.find_element(By.CSS_SELECTOR, "form.paper"))
    await in_browser(lambda: form.find_element(By.NAME, "household").send_keys("1-1-101"))
    await in_browser(lambda: form.find_element(By.NAME, "choice").send_keys("同意"))
    await in_browser(lambda: form.find_element(By.CSS_SELECTOR, "button[type=submit]").click())
    said = await in_browser(lambda: wait_for(browser, 'li.poll[data-number="1"] p.said'))
    for _ in range(100):
        if "已登记 1-1-101" in await in_browser(lambda: said.text):
            break
        await asyncio.sleep(0.1)  # the page's answer: nothing else to wait on
    assert "已登记 1-1-101" in await in_browser(lambda: said.text)
    await in_browser(lambda: browser.save_screenshot(str(artefacts / "owners-votes.png")))
