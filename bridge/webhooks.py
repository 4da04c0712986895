"""Signed webhooks to and from outside systems (the grid-management platform, notice feeds).

Outbound: a persistent outbox; each entry is delivered by a scheduler job that retries with
backoff until the receiver says 2xx, so nothing is lost while either side is down.
Inbound: HMAC-SHA256 over "<timestamp>.<body>", a timestamp no older than the tolerance, and
each signature accepted once (a replay is refused).

Header: `X-Linli-Signature: t=<unix seconds>,v1=<hex>`; the same scheme both ways.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import delete, select, update

from bridge import metrics
from bridge.clock import Clock
from bridge.config import WebhookTarget
from bridge.scheduler import RetryLater, Scheduler
from bridge.store.database import Database, insert_ignoring_duplicates
from bridge.store.jobs import Job
from bridge.store.models import WebhookOutbox, WebhookSeen

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Linli-Signature"
DELIVER_JOB = "webhook.deliver"
TOLERANCE = timedelta(minutes=5)
# Retry delays grow to this and stay there; an entry is never dropped silently.
MAX_BACKOFF = timedelta(hours=1)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


class WebhookRejected(Exception):
    """An inbound request that must not be acted on; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def verify(secret: str, header: str | None, body: bytes, now: datetime) -> str:
    """Check signature and freshness; returns the signature (the replay key)."""
    if not header:
        raise WebhookRejected(401, "missing signature")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise WebhookRejected(401, "malformed signature header") from None
    if not hmac.compare_digest(sign(secret, timestamp, body), given):
        raise WebhookRejected(401, "bad signature")
    age = abs(now.timestamp() - timestamp)
    if age > TOLERANCE.total_seconds():
        raise WebhookRejected(401, "stale timestamp")
    return given


@dataclass(frozen=True)
class Delivery:
    id: int
    target: str
    body: dict[str, Any]
    attempts: int
    status: str


