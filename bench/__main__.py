"""`make bench`: every benchmark, each printed beside its same-run baseline."""

from __future__ import annotations

import asyncio
import sys

from bench import dispatch, jobs, provision, tickets, votes


async def main(quick: bool) -> None:
    await jobs.run(20_000 if quick else 100_000, 50 if quick else 200)
    print()
    await dispatch.run()
    print()
    await provision.run((3,) if quick else (10, 50))
    print()
    await tickets.run(30 if quick else 200)
    print()
    await votes.run(10_000 if quick else 100_000)


if __name__ == "__main__":
    asyncio.run(main("--quick" in sys.argv))
