"""What opening a ticket must know before its reply goes out, kept in memory between tickets.

A resident waits for the reply, so the tickets bot sends it before it writes the ticket; the
number in the reply and the per-resident cap come from here. One process owns the database
(DESIGN.md) and only the tickets bot opens tickets, so the last number of each compound changes
only through `reserve`; a resident's open tickets change also when a ticket is closed, reopened or
anonymised, which the store counts in its `generation`.

Rooms are handled side by side (bridge/inbox_worker.py), so two rooms of one compound may open
tickets at once: a number is reserved without an await between reading and taking it, and a
message keeps the number it reserved when its handler runs again in this process.
"""

from __future__ import annotations

from bots.tickets.store import NewTicket, OpeningCheck, TicketRecord, TicketStore


class Openings:
    def __init__(self, store: TicketStore) -> None:
        self.store = store
        self._last_number: dict[str, int] = {}
        self._open: dict[tuple[str, str], int] = {}
        self._generation = -1
        self._reserved: dict[str, int] = {}

    async def check(self, new: NewTicket, *, fresh: bool) -> OpeningCheck:
        """`fresh`: the message was never handled before, so it cannot have opened a ticket
        yet, and memory answers; otherwise (or on a miss) the database does."""
        if self._generation != self.store.generation:
            self._open.clear()
            self._generation = self.store.generation
        key = (new.compound, new.reporter)
        last = self._last_number.get(new.compound)
        if fresh and last is not None and key in self._open:
            return OpeningCheck(None, self._open[key], last + 1)
        check = await self.store.before_opening(new)
        if check.existing is None:
            # Another room may have reserved numbers while this read ran: never go back.
            last = max(self._last_number.get(new.compound, 0), check.next_number - 1)
            self._last_number[new.compound] = last
            self._open[key] = check.open_now
            return OpeningCheck(None, check.open_now, last + 1)
        return check

    def reserve(self, new: NewTicket) -> int:
        """The number of the ticket this message opens, taken now (no other message gets it)."""
        reserved = self._reserved.get(new.source_event_id)
        if reserved is not None:
            return reserved
        number = self._last_number.get(new.compound, 0) + 1
        self._last_number[new.compound] = number
        self._reserved[new.source_event_id] = number
        key = (new.compound, new.reporter)
        if key in self._open:
            self._open[key] += 1
        return number

    def opened(self, ticket: TicketRecord) -> None:
        """A ticket `reserve` numbered was written."""
        self._reserved.pop(ticket.source_event_id, None)
        compound = ticket.compound
        self._last_number[compound] = max(self._last_number.get(compound, 0), ticket.number)
