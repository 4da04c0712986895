"""What the tickets bot knows before it answers a mention: the next number and the resident's
open tickets from memory for a message seen the first time, from the database otherwise, and
never stale after a ticket was closed or anonymised. A real store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from bots.tickets.openings import Openings
from bots.tickets.store import NewTicket, TicketRecord, TicketStore
from bridge.store import Store

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
RESIDENT = "@resident:linli.localhost"


def mention(n: int, reporter: str = RESIDENT) -> NewTicket:
    return NewTicket(
        compound="heping",
        room_id="!neighbours:linli.localhost",
        source_event_id=f"$mention{n}",
        reporter=reporter,
        text="@物业 电梯坏了",
        category="repair",
        urgent=False,
        building="3",
        team="property",
        opened_at=NOW,
        first_response_due=NOW + timedelta(minutes=30),
        resolution_due=NOW + timedelta(days=2),
    )


def no_jobs(_: TicketRecord) -> list[Any]:
    return []


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[TicketStore]:
    opened = await Store.open(database_url)
    yield TicketStore(opened.db)
    await opened.close()


@pytest.fixture
def reads(store: TicketStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The database reads `Openings` makes, by source event."""
    seen: list[str] = []
    original = store.before_opening

    async def counted(new: NewTicket) -> Any:
        seen.append(new.source_event_id)
        return await original(new)

    monkeypatch.setattr(store, "before_opening", counted)
    return seen


async def open_one(store: TicketStore, openings: Openings, n: int, *, fresh: bool = True) -> int:
    new = mention(n)
    check = await openings.check(new, fresh=fresh)
    assert check.existing is None
    number = openings.reserve(new)
    assert number == check.next_number
    openings.opened(await store.open(new, number, no_jobs, f"$reply{n}"))
    return number


async def test_numbers_and_counts_come_from_memory_after_the_first_read(
    store: TicketStore, reads: list[str]
) -> None:
    openings = Openings(store)
    assert [await open_one(store, openings, n) for n in range(3)] == [1, 2, 3]
    assert reads == ["$mention0"]  # one read, then memory
    check = await openings.check(mention(3), fresh=True)
    assert (check.open_now, check.next_number) == (3, 4)


async def test_a_closed_ticket_is_seen_at_once(store: TicketStore, reads: list[str]) -> None:
    openings = Openings(store)
    await open_one(store, openings, 0)
    await open_one(store, openings, 1)
    first = await store.get("heping", 1)
    assert first is not None
    await store.change(
        first.id, cause="$close", action="closed", at=NOW, actor=None, status="closed"
    )
    check = await openings.check(mention(2), fresh=True)
    assert (check.open_now, check.next_number) == (1, 3)
    assert reads == ["$mention0", "$mention2"]
    await store.anonymise_reporter(RESIDENT)
    assert (await openings.check(mention(3), fresh=True)).open_now == 0


async def test_a_message_handled_before_finds_its_ticket_in_the_database(
    store: TicketStore,
) -> None:
    openings = Openings(store)
    await open_one(store, openings, 0)
    # A restart: a new process, and the message is handled again (not fresh).
    again = Openings(store)
    check = await again.check(mention(0), fresh=False)
    assert check.existing is not None and check.existing.number == 1
    assert check.existing.reply_event_id == "$reply0"
    # Before its ticket was written, the same message gets the same number as the first time.
    assert (await again.check(mention(1), fresh=False)).next_number == 2


async def test_two_rooms_opening_at_once_get_different_numbers(store: TicketStore) -> None:
    """Rooms are handled side by side: both read the database before either writes."""
    openings = Openings(store)
    first, second = mention(0), mention(1, reporter="@other:linli.localhost")
    checks = await asyncio.gather(
        openings.check(first, fresh=True), openings.check(second, fresh=True)
    )
    assert [c.next_number for c in checks] == [1, 1]  # what each read said
    numbers = [openings.reserve(first), openings.reserve(second)]
    assert numbers == [1, 2]
    assert openings.reserve(first) == 1  # run again, the message keeps its number
    for new, number in zip([first, second], numbers, strict=True):
        openings.opened(await store.open(new, number, no_jobs, f"$r{number}"))
    assert (await openings.check(mention(2), fresh=True)).next_number == 3


async def test_two_writers_opening_the_same_number_store_it_once(store: TicketStore) -> None:
    # Two Linli processes on one database (a mistake, but possible with PostgreSQL): the
    # database itself refuses the second ticket under a number already taken.
    results = await asyncio.gather(
        *(store.open(mention(n), 1, no_jobs, f"$reply{n}") for n in range(4)),
        return_exceptions=True,
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    assert len(stored) == 1
    assert all(isinstance(r, IntegrityError) for r in results if isinstance(r, BaseException))
    assert (await store.get("heping", 1)) is not None