InboundHandler = Callable[[dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]


@dataclass(frozen=True)
class InboundKind:
    """One kind of body a webhook target may send (a work order status, a notice), told apart
    from the others by the keys it must have."""

    name: str
    keys: frozenset[str]
    handler: InboundHandler

    def describe(self) -> str:
        return f"{self.name} ({', '.join(sorted(self.keys))})"


class Webhooks:
    def __init__(
        self,
        db: Database,
        scheduler: Scheduler,
        clock: Clock,
        targets: dict[str, WebhookTarget],
    ) -> None:
        self.db = db
        self.scheduler = scheduler
        self.clock = clock
        self.targets = targets
        # Per target, the kinds of body it may send: one outside system may be the grid
        # platform for tickets and a notice sender too.
        self.inbound: dict[str, list[InboundKind]] = {}
        self._http: aiohttp.ClientSession | None = None
        scheduler.register(DELIVER_JOB, self._deliver)

    # ------------------------------------------------------------ outbound

    async def enqueue(self, key: str, target: str, body: dict[str, Any]) -> None:
        """Queue a signed POST to `target`; the same key twice queues it once."""
        if target not in self.targets:
            raise ValueError(f"no webhook target {target!r} in bridge.yaml")
        now = self.clock.now()
        async with self.db.transaction() as session:
            await session.execute(
                insert_ignoring_duplicates(session, WebhookOutbox),
                [
                    {
                        "key": key,
                        "target": target,
                        "body": body,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                    }
                ],
            )
            entry_id = (
                await session.execute(select(WebhookOutbox.id).where(WebhookOutbox.key == key))
            ).scalar_one()
        await self.scheduler.schedule(f"webhook:{entry_id}", DELIVER_JOB, now, {"id": entry_id})

    async def delivery(self, key: str) -> Delivery | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(select(WebhookOutbox).where(WebhookOutbox.key == key))
            ).scalar_one_or_none()
            if row is None:
                return None
            return Delivery(row.id, row.target, dict(row.body), row.attempts, row.status)

    async def _deliver(self, job: Job) -> None:
        entry_id = int(job.payload["id"])
        async with self.db.sessions() as session:
            row = await session.get(WebhookOutbox, entry_id)
        if row is None or row.status == "delivered":
            return
        target = self.targets.get(row.target)
        if target is None:
            log.error("webhook %s: target %s is no longer configured", entry_id, row.target)
            raise RetryLater(self.clock.now() + MAX_BACKOFF, "target not configured")
        body = json.dumps(row.body, ensure_ascii=False, sort_keys=True).encode()
        now = self.clock.now()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(target.secret, int(now.timestamp()), body),
            "X-Linli-Delivery": str(entry_id),
        }
        error: str | None = None
        try:
            async with self._session().post(target.url, data=body, headers=headers) as resp:
                if resp.status >= 300:
                    error = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as e:
            error = type(e).__name__
        attempts = row.attempts + 1
        metrics.observe_webhook_attempt(delivered=error is None)
        async with self.db.transaction() as session:
            await session.execute(
                update(WebhookOutbox)
                .where(WebhookOutbox.id == entry_id)
                .values(
                    attempts=attempts,
                    last_error=error,
                    status="pending" if error else "delivered",
                    delivered_at=None if error else now,
                )
            )
        if error is not None:
            delay = min(MAX_BACKOFF, timedelta(seconds=10 * 2 ** (attempts - 1)))
            log.warning(
                "webhook %s to %s failed (%s), attempt %d", entry_id, row.target, error, attempts
            )
            raise RetryLater(now + delay, error)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ------------------------------------------------------------ inbound

    def on_inbound(
        self, target: str, kind: str, keys: tuple[str, ...], handler: InboundHandler
    ) -> None:
        """Hand `target`'s bodies that have all of `keys` to `handler`. A kind whose keys
        cannot be told apart from another kind's (one set within the other) is refused: the
        second bot would otherwise take the first one's bodies."""
        new = InboundKind(kind, frozenset(keys), handler)
        kinds = [k for k in self.inbound.get(target, []) if k.name != kind]
        for other in kinds:
            if new.keys <= other.keys or other.keys <= new.keys:
                raise ValueError(
                    f"webhook {target!r}: {new.describe()} bodies cannot be told apart from"
                    f" {other.describe()} bodies"
                )
        self.inbound[target] = [*kinds, new]

    async def handle_inbound(self, request: web.Request) -> web.Response:
        name = request.match_info["target"]
        target = self.targets.get(name)
        kinds = self.inbound.get(name)
        if target is None or not kinds or target.inbound_secret is None:
            return web.json_response({"error": "unknown webhook"}, status=404)
        body = await request.read()
        now = self.clock.now()
        try:
            signature = verify(
                target.inbound_secret, request.headers.get(SIGNATURE_HEADER), body, now
            )
            try:
                payload = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise WebhookRejected(400, "body is not JSON") from None
            if not isinstance(payload, dict):
                raise WebhookRejected(400, "body must be a JSON object")
            handler = _kind_of(kinds, payload).handler
            await self._check_unseen(signature)
        except WebhookRejected as e:
            log.warning("refused inbound webhook %s: %s", name, e.reason)
            return web.json_response({"error": e.reason}, status=e.status)
        try:
            status, answer = await handler(payload)
        except Exception:
            # Not remembered: the sender's retry is handled, not refused as a replay.
            log.exception("inbound webhook %s failed in its handler", name)
            return web.json_response({"error": "could not handle the update; retry"}, status=500)
        if 200 <= status < 300:
            await self._remember(signature, now)
        return web.json_response(answer, status=status)

    async def _check_unseen(self, signature: str) -> None:
        async with self.db.sessions() as session:
            if await session.get(WebhookSeen, signature) is not None:
                raise WebhookRejected(409, "replayed request")

    async def _remember(self, signature: str, now: datetime) -> None:
        """A request handled: its signature is refused from now on. Signatures older than the
        tolerance go (their timestamps are refused anyway), so the table stays small."""
        async with self.db.transaction() as session:
            await session.execute(
                insert_ignoring_duplicates(session, WebhookSeen).values(
                    signature=signature, received_at=now
                )
            )
            await session.execute(
                delete(WebhookSeen).where(WebhookSeen.received_at < now - 2 * TOLERANCE)
            )


def _kind_of(kinds: list[InboundKind], payload: dict[str, Any]) -> InboundKind:
    fitting = [k for k in kinds if k.keys <= payload.keys()]
    if len(fitting) == 1:
        return fitting[0]
    said = "; ".join(k.describe() for k in kinds)
    if not fitting:
        raise WebhookRejected(400, f"body is none of the kinds this webhook takes: {said}")
    raise WebhookRejected(400, f"body fits several kinds, send one: {said}")
