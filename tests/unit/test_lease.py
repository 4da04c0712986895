"""The lease two Linli share on one PostgreSQL (bridge/lease.py): one holds it, the other
waits and gets it when the first lets go; a holder that loses its connection hears so."""

from __future__ import annotations

import asyncio

from bridge.lease import Lease, uses_lease, where
from tests.postgres import ThrowawayPostgres


def test_only_postgresql_needs_a_lease_and_the_log_never_names_a_password() -> None:
    assert not uses_lease("sqlite+aiosqlite:///data/linli.db")
    url = "postgresql+asyncpg://linli:s3cret@db:5432/linli"
    assert uses_lease(url)
    assert where(url) == "db/linli" and "s3cret" not in where(url)


async def test_the_second_waits_until_the_first_lets_go(postgres: ThrowawayPostgres) -> None:
    url = await postgres.fresh_database()
    first, second = Lease(url, poll=0.05), Lease(url, poll=0.05)
    await first.acquire()
    waited: list[str] = []
    taking = asyncio.ensure_future(second.acquire(lambda: waited.append("standby")))
    await asyncio.sleep(0.3)
    assert not taking.done() and waited == ["standby"]  # told once, still waiting
    await first.release()
    await asyncio.wait_for(taking, 5)
    assert second.held and not first.held
    await second.release()


async def test_a_holder_whose_connection_dies_is_told(postgres: ThrowawayPostgres) -> None:
    url = await postgres.fresh_database()
    lease = Lease(url, poll=0.05)
    await lease.acquire()
    lost = asyncio.Event()
    lease.watch(lost.set)
    await lease._conn.close()  # what a database restart does to the session
    await asyncio.wait_for(lost.wait(), 5)
    assert not lease.held
    await lease.release()
