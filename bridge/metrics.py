"""Prometheus metrics: every metric object Linli exports, and the functions that move them.

Counters and histograms move where the work happens (appservice intake, homeserver requests,
the scheduler, webhook deliveries, and `observe_event` for whoever handles inbox events);
gauges that describe what the database holds (inbox backlog, jobs, webhook outbox) are read
from it when Prometheus scrapes (`refresh_from_store`). Labels never carry a user, room or
event ID: their values come from small fixed sets, so a series per label value stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

if TYPE_CHECKING:
    from bridge.store import Store

# A `_created` timestamp beside every counter doubles the output for nothing Prometheus uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

# One registry for Linli's own metrics, not prometheus_client's global one: what /metrics
# shows is exactly what this module declares.
REGISTRY = CollectorRegistry(auto_describe=True)

# An event kind outside what the code expects (a new event type, say) is counted as "other"
# once this many distinct values were seen, so a stream of odd values cannot grow the
# series without bound.
MAX_KINDS = 64
_kinds: set[str] = set()

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LAG = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

TRANSACTIONS = Counter(
    "linli_appservice_transactions",
    "Transactions the homeserver pushed, by outcome: stored, repeat (already stored), gap"
    " (refused once: an earlier one had not arrived, bridge/txn_gaps.py) or error.",
    ["outcome"],
    registry=REGISTRY,
)
EVENTS_RECEIVED = Counter(
    "linli_appservice_events_received",
    "Events (and ephemeral events) written to the inbox from new transactions.",
    registry=REGISTRY,
)
EVENTS_HANDLED = Counter(
    "linli_events_handled",
    "Inbox events handled, by kind.",
    ["kind"],
    registry=REGISTRY,
)
EVENTS_FAILED = Counter(
    "linli_events_failed",
    "Inbox events whose handling raised, by kind (each attempt counts).",
    ["kind"],
    registry=REGISTRY,
)
EVENT_SECONDS = Histogram(
    "linli_event_handling_seconds",
    "Time to handle one inbox event, by kind.",
    ["kind"],
    buckets=_FAST,
    registry=REGISTRY,
)
COMMANDS = Counter(
    "linli_commands",
    "Bot commands run, by command name and outcome.",
    ["command", "outcome"],
    registry=REGISTRY,
)
LEASE = Gauge(
    "linli_lease_held",
    "1 while this Linli holds the PostgreSQL lease and runs the bots (bridge/lease.py); a"
    " standby exports nothing, as it does not listen.",
    registry=REGISTRY,
)
INBOX = Gauge(
    "linli_inbox_events",
    "Events in the inbox, by status (pending is the backlog).",
    ["status"],
    registry=REGISTRY,
)
JOBS = Gauge(
    "linli_scheduled_jobs",
    "Scheduled jobs, by status: pending (due now or later) or failed (gave up).",
    ["status"],
    registry=REGISTRY,
)
JOBS_FIRED = Counter(
    "linli_scheduler_jobs_fired",
    "Scheduled jobs fired, by kind and outcome: done, retry, postponed or failed.",
    ["kind", "outcome"],
    registry=REGISTRY,
)
SCHEDULER_LAG = Histogram(
    "linli_scheduler_lag_seconds",
    "How late a job fired after its due time.",
    buckets=_LAG,
    registry=REGISTRY,
)
WEBHOOK_OUTBOX = Gauge(
    "linli_webhook_outbox",
    "Outbound webhooks not yet delivered: pending, and failing (the last attempt failed).",
    ["state"],
    registry=REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "linli_webhook_deliveries",
    "Outbound webhook delivery attempts, by outcome: delivered or failed.",
    ["outcome"],
    registry=REGISTRY,
)
TICKETS = Gauge(
    "linli_tickets",
    "Tickets by compound: open (open or waiting) and overdue (open, past a response or "
    "resolution deadline). Set by the tickets bot at each scrape.",
    ["compound", "state"],
    registry=REGISTRY,
)
HOMESERVER_SECONDS = Histogram(
    "linli_homeserver_request_seconds",
    "Time of one HTTP request to the homeserver (each retry counts), by method.",
    ["method"],
    buckets=_SLOW,
    registry=REGISTRY,
)
HOMESERVER_ERRORS = Counter(
    "linli_homeserver_request_errors",
    "Homeserver requests that failed, by method and reason: 4xx, 429, 5xx or connection.",
    ["method", "reason"],
    registry=REGISTRY,
)


def _kind(kind: str) -> str:
    if kind in _kinds:
        return kind
    if len(_kinds) >= MAX_KINDS:
        return "other"
    _kinds.add(kind)
    return kind


# The labelled children of the per-event metrics, by kind: `labels()` is a lock and a dict
# lookup per call, and observe_event runs for every event.
_event_children: dict[str, tuple[Histogram, Counter, Counter]] = {}


def observe_event(kind: str, seconds: float, failed: bool) -> None:
    """One inbox event handled (or failed), for the dispatcher to call per event. `kind` is a
    small fixed vocabulary: the event type (`m.room.message`, `m.reaction`, ...) or the bot
    that took it; never anything that names a user or room."""
    children = _event_children.get(kind)
    if children is None:
        label = _kind(kind)
        children = (
            EVENT_SECONDS.labels(label),
            EVENTS_HANDLED.labels(label),
            EVENTS_FAILED.labels(label),
        )
        if label == kind:
            _event_children[kind] = children
    seconds_child, handled, failures = children
    seconds_child.observe(seconds)
    (failures if failed else handled).inc()


COMMAND_OUTCOMES = ("ok", "usage", "denied", "refused", "error")


def observe_command(command: str, outcome: str) -> None:
    """One bot command run: its declared (English) name, and its outcome: `ok`, `usage` (the
    arguments did not fit), `denied` (the sender lacks the role), `refused` (a clear answer
    that it cannot be done) or `error` (a bug, or the homeserver failed; each attempt counts).
    Command names are the declared ones (bounded by the code, not by what arrives), so they do
    not share the cap on event kinds: with every bot's commands a process passed it, and
    `ticket ack` was counted as "other"."""
    COMMANDS.labels(command, outcome).inc()


def observe_transaction(outcome: str, events: int = 0) -> None:
    TRANSACTIONS.labels(outcome).inc()
    if events:
        EVENTS_RECEIVED.inc(events)


def observe_homeserver_request(method: str, seconds: float, status: int | None) -> None:
    """`status` None: no answer (connection refused, reset or timed out)."""
    HOMESERVER_SECONDS.labels(method).observe(seconds)
    if status is None:
        HOMESERVER_ERRORS.labels(method, "connection").inc()
    elif status == 429:
        HOMESERVER_ERRORS.labels(method, "429").inc()
    elif status >= 500:
        HOMESERVER_ERRORS.labels(method, "5xx").inc()
    elif status >= 400:
        HOMESERVER_ERRORS.labels(method, "4xx").inc()


def observe_job(kind: str, outcome: str, lag_seconds: float) -> None:
    JOBS_FIRED.labels(_kind(kind), outcome).inc()
    SCHEDULER_LAG.observe(max(0.0, lag_seconds))


def observe_webhook_attempt(delivered: bool) -> None:
    WEBHOOK_ATTEMPTS.labels("delivered" if delivered else "failed").inc()


def _set_all(gauge: Gauge, values: Mapping[str, int], labels: tuple[str, ...]) -> None:
    for label in labels:
        gauge.labels(label).set(values.get(label, 0))


async def refresh_from_store(store: Store) -> None:
    """Read the gauges that describe the database; called on each scrape."""
    _set_all(INBOX, await store.inbox.counts(), ("pending", "failed", "done"))
    _set_all(JOBS, await store.jobs.counts(), ("pending", "failed"))
    _set_all(WEBHOOK_OUTBOX, await store.outbox.counts(), ("pending", "failing"))


def exposition() -> bytes:
    """The registry in Prometheus's text format."""
    return generate_latest(REGISTRY)
