"""`linli backup` while Linli writes, and `linli restore` of that copy into another instance:
SQLite's online backup gives a consistent snapshot (every ticket with its log line and its
reminder, numbers without gaps), and the restored database works (the next ticket gets the
next number)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.tickets.store import NewTicket, TicketRecord, TicketStore
from bridge.cli import main as linli
from bridge.store import Store

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).parents[2] / "rooms_config"


def mention(n: int) -> NewTicket:
    return NewTicket(
        compound="heping",
        room_id="!neighbours:linli.localhost",
        source_event_id=f"$mention{n}",
        reporter=f"@resident{n}:linli.localhost",
        text="@物业 电梯坏了",
        category="repair",
        urgent=False,
        building="3",
        team="property",
        opened_at=NOW,
        first_response_due=NOW + timedelta(minutes=30),
        resolution_due=NOW + timedelta(days=2),
    )


def reminder(ticket: TicketRecord) -> list[tuple[str, str, datetime, dict[str, object]]]:
    return [(f"ticket:{ticket.id}:remind", "ticket_remind", NOW, {"id": ticket.id})]


def instance(folder: Path) -> Path:
    """A Linli's folder: bridge.yaml, rooms_config/ and data/linli.db (relative, as `init`
    writes it)."""
    folder.mkdir()
    shutil.copytree(EXAMPLES, folder / "rooms_config")
    config = folder / "bridge.yaml"
    config.write_text(
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{folder}/data/linli.db'}}\n",
        encoding="utf-8",
    )
    return config


def counts(path: Path) -> tuple[list[int], int, int]:
    """Ticket numbers, log lines of openings, and reminder jobs in a database file."""
    with closing(sqlite3.connect(path)) as db:
        numbers = [n for (n,) in db.execute("SELECT number FROM tickets ORDER BY number")]
        logs = db.execute("SELECT count(*) FROM ticket_log WHERE action = 'opened'").fetchone()
        jobs = db.execute(
            "SELECT count(*) FROM scheduled_jobs WHERE kind = 'ticket_remind'"
        ).fetchone()
    return numbers, logs[0], jobs[0]


async def test_a_backup_taken_while_tickets_are_written_restores_into_a_working_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = instance(tmp_path / "running")
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path}/running/data/linli.db")
    tickets = TicketStore(store.db)
    written = 0
    started, backed_up = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        # Tickets keep coming, each with its log line and its reminder in one transaction,
        # until well after the backup finished (so it ran with writes on both sides of it).
        nonlocal written
        extra = None
        while extra is None or written < extra:
            await tickets.open(mention(written + 1), written + 1, reminder)
            written += 1
            if written == 30:
                started.set()  # some tickets before the copy starts
            if backed_up.is_set() and extra is None:
                extra = written + 20
            await asyncio.sleep(0)

    out = tmp_path / "linli-backup.db"

    async def backup() -> int:
        await started.wait()
        try:
            return await asyncio.to_thread(linli, ["-c", str(running), "backup", str(out)])
        finally:
            backed_up.set()

    try:
        code, _ = await asyncio.gather(backup(), writer())
    finally:
        await store.close()
    assert code == 0, capsys.readouterr().err

    numbers, logs, jobs = counts(out)
    total = len(numbers)
    assert 30 <= total < written  # taken while tickets were being written
    assert numbers == list(range(1, total + 1))  # no gap, no half-written ticket
    assert logs == jobs == total  # each ticket's log line and reminder came with it

    # Restored into another instance (Linli stopped there): it works, the numbers go on.
    restored = instance(tmp_path / "restored")
    assert await asyncio.to_thread(linli, ["-c", str(restored), "restore", str(out)]) == 0
    copy = await Store.open(f"sqlite+aiosqlite:///{tmp_path}/restored/data/linli.db")
    try:
        copied = TicketStore(copy.db)
        check = await copied.before_opening(mention(total + 1))
        assert check.next_number == total + 1
        await copied.open(mention(total + 1), check.next_number, reminder)
        latest = await copied.get("heping", total + 1)
        assert latest is not None and latest.reporter == f"@resident{total + 1}:linli.localhost"
        assert await copy.jobs.status(f"ticket:{latest.id}:remind") == "pending"
    finally:
        await copy.close()
