"""Tallying an area-weighted owners' vote of 100,000 households from the database, with mixed
online and paper ballots: the electorate written as the vote opens (heads by owner), then the
close as the votes bot runs it (in one transaction: newcomers to the electorate and the counted
ballots written by SQL — latest answer per household, confirmed paper ballots — summed by
weight and head share, added up exactly in Python, the result frozen), beside one SQL
aggregate over the same rows (floats, no dedup rules). Then, timed apart, the audit file
written from the count's tables. No homeserver: a temporary SQLite database opened as Linli
opens it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bots.votes import audit, results
from bots.votes.audit_store import audit_material
from bots.votes.models import PaperBallot, Poll, PollAnswer, VoteProxy
from bots.votes.store import VoteStore
from bots.votes.tally_store import add_electors
from bridge.store import Store
from bridge.store.database import table_of
from bridge.store.models import Resident, RosterHousehold

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CHOICES = ("yes", "no", "abstain")


def household(i: int) -> tuple[str, str, str]:
    return (str(i // 1000 + 1), str(i // 100 % 10 + 1), str(i % 100 + 101))


async def fill(store: Store, households: int) -> int:
    """Roster and one owner per household; 60% answer online (a tenth of them twice; one in
    twenty of them by a confirmed proxy), 20% on paper (a quarter of those also online).
    Returns the poll's id."""
    db = store.db
    async with db.transaction() as session:
        conn = await session.connection()
        await conn.execute(
            insert(table_of(RosterHousehold)),
            [
                {
                    "compound": "big",
                    "building": b,
                    "unit": u,
                    "room": r,
                    "floor_area": str(Decimal(60 + i % 90) + Decimal(i % 100) / 100),
                    # Owners by name: one in fifty owns two parts, the developer one in a
                    # hundred (unsold): the close counts heads by owner (art. 9 of the SPC's
                    # interpretation), one window over the roster.
                    "owners": ["开发商"] if i % 100 == 99 else [f"业主{i - (i % 50 == 1)}"],
                    "phone_hashes": [],
                    "imported_at": NOW,
                }
                for i in range(households)
                for b, u, r in [household(i)]
            ],
        )
        await conn.execute(
            insert(table_of(Resident)),
            [
                {
                    "compound": "big",
                    "user_id": f"@owner{i}:x",
                    "building": b,
                    "unit": u,
                    "room": r,
                    "verified_at": NOW,
                    "is_owner": True,
                }
                for i in range(households)
                for b, u, r in [household(i)]
            ],
        )
        poll_id = (
            await conn.execute(
                insert(table_of(Poll)).returning(table_of(Poll).c.id),
                {
                    "compound": "big",
                    "number": 1,
                    "kind": "formal",
                    "room_id": "!hall",
                    "source_event_id": "$cmd",
                    "start_event_id": "$start",
                    "creator": "@c:x",
                    "question": "bench",
                    "options": [{"id": c, "text": c} for c in CHOICES],
                    "max_selections": 1,
                    "per_household": True,
                    "secret": False,
                    "eligibility": "owners",
                    "rule": {"name": "ordinary"},
                    "opened_at": NOW,
                    "status": "open",
                },
            )
        ).scalar_one()
        by_proxy = [i for i in range(int(households * 0.6)) if i % 20 == 7]
        await conn.execute(
            insert(table_of(VoteProxy)),
            [
                {
                    "id": i + 1,
                    "compound": "big",
                    "number": i + 1,
                    "household": "-".join(household(i)),
                    "owner": f"@owner{i}:x",
                    "proxy": f"@proxy{i}:x",
                    "poll_id": None,
                    "status": "confirmed",
                    "requested_at": NOW,
                    "confirmed_by": "@committee:x",
                    "confirmed_at": NOW,
                    "cause": f"$proxy{i}",
                }
                for i in by_proxy
            ],
        )
        answers: list[dict[str, Any]] = []
        for i in range(int(households * 0.6)):
            proxy = i % 20 == 7
            for again in range(2 if i % 10 == 0 else 1):
                answers.append(
                    {
                        "poll_id": poll_id,
                        "event_id": f"$a{i}:{again}",
                        "voter": f"@proxy{i}:x" if proxy else f"@owner{i}:x",
                        "household": "-".join(household(i)),
                        "choices": [CHOICES[(i + again) % 3]],
                        "ts": 1_000 + again,
                        "received_at": NOW,
                        "proxy_id": i + 1 if proxy else None,
                    }
                )
        await conn.execute(insert(table_of(PollAnswer)), answers)
        start = int(households * 0.55)
        await conn.execute(
            insert(table_of(PaperBallot)),
            [
                {
                    "poll_id": poll_id,
                    "household": "-".join(household(i)),
                    "choice": CHOICES[i % 2],
                    "entered_by": "@staff:x",
                    "confirmed_by": "@scrutineer:x",
                    "batch": "bench",
                    "cause": f"$paper{i}",
                    "entered_at": NOW,
                }
                for i in range(start, start + int(households * 0.2))
            ],
        )
    return int(poll_id)


