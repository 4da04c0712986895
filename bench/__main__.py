"""`make bench`: every benchmark, each printed beside its same-run baseline.

`python -m bench crash [KILLS]` (or `make bench ARGS=crash`): the crash scenario alone, 100 kills
by default; not part of the default run, at about five seconds a kill (bench/crash.py).
"""

from __future__ import annotations

import asyncio
import sys

from bench import (
    backoffice,
    community,
    dispatch,
    fanout,
    jobs,
    lanes,
    notices,
    provision,
    startup,
    tickets,
    votes,
)


async def main(quick: bool) -> None:
    await startup.run(3 if quick else 7)
    print()
    await jobs.run(20_000 if quick else 100_000, 50 if quick else 200)
    print()
    await dispatch.run()
    print()
    await lanes.run(60 if quick else 120)
    print()
    await provision.run((3,) if quick else (10, 50))
    print()
    await tickets.run(30 if quick else 200)
    print()
    await (notices.run(1_000, 4_000) if quick else notices.run())
    print()
    await (fanout.run(1_000) if quick else fanout.run())
    print()
    await votes.run(10_000 if quick else 100_000)
    print()
    await (backoffice.run(10, 500) if quick else backoffice.run())
    await (community.run(500, 15.0) if quick else community.run())


if __name__ == "__main__":
    if sys.argv[1:2] == ["crash"]:
        from bench import crash

        sys.exit(asyncio.run(crash.main(sys.argv[2:])))
    asyncio.run(main("--quick" in sys.argv))
