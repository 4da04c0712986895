"""A transaction the homeserver wrote and never sent: noticed by the gap it leaves, and fetched.

Synapse delivers to an application service that was down through a "recoverer": it sends the
transactions queued in its database, oldest first, and when it finds none left marks the
service up (synapse/appservice/scheduler.py, `_Recoverer.retry` then `on_recovered`). An event
that arrives between that last look and the mark is written as a transaction for a service
still marked down, so it is not sent; and nothing sends it until the next failed delivery starts
a recoverer again. Seen here as a staff member's `!工单 受理` that Linli never answered, once in a
few runs of the crash test (tests/integration/test_crash.py), with every later event delivered.

Synapse numbers its transactions from one counter, so the stranded one leaves a gap: after N
comes N+2. While the homeserver may be recovering (Linli started, or answered an error, a
moment ago), a transaction that skips a number is refused once with 503: Synapse marks the
service down and starts a recoverer, which sends the oldest unsent transaction first (the
stranded one), then the refused one again; a ping makes it start at once instead of after its
two seconds of backoff. When the skipped number was not Linli's (another application service
on the same homeserver shares the counter) the cost is one refused and resent transaction.

The guard only watches numeric txnIds (Synapse's) and only forwards: a homeserver that numbers
from one again after a restart (Synapse on SQLite does) starts a new sequence.
"""

from __future__ import annotations


class GapGuard:
    """Which transaction to refuse because an earlier one has not arrived."""

    def __init__(self) -> None:
        self.last: int | None = None  # the highest txnId accepted in the current sequence
        self._refused: set[int] = set()  # refused once for a gap: accepted when sent again
        self.refusals = 0

    def seed(self, txn_keys: list[str]) -> None:
        """From the transactions an earlier run stored, newest last (`txnId:digest` keys)."""
        for key in reversed(txn_keys):
            number = _number(key.split(":", 1)[0])
            if number is not None:
                self.last = number
                return

    def refuse(self, txn_id: str) -> bool:
        """Whether to refuse this transaction (only asked while the homeserver may be
        recovering): it skips a number, and it was not refused for that already."""
        number = _number(txn_id)
        if number is None or self.last is None or number <= self.last + 1:
            return False
        if number in self._refused:
            return False
        self._refused.add(number)
        self.refusals += 1
        return True

    def accepted(self, txn_id: str) -> None:
        """The last transaction accepted: the next one should carry the number after it (an
        older number is the stranded one arriving, or a homeserver numbering anew)."""
        number = _number(txn_id)
        if number is not None:
            self._refused.discard(number)
            self.last = number


def _number(txn_id: str) -> int | None:
    return int(txn_id) if txn_id.isdigit() and len(txn_id) < 19 else None
