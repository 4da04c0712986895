"""Numbers a compound's people see (notice #12, poll #3, proposal #5): the next after the
highest, taken inside the transaction that writes the row, with a unique key on (compound,
number). Two writers may read the same highest at once (rooms have lanes of their own, and
PostgreSQL does not serialise them as SQLite does): the key refuses the second, which waits a
moment and looks again. The wait is random and grows, so a crowd of writers spreads out."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

T = TypeVar("T")
ATTEMPTS = 30


async def numbered(attempt: Callable[[], Awaitable[T]], what: str) -> T:
    """`attempt()` until no other writer took its number; RuntimeError after ATTEMPTS."""
    for n in range(ATTEMPTS):
        try:
            return await attempt()
        except IntegrityError:
            await asyncio.sleep(random.uniform(0, 0.002 * (n + 1)))
    raise RuntimeError(f"could not number {what}")
