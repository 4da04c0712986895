"""Proposal numbers under concurrency, on SQLite and PostgreSQL: proposals filed at once from
several rooms' lanes get distinct consecutive numbers, and an event filed twice at once files
one proposal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bots.votes.proposal_store import ProposalStore
from bridge.store import Store

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def test_proposals_filed_at_once_get_distinct_numbers(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        proposals = ProposalStore(store.db)
        filed = await asyncio.gather(
            *(
                proposals.file("heping", f"@r{i}:x", f"proposal {i}", f"$event{i % 6}", NOW)
                for i in range(12)  # each of six events twice, at once
            )
        )
        by_event = {p.source_event_id: p.number for p in filed}
        assert sorted(by_event.values()) == [1, 2, 3, 4, 5, 6]
        assert all(by_event[p.source_event_id] == p.number for p in filed)
        other = await proposals.file("xingfu", "@r:x", "elsewhere", "$other", NOW)
        assert other.number == 1  # numbered per compound
    finally:
        await store.close()
