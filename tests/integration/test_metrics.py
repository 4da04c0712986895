"""`/metrics` as Prometheus scrapes it while residents and staff use Linli through the real
Synapse: the command counters move by name and outcome, and the ticket gauges count a
compound's open and overdue tickets on the test's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp

from bridge.app import Bridge
from bridge.clock import FakeClock
from tests.integration.harness import Harness

BOT = "@linli:linli.localhost"
# Monday 23 November 2026, 10:00 in Shanghai: an ordinary workday.
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


async def scrape(bridge: Bridge) -> dict[str, float]:
    assert bridge.ops is not None
    url = f"http://127.0.0.1:{bridge.ops.port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        text = await response.text()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, number = line.rsplit(" ", 1)
            samples[name] = float(number)
    return samples


def command(name: str, outcome: str) -> str:
    return f'linli_commands_total{{command="{name}",outcome="{outcome}"}}'


def tickets(state: str) -> str:
    return f'linli_tickets{{compound="heping",state="{state}"}}'


async def test_commands_and_ticket_gauges_move_when_synapse_delivers(
    harness: Harness, make_user, staff_client
) -> None:
    harness.only("heping")
    clock = FakeClock(MONDAY_10)
    resident = await make_user()
    bridge = await harness.start_bridge(apply=False, clock=clock)
    await bridge.store.people.bind_household(
        "heping", resident.user_id, "3", "2", "1101", clock.now()
    )
    await bridge.provisioner.apply()
    staff = await staff_client("wuye_wang")
    neighbours = await resident.join(harness.alias("heping-neighbours"))
    await staff.join(neighbours)
    before = await scrape(bridge)
    assert before.get(tickets("open")) == 0

    opening = await resident.send_text(neighbours, "@物业 3号楼电梯坏了")
    await resident.wait_for_event(
        neighbours,
        lambda e: e["sender"] == BOT and "工单 #1" in e["content"].get("body", ""),
    )
    await resident.send_text(neighbours, "!工单 完成 1")  # staff only: denied
    await staff.send_text(neighbours, "!工单 受理")  # no number: usage
    await staff.send_text(neighbours, "!工单 受理 99")  # no such ticket: refused
    await staff.send_text(neighbours, "!工单 受理 1")  # ok
    marker = await resident.send_text(neighbours, "!帮助")  # ok; answered after all the above
    await resident.wait_for_event(
        neighbours,
        lambda e: (
            e["sender"] == BOT
            and (
                e["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
                == marker
                or e["content"].get("body", "").startswith("您可以用")
            )
        ),
    )
    await bridge.worker.drain()
    after = await scrape(bridge)

    def moved(sample: str) -> float:
        return after.get(sample, 0.0) - before.get(sample, 0.0)

    assert moved(command("ticket done", "denied")) == 1
    assert moved(command("ticket ack", "usage")) == 1
    assert moved(command("ticket ack", "refused")) == 1
    assert moved(command("ticket ack", "ok")) == 1
    assert moved(command("help", "ok")) == 1
    assert moved(command("ticket ack", "error")) == 0
    # The opening mention and the five commands, at least (membership events count too).
    assert moved('linli_events_handled_total{kind="m.room.message"}') >= 6
    assert moved('linli_appservice_transactions_total{outcome="stored"}') >= 1
    assert (after[tickets("open")], after[tickets("overdue")]) == (1, 0)
    assert opening

    # Acknowledged at once, but not resolved by Wednesday 11:00: overdue on the test's clock.
    clock.advance(timedelta(days=3))
    later = await scrape(bridge)
    assert (later[tickets("open")], later[tickets("overdue")]) == (1, 1)
