"""The property staff's queue, as the back office shows it: pure, tickets and the time in.

Which clock runs: the first response's until staff answered, then the resolution's; none while
the ticket waits (paused, with its reason) or waits for the resident's confirmation. Overdue
tickets first, then urgent ones, then the nearest deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bots.tickets.store import TicketRecord

STATUS_ORDER = {"open": 0, "waiting": 1, "done": 2, "closed": 3}


def running_clock(t: TicketRecord) -> tuple[str, datetime] | None:
    """The clock that runs for this ticket: ("first", due) or ("resolution", due), or None."""
    if t.status == "open" and t.first_response_at is None:
        return "first", t.first_response_due
    if t.status == "open":
        return "resolution", t.resolution_due
    return None


def is_overdue(t: TicketRecord, now: datetime) -> bool:
    clock = running_clock(t)
    return clock is not None and clock[1] < now


def thread_link(t: TicketRecord, client_url: str | None, server_name: str) -> str:
    """Where the ticket's thread opens in a client: the community's Element, else matrix.to."""
    return event_link(t.room_id, t.source_event_id, client_url, server_name)


def event_link(room_id: str, event_id: str, client_url: str | None, server_name: str) -> str:
    """Where an event opens in a client: the community's Element, else matrix.to."""
    room, event = quote(room_id, safe=""), quote(event_id, safe="")
    if client_url:
        return f"{client_url.rstrip('/')}/#/room/{room}/{event}"
    return f"https://matrix.to/#/{room}/{event}?via={quote(server_name, safe='')}"


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def row(
    t: TicketRecord,
    now: datetime,
    *,
    compound_name: str,
    labels: Mapping[str, str],
    link: str,
    waiting_reason: str | None = None,
) -> dict[str, Any]:
    """One ticket for the page; `labels`: category and status words in the compound's
    language ("category", "status")."""
    clock = running_clock(t)
    return {
        "compound": t.compound,
        "compound_name": compound_name,
        "number": t.number,
        "status": t.status,
        "status_label": labels["status"],
        "category": t.category,
        "category_label": labels["category"],
        "urgent": t.urgent,
        "overdue": is_overdue(t, now),
        "building": t.building,
        "text": t.text[:200],
        "assignee": t.assignee,
        "opened_at": _iso(t.opened_at),
        "first_response_due": _iso(t.first_response_due),
        "first_response_at": _iso(t.first_response_at),
        "resolution_due": _iso(t.resolution_due),
        "waiting_since": _iso(t.waiting_since),
        "waiting_reason": waiting_reason,
        "clock": clock[0] if clock else None,
        "due": _iso(clock[1]) if clock else None,
        "link": link,
    }


def queue_order(t: TicketRecord, now: datetime) -> tuple[int, int, int, datetime, int]:
    """Overdue first, then urgent, then by status (open before waiting before done), then the
    nearest deadline."""
    clock = running_clock(t)
    due = clock[1] if clock else t.resolution_due
    return (
        0 if is_overdue(t, now) else 1,
        0 if t.urgent else 1,
        STATUS_ORDER.get(t.status, 9),
        due,
        t.number,
    )