async def open_electorate(store: Store, poll_id: int) -> float:
    """What the bot does as the vote opens: the electorate written by SQL (every roster part
    with its area and its owner's share of a head). Timed apart from the close."""
    began = time.perf_counter()
    async with store.db.transaction() as session:
        await add_electors(session, poll_id, "big", "owners")
    return time.perf_counter() - began


async def tally(
    store: Store, poll_id: int, *, measure_memory: bool = False
) -> tuple[float, float, int, dict[str, Any]]:
    """Close the poll as the bot does; (seconds, CPU seconds of the process — its database
    thread included —, peak traced bytes or 0, result). Memory is
    measured in a run of its own: tracing every allocation slows Python several times."""
    votes = VoteStore(store.db)
    poll = await votes.by_id(poll_id)
    assert poll is not None
    if measure_memory:
        tracemalloc.start()
    began, cpu = time.perf_counter(), time.process_time()
    closing = await votes.close(poll_id, cause="bench", at=NOW, by=None, result=results.freeze)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    peak = 0
    if measure_memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert closing.poll.result is not None
    return seconds, cpu, peak, closing.poll.result


async def audit_file(store: Store, poll_id: int) -> tuple[float, bytes]:
    """The audit file as the bot writes it after the close, and its recount (as `linli audit
    verify` does), timed apart from the close."""
    poll = await VoteStore(store.db).by_id(poll_id)
    assert poll is not None
    began = time.perf_counter()
    data = audit.audit_file(poll, "big", await audit_material(store.db, poll_id, poll.secret))
    seconds = time.perf_counter() - began
    matches, problems = audit.verify(json.loads(data))
    assert matches, problems
    return seconds, data


async def aggregate(store: Store, poll_id: int) -> tuple[float, float, list[Any]]:
    """The floor: one SQL aggregate over every online answer and paper ballot, areas as
    floats, no latest-answer or paper-over-online rule."""
    query = text(
        """
        WITH r AS MATERIALIZED (
            SELECT building || '-' || unit || '-' || room AS household, floor_area
              FROM roster_households WHERE compound = 'big'
        )
        SELECT choice, COUNT(*), SUM(CAST(r.floor_area AS REAL)) FROM (
            SELECT json_extract(a.choices, '$[0]') AS choice, a.household AS household
              FROM votes_answers a WHERE a.poll_id = :poll
            UNION ALL
            SELECT p.choice, p.household FROM votes_paper_ballots p WHERE p.poll_id = :poll
        ) b JOIN r ON b.household = r.household
        GROUP BY choice
        """
    )
    began, cpu = time.perf_counter(), time.process_time()
    async with store.db.engine.connect() as conn:
        rows = (await conn.execute(query, {"poll": poll_id})).all()
    return time.perf_counter() - began, time.process_time() - cpu, list(rows)


async def run(households: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        try:
            began = time.perf_counter()
            poll_id = await fill(store, households)
            filled = time.perf_counter() - began
            opening = await open_electorate(store, poll_id)
            baseline, baseline_cpu, rows = await aggregate(store, poll_id)
            seconds, cpu, _, result = await tally(store, poll_id)
            audit_seconds, audit_bytes = await audit_file(store, poll_id)
        finally:
            await store.close()
        # The same close again on a fresh copy, for its peak memory.
        store = await Store.open(f"sqlite+aiosqlite:///{Path(folder) / 'memory.db'}")
        try:
            again = await fill(store, households)
            await open_electorate(store, again)
            _, _, peak, _ = await tally(store, again, measure_memory=True)
        finally:
            await store.close()
    outcome = result["outcome"]
    by_proxy = sum("proxy" in b for b in json.loads(audit_bytes)["ballots"])
    print(f"owners' vote tally: {households:,} households, SQLite (filled in {filled:.1f} s)")
    counted = result["counted"]
    print(
        f"  ballots counted: {result['parts']['voted']:,} households "
        f"({counted['online']:,} online, {by_proxy:,} of them by proxy, "
        f"{counted['paper']:,} paper), "
        f"{float(Fraction(str(outcome['voted_heads']))):,.1f} of "
        f"{float(Fraction(str(outcome['electorate_heads']))):,.1f} owners (heads by owner), "
        f"passed: {result['passed']}"
    )
    print(f"  as the vote opens: the electorate written by SQL (heads by owner): {opening:.2f} s")
    print(
        f"  Linli close (newcomers to the electorate and counted ballots written by SQL, "
        f"summed, frozen): "
        f"{seconds:.2f} s (CPU {cpu:.2f} s), peak {peak / 2**20:.0f} MB (tracemalloc)"
    )
    print(
        f"  baseline, one SQL aggregate (floats, no dedup): {baseline:.2f} s "
        f"(CPU {baseline_cpu:.2f} s, {len(rows)} groups)"
    )
    print(
        f"  ratio: {seconds / baseline:.1f}× the aggregate's time "
        f"({cpu / baseline_cpu:.1f}× its CPU time)"
    )
    print(
        f"  then the audit file, written from the count's tables: {audit_seconds:.2f} s, "
        f"{len(audit_bytes) / 2**20:.1f} MB (recounted: matches)"
    )


if __name__ == "__main__":
    asyncio.run(run(10_000 if "--quick" in sys.argv else 100_000))
