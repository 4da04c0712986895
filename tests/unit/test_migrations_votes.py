"""Revisions 0009_votes_integrity and 0010_votes_proxies on a populated database, SQLite and
PostgreSQL: secret voters and ballots keep their rows in tables with no serial id or rowid, a
vote closed before keeps its cause as the first line of its change log, and an open vote still
closes afterwards; answers and counted ballots keep their rows with no proxy, and a household
has one proxy asked for or in force at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bots.votes import results
from bots.votes.store import VoteStore
from bridge.store import Store
from bridge.store.database import Database

POLL = (
    "INSERT INTO votes_polls (id, compound, number, kind, room_id, source_event_id, "
    "start_event_id, creator, question, options, max_selections, per_household, secret, "
    "eligibility, rule, opened_at, status, closed_at, close_cause, closed_by) VALUES "
    "({id}, 'c', {id}, 'formal', '!h', '$src{id}', '$start{id}', '@c:x', 'Q', '[]', 1, {t}, {t}, "
    "'households', '{{\"name\": \"simple\"}}', '{at}', '{status}', {closed_at}, {cause}, NULL)"
)


async def test_0009_keeps_secret_ballots_and_logs_earlier_closes(empty_database_url: str) -> None:
    url = empty_database_url
    sqlite = url.startswith("sqlite")
    at = "2026-11-23 02:00:00" if sqlite else "2026-11-23 02:00:00+00"
    true = "1" if sqlite else "true"
    db = Database(url)
    await db.migrate("0008_votes_tally")
    async with db.engine.begin() as raw:
        for statement in (
            POLL.format(id=1, t=true, at=at, status="closed", closed_at=f"'{at}'", cause="'job'"),
            POLL.format(id=2, t=true, at=at, status="open", closed_at="NULL", cause="NULL"),
            "INSERT INTO residents (compound, user_id, building, unit, room, verified_at) "
            f"VALUES ('c', '@a:x', '1', '1', '101', '{at}')",
            "INSERT INTO votes_secret_voters (poll_id, voter, cause) VALUES "
            "(1, '1-1-101', '$b1'), (2, '1-1-101', '$b2')",
            "INSERT INTO votes_secret_ballots (receipt, poll_id, choice) VALUES "
            "('RB', 1, 'no'), ('RA', 2, 'yes')",
            "INSERT INTO votes_secret_totals (poll_id, choice, heads, area) VALUES "
            "(1, 'no', 1, '1'), (2, 'yes', 1, '1')",
            "INSERT INTO votes_electorate (poll_id, voter, weight) VALUES (1, '1-1-101', '1')",
            "INSERT INTO votes_counted (poll_id, voter, choice, source, weight) VALUES "
            "(1, '1-1-102', 'yes', 'paper', '1')",
        ):
            await raw.execute(text(statement))
    await db.migrate("0009_votes_integrity")
    assert await db.current_revision() == "0009_votes_integrity"
    async with db.engine.connect() as conn:
        voters = (await conn.execute(text("SELECT * FROM votes_secret_voters"))).mappings().all()
        assert sorted((v["poll_id"], v["voter"], v["cause"]) for v in voters) == [
            (1, "1-1-101", "$b1"),
            (2, "1-1-101", "$b2"),
        ]
        assert all(set(v) == {"poll_id", "voter", "cause"} for v in voters)
        ballots = (await conn.execute(text("SELECT receipt FROM votes_secret_ballots"))).all()
        assert sorted(r for (r,) in ballots) == ["RA", "RB"]
        log = (await conn.execute(text("SELECT poll_id, action, cause FROM votes_log"))).all()
        assert [tuple(r) for r in log] == [(1, "close", "job")]
        counted = (await conn.execute(text("SELECT head, event_id FROM votes_counted"))).all()
        assert [tuple(r) for r in counted] == [("1", None)]
        if sqlite:  # keyed tables only: no rowid left to order rows by
            for table in ("votes_secret_voters", "votes_secret_ballots"):
                sql = (
                    await conn.execute(
                        text(f"SELECT sql FROM sqlite_master WHERE name = '{table}'")
                    )
                ).scalar_one()
                assert "WITHOUT ROWID" in sql
    await db.close()
    store = await Store.open(url)
    closing = await VoteStore(store.db).close(
        2, cause="$end", at=datetime(2026, 11, 24, tzinfo=UTC), by=None, result=results.freeze
    )
    assert closing.poll.result is not None and closing.poll.result["counted"]["secret"] == 1
    await store.close()


async def test_0010_keeps_answers_and_counted_ballots_and_allows_one_active_proxy(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    sqlite = url.startswith("sqlite")
    at = "2026-11-23 02:00:00" if sqlite else "2026-11-23 02:00:00+00"
    true = "1" if sqlite else "true"
    db = Database(url)
    await db.migrate("0009_votes_integrity")
    async with db.engine.begin() as raw:
        for statement in (
            POLL.format(id=1, t=true, at=at, status="open", closed_at="NULL", cause="NULL"),
            "INSERT INTO votes_answers (poll_id, event_id, voter, household, choices, ts, "
            f"received_at) VALUES (1, '$a', '@a:x', '1-1-101', '[\"yes\"]', 1, '{at}')",
            "INSERT INTO votes_counted (poll_id, voter, choice, source, weight) VALUES "
            "(1, '1-1-102', 'yes', 'paper', '1')",
        ):
            await raw.execute(text(statement))
    await db.migrate("0010_votes_proxies")
    async with db.engine.begin() as conn:
        answers = (await conn.execute(text("SELECT event_id, proxy_id FROM votes_answers"))).all()
        assert [tuple(r) for r in answers] == [("$a", None)]
        counted = (await conn.execute(text("SELECT proxy FROM votes_counted"))).all()
        assert [tuple(r) for r in counted] == [(None,)]
        proxy = (
            "INSERT INTO votes_proxies (compound, number, household, owner, proxy, status, "
            "requested_at, cause) VALUES ('c', {n}, '1-1-101', '@a:x', '@son:x', '{status}', "
            f"'{at}', '$p{{n}}')"
        )
        await conn.execute(text(proxy.format(n=1, status="revoked")))
        await conn.execute(text(proxy.format(n=2, status="confirmed")))
    # A second proxy asked for while one is in force: the partial unique index refuses it.
    with pytest.raises(IntegrityError):
        async with db.engine.begin() as conn:
            await conn.execute(text(proxy.format(n=3, status="requested")))
    await db.close()
