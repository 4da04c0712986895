"""The street office's overview in the back office: 50 compounds of 2,000 households, a year
of tickets (one per household: 100,000), as the street office's page asks for it — the page,
its files and texts, then `GET api/street?days=365` (every compound's figures from the tickets
bot's statistics, and the SVG chart) through Linli's HTTP app with a signed-in observer's
session — beside the same three rates per compound in one SQL aggregate, same run. No
homeserver: the sign-in is a session issued directly (the OpenID exchange is one request to
the homeserver, timed by the integration tests, not here). The browser's own rendering is not
counted.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert, text

from bench.common import bench_config
from bots import ALL_BOTS
from bots.tickets.models import Ticket
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.clock import FakeClock
from bridge.rooms_config import load_rooms_config
from bridge.store.database import table_of

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).parents[1] / "rooms_config"
OBSERVER = "@jiedao_zhou:linli.localhost"  # the example community's street office
CATEGORIES = ("repair", "cleaning", "noise", "security", "parking", "other")


def write_compounds(folder: Path, compounds: int) -> None:
    shutil.copytree(EXAMPLES, folder)
    for old in (folder / "compounds").glob("*.yaml"):
        old.unlink()
    for n in range(compounds):
        (folder / "compounds" / f"c{n:02d}.yaml").write_text(
            f"""compound:
  key: c{n:02d}
  name: 小区{n:02d}
  community: sanlin
  staff:
    property_staff: ["@wuye_{n:02d}:linli.localhost"]
  buildings: ["1", "2", "3"]
""",
            encoding="utf-8",
        )


async def fill(bridge: Bridge, compounds: int, households: int) -> int:
    rows = []
    for c in range(compounds):
        for i in range(households):
            opened = NOW - timedelta(minutes=(i * 263 + c * 17) % (365 * 24 * 60))
            answered = i % 10 != 0
            done = i % 5 != 0
            rows.append(
                {
                    "compound": f"c{c:02d}",
                    "number": i + 1,
                    "room_id": f"!c{c}:linli.localhost",
                    "source_event_id": f"$c{c}-{i}",
                    "reporter": None,
                    "text": "3号楼电梯坏了",
                    "category": CATEGORIES[(i * 7 + c) % len(CATEGORIES)],
                    "urgent": i % 20 == 0,
                    "building": str(i % 3 + 1),
                    "team": "property",
                    "status": "closed" if done else "open",
                    "opened_at": opened,
                    "first_response_due": opened + timedelta(minutes=30),
                    "resolution_due": opened + timedelta(hours=24),
                    "first_response_at": opened + timedelta(minutes=5 + i % 50)
                    if answered
                    else None,
                    "first_responder": f"@wuye_{c:02d}:linli.localhost" if answered else None,
                    "done_at": opened + timedelta(hours=2 + i % 40) if done else None,
                    "done_by": f"@wuye_{c:02d}:linli.localhost" if done else None,
                    "closed_at": opened + timedelta(hours=3 + i % 40) if done else None,
                    "rating": (i % 5) + 1 if done and i % 3 == 0 else None,
                }
            )
    async with bridge.store.db.transaction() as session:
        conn = await session.connection()
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(table_of(Ticket)), rows[start : start + 5000])
    return len(rows)


BASELINE = text(
    """
    SELECT compound, COUNT(*),
           100.0 * SUM(first_response_at IS NOT NULL) / COUNT(*),
           100.0 * SUM(done_at IS NOT NULL) / COUNT(*),
           100.0 * SUM(rating >= 4) / NULLIF(SUM(rating IS NOT NULL), 0)
      FROM tickets WHERE opened_at >= :since AND opened_at < :until
     GROUP BY compound
    """
)


async def run(compounds: int = 50, households: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        write_compounds(tmp / "rooms", compounds)
        config = bench_config(tmp)
        rooms = load_rooms_config(tmp / "rooms", "zh", config_sections(ALL_BOTS))
        bridge = Bridge(config, rooms, ALL_BOTS, clock=FakeClock(NOW))
        await bridge.open()
        try:
            began = time.perf_counter()
            count = await fill(bridge, compounds, households)
            filled = time.perf_counter() - began
            dashboard = bridge.dashboard
            assert dashboard is not None
            token, _ = dashboard.sessions.issue(OBSERVER, await dashboard.roles_of(OBSERVER))
            auth = {"Authorization": f"Bearer {token}"}
            base = "/linli/dashboard"  # on the appservice listener, as staff's browsers reach it
            async with TestClient(TestServer(bridge.server.app)) as client:
                timings = []
                for _ in range(3):  # the first is a cold start (matplotlib, the font)
                    began = time.perf_counter()
                    for path in ("/", "/static/app.js", "/static/queue.js", "/static/office.js"):
                        (await client.get(base + path)).release()
                    (await client.get(base + "/static/matrix-widget-api.min.js")).release()
                    (await client.get(base + "/api/config")).release()
                    resp = await client.get(base + "/api/me", headers=auth)
                    await resp.json()
                    resp = await client.get(base + "/api/street?days=365", headers=auth)
                    body = await resp.json()
                    timings.append(time.perf_counter() - began)
            assert resp.status == 200 and len(body["rows"]) == compounds, (
                resp.status,
                str(body)[:300],
            )
            since = NOW - timedelta(days=365)
            began = time.perf_counter()
            async with bridge.store.db.engine.connect() as conn:
                rows = (await conn.execute(BASELINE, {"since": since, "until": NOW})).all()
            baseline = time.perf_counter() - began
            assert len(rows) == compounds
        finally:
            await bridge.stop()
    first, warm = timings[0], min(timings[1:])
    print(
        f"street office overview: {compounds} compounds × {households:,} households, "
        f"{count:,} tickets in a year, SQLite (filled in {filled:.1f} s)"
    )
    print(
        f"  the page, its files and the year's figures with the chart, first time: "
        f"{first:.2f} s (cold: matplotlib loaded); again: {warm:.2f} s"
    )
    print(f"  baseline, the three rates in one SQL aggregate: {baseline:.3f} s")
    print(
        f"  ratio: {warm / baseline:.1f}× the aggregate's time (warm), "
        f"{first / baseline:.1f}× (cold)"
    )
