"""HTTP in: the application service API the homeserver calls (spec: Application Service API).

Only parsing, authentication and the durable write happen here: a transaction's events go into
the inbox in one database transaction, and only then does the homeserver get its 200.

A new transaction's events are handed to the inbox worker as they arrive, while they are being
written (`Arrival`): the bots' answers do not wait for the disk. That is safe because a handler's
effects are idempotent (derived transaction IDs, records keyed by event) and because the
homeserver sends again anything not acknowledged; what must not happen is handling a
transaction the inbox already holds a second time, so a txnId is known to be new before its
events go out: the homeserver sends one transaction at a time and repeats only the last one it
has no 200 for, so the txnIds of the last transactions stored (kept in memory, loaded at start)
are enough to recognise every repeat.

The 200 goes back once the events are stored and the worker is through with them, or after
`ack_wait_seconds` at most, whichever comes first. The homeserver's own work on an
acknowledgement (recording it, batching the next transaction) then does not compete with its
work on the bots' answers, which matters when both run on one small machine (see
docs/benchmarks.md); events that arrive meanwhile go into the next transaction, as they would.

Not while the homeserver may be catching up, though: for `ack_wait_after_seconds` after Linli
starts, receives its first transaction since the start, or answers one with an error, the 200
goes back as soon as the events are stored. Synapse then delivers its backlog through a
"recoverer", which marks the service up only after finding no transaction left to send; an
event that arrives between that look and the mark is stored as a transaction nobody sends
until the next failure. Answering a resident before acknowledging would invite exactly such an
event (their next message) into that gap; should one land there all the same, the transaction
after it shows the gap in the numbers and is refused once, so that the homeserver sends the
stranded one first (bridge/txn_gaps.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from bridge import metrics
from bridge.clock import Clock
from bridge.config import BridgeConfig
from bridge.http_log import server_logger
from bridge.store import Store
from bridge.store.inbox import Arrival, InboxEntry, written
from bridge.txn_gaps import GapGuard

log = logging.getLogger(__name__)


RECENT_TXNS = 1000


def _error(status: int, errcode: str, error: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": error}, status=status)


class AppserviceServer:
    def __init__(
        self,
        config: BridgeConfig,
        store: Store,
        clock: Clock,
        on_arrival: Callable[[Arrival], None],
        is_bot_user: Callable[[str], bool],
        webhook_handler: Callable[[web.Request], Awaitable[web.Response]] | None = None,
        health_handler: Callable[[web.Request], Awaitable[web.Response]] | None = None,
        on_ephemeral_lost: Callable[[], None] | None = None,
        on_gap: Callable[[], None] | None = None,
        dashboard: web.Application | None = None,
    ) -> None:
        self.config = config
        self.on_ephemeral_lost = on_ephemeral_lost
        # A transaction skipped one the homeserver wrote and did not send (bridge/txn_gaps.py):
        # it was refused, and `on_gap` pings the homeserver so that it sends the missing one.
        self.gaps = GapGuard()
        self.on_gap = on_gap
        # A transaction was answered with an error: the homeserver sends its room events again
        # but not its ephemeral ones (Synapse keeps only event IDs of a failed transaction).
        self._refused = False
        self.store = store
        self.clock = clock
        self.on_arrival = on_arrival
        self.is_bot_user = is_bot_user
        self.pings = 0
        self._acknowledge_at_once_until = 0.0
        # The first transaction since the start: the homeserver's recoverer may begin only then
        # (its backoff reaches 512 s when the ping at start did not get through).
        self._none_yet = False  # set by start()
        # The homeserver sends one transaction at a time; should two overlap, they are written
        # in the order they reached the worker.
        self._storing = asyncio.Lock()
        # txnId → its write: the last RECENT_TXNS transactions, to recognise a repeat.
        self._recent: OrderedDict[str, asyncio.Future[list[InboxEntry] | None]] = OrderedDict()
        self.app = web.Application(
            client_max_size=config.appservice.max_body_bytes, middlewares=[self._auth]
        )
        # Any txnId: it is opaque (spec), and aiohttp's default pattern would refuse "{" and "}".
        self.app.router.add_put("/_matrix/app/v1/transactions/{txn_id:[^/]+}", self.transaction)
        self.app.router.add_get("/_matrix/app/v1/users/{user_id}", self.query_user)
        self.app.router.add_get("/_matrix/app/v1/rooms/{alias}", self.query_alias)
        self.app.router.add_post("/_matrix/app/v1/ping", self.ping)
        if webhook_handler is not None:
            # Signed with HMAC and a timestamp instead of the hs_token (bridge/webhooks.py).
            self.app.router.add_post("/linli/webhooks/{target}", webhook_handler)
        if health_handler is not None:
            # Unauthenticated and tells nothing private (bridge/ops.py): for HEALTHCHECK.
            self.app.router.add_get("/health", health_handler)
        if dashboard is not None:
            # Staff's browsers, signed in with Matrix (bridge/dashboard), not the homeserver.
            self.app.add_subapp("/linli/dashboard", dashboard)
        self._runner: web.AppRunner | None = None

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(("/linli/webhooks/", "/linli/dashboard/")) or (
            request.path == "/health"
        ):
            webhook: web.StreamResponse = await handler(request)
            return webhook
        if not request.path.startswith("/_matrix/app/"):
            return _error(404, "M_UNRECOGNIZED", "Unrecognized request")
        token = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :]
        elif "access_token" in request.query:
            token = request.query["access_token"]  # legacy homeservers (spec before v1.4)
        if token is None:
            return _error(401, "M_UNAUTHORIZED", "Missing hs_token")
        expected = self.config.appservice.hs_token
        if not hmac.compare_digest(token.encode(), expected.encode()):
            log.warning("refused a request to %s with a wrong hs_token", request.path)
            return _error(403, "M_FORBIDDEN", "Wrong hs_token")
        response: web.StreamResponse = await handler(request)
        return response

    async def transaction(self, request: web.Request) -> web.Response:
        number = txn_id = request.match_info["txn_id"]
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self._refused = True
            return _error(413, "M_TOO_LARGE", "Transaction too large")
        try:
            events, ephemeral = parse_transaction(raw)
        except BadTransaction as e:
            self._refused = True
            return _error(400, e.errcode, e.error)
        txn_id = transaction_key(txn_id, events, ephemeral)
        # Linli's own messages come back too; the bots ignore them, and storing them would
        # keep copies of what Linli told people (a verification request names a resident).
        entries = [e for e in events if not self.config.is_linli_user(str(e.get("sender")))] + [
            _ephemeral_entry(txn_id, i, e) for i, e in enumerate(ephemeral) if isinstance(e, dict)
        ]
        if self._none_yet:
            self._none_yet = False
            self._catching_up()
        known = self._recent.get(txn_id)
        if known is not None:
            try:
                await asyncio.shield(known)
            except Exception:
                pass  # its write failed, so the homeserver sends it again: a new transaction
            else:
                log.info("transaction %s was already stored; acknowledging again", txn_id)
                metrics.observe_transaction("repeat")
                return web.json_response({})
        if time.monotonic() < self._acknowledge_at_once_until and self.gaps.refuse(number):
            log.info("transaction %s skips one not received; refused once to get it first", number)
            self._refused = True
            metrics.observe_transaction("gap")
            if self.on_gap is not None:
                self.on_gap()
            return _error(503, "M_UNKNOWN", "An earlier transaction has not arrived: send it first")
        now = self.clock.now()
        stored = asyncio.ensure_future(self._store(txn_id, entries, now))
        self._remember(txn_id, stored)
        arrival = Arrival(entries, now, stored)
        self.on_arrival(arrival)
        try:
            await asyncio.shield(stored)
        except Exception:
            log.exception("could not store transaction %s; the homeserver will retry", txn_id)
            self._recent.pop(txn_id, None)
            self._refused = True
            self._catching_up()
            metrics.observe_transaction("error")
            return _error(500, "M_UNKNOWN", "Could not store the transaction")
        metrics.observe_transaction("stored", len(stored.result() or []))
        self.gaps.accepted(number)
        if self._refused:
            # Stored again: what the refused transactions' receipts said can be read back now.
            self._refused = False
            if self.on_ephemeral_lost is not None:
                self.on_ephemeral_lost()
        if time.monotonic() >= self._acknowledge_at_once_until:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    arrival.handled.wait(), self.config.appservice.ack_wait_seconds
                )
        return web.json_response({})

    def _catching_up(self) -> None:
        """From now, the homeserver may deliver a backlog: acknowledge at once for a while."""
        after = self.config.appservice.ack_wait_after_seconds
        self._acknowledge_at_once_until = time.monotonic() + after

    async def _store(
        self, txn_id: str, entries: list[dict[str, Any]], now: datetime
    ) -> list[InboxEntry] | None:
        async with self._storing:
            stored = await self.store.inbox.store_transaction(txn_id, entries, now)
        if stored is None:
            # Older than the txnIds kept in memory: its events may be handled once more, which
            # their idempotent handlers absorb.
            log.warning("transaction %s was stored long ago and is sent again", txn_id)
        return stored

    def _remember(self, txn_id: str, stored: asyncio.Future[list[InboxEntry] | None]) -> None:
        self._recent[txn_id] = stored
        while len(self._recent) > RECENT_TXNS:
            self._recent.popitem(last=False)

    async def load_recent(self) -> None:
        """Before listening: the txnIds of the last transactions stored by earlier runs."""
        recent = await self.store.inbox.recent_txn_ids(RECENT_TXNS)
        for txn_id in recent:
            self._recent[txn_id] = written(None)
        self.gaps.seed(recent)

    async def query_user(self, request: web.Request) -> web.Response:
        user_id = request.match_info["user_id"]
        if self.is_bot_user(user_id):
            return web.json_response({})
        return _error(404, "M_NOT_FOUND", "No such user")

    async def query_alias(self, request: web.Request) -> web.Response:
        # Linli creates its aliases when it applies the config; it makes none on demand.
        return _error(404, "M_NOT_FOUND", "No such room")

    async def ping(self, request: web.Request) -> web.Response:
        self.pings += 1
        return web.json_response({})

    async def start(self) -> None:
        self._catching_up()
        self._none_yet = True
        self._runner = web.AppRunner(self.app, access_log=None, logger=server_logger())
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.config.appservice.listen_host, self.config.appservice.listen_port
        )
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class BadTransaction(ValueError):
    """A transaction body the homeserver should not have sent: answered with a 400."""

    def __init__(self, errcode: str, error: str) -> None:
        super().__init__(error)
        self.errcode = errcode
        self.error = error


def parse_transaction(raw: bytes) -> tuple[list[dict[str, Any]], list[Any]]:
    """A transaction's events and ephemeral events from its body (PUT /transactions, spec:
    Application Service API); BadTransaction if it is not one."""
    try:
        # The body is JSON in UTF-8 whatever the Content-Type claims (json.loads reads the bytes).
        body = json.loads(raw)
    except (ValueError, RecursionError) as e:
        # ValueError: not JSON, not UTF-8, or an integer of more than 4,300 digits;
        # RecursionError: nested deeper than the decoder goes.
        raise BadTransaction("M_NOT_JSON", "Body is not JSON") from e
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list) or not all(
        isinstance(e, dict) and _is_event_id(e.get("event_id")) for e in events
    ):
        raise BadTransaction("M_BAD_JSON", "events must be a list of events with event_id")
    ephemeral = body.get("ephemeral", body.get("de.sorunome.msc2409.ephemeral", []))
    if not isinstance(ephemeral, list):
        raise BadTransaction("M_BAD_JSON", "ephemeral must be a list")
    return events, ephemeral


def _is_event_id(value: Any) -> bool:
    # What the inbox can store as a key in any database: at most 255 bytes of UTF-8 (the spec's
    # limit), no NUL (PostgreSQL's text refuses it), no lone surrogate (JSON allows "\ud800").
    if not isinstance(value, str) or not value or "\0" in value:
        return False
    try:
        return len(value.encode("utf-8")) <= 255
    except UnicodeEncodeError:
        return False


def transaction_key(txn_id: str, events: list[Any], ephemeral: list[Any]) -> str:
    """What identifies a transaction: its txnId *and* what it carries. Synapse on SQLite
    numbers transactions from 1 again after a restart (it derives the next number from the
    transactions not yet sent), so a txnId alone would make Linli drop new transactions as
    repeats of old ones. A true repeat carries the same events; Synapse resends a transaction
    without its ephemeral events, so those count only when there are no others."""
    ids = [str(e.get("event_id")) for e in events if isinstance(e, dict)]
    carried = json.dumps(ids if ids else ephemeral, sort_keys=True, ensure_ascii=False)
    # surrogatepass: an ephemeral event may carry a lone surrogate ("\ud800" is valid JSON).
    digest = hashlib.sha256(carried.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{txn_id}:{digest}"


def _ephemeral_entry(txn_id: str, index: int, event: dict[str, Any]) -> dict[str, Any]:
    # Ephemeral events have no ID; this one is stable for the transaction, so a resent
    # transaction does not store them twice.
    digest = hashlib.sha256(f"{txn_id}/{index}".encode()).hexdigest()[:32]
    return {**event, "event_id": f"ephemeral:{digest}", "linli.ephemeral": True}
