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
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

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


# Called with the sender (the webhook target's name) and the body.
InboundHandler = Callable[[str, dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]


@dataclass(frozen=True)
class InboundKind:
    """One kind of body webhook targets may send (a work order status, a notice), told apart
    from the others by the keys it must have, and who may send it: `senders()` is asked at
    each request, so a reloaded configuration is what counts."""

    name: str
    keys: frozenset[str]
    handler: InboundHandler
    senders: Callable[[], Collection[str]]

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
        # The kinds of body inbound webhooks carry, each with who may send it: one outside
        # system may be the grid platform for tickets and a notice sender too.
        self.kinds: list[InboundKind] = []
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
        self,
        kind: str,
        keys: tuple[str, ...],
        handler: InboundHandler,
        *,
        senders: Callable[[], Collection[str]],
    ) -> None:
        """Hand bodies that have all of `keys` to `handler`, from the targets `senders()`
        names (a body of this kind from any other target is refused, 403). A kind whose keys
        cannot be told apart from another kind's (one set within the other) is refused: the
        second bot would otherwise take the first one's bodies."""
        new = InboundKind(kind, frozenset(keys), handler, senders)
        kinds = [k for k in self.kinds if k.name != kind]
        for other in kinds:
            if new.keys <= other.keys or other.keys <= new.keys:
                raise ValueError(
                    f"webhook {new.describe()} bodies cannot be told apart from"
                    f" {other.describe()} bodies"
                )
        self.kinds = [*kinds, new]

    def kinds_of(self, sender: str) -> list[InboundKind]:
        """The kinds of body `sender` may send, as configured now."""
        return [k for k in self.kinds if sender in k.senders()]

    async def handle_inbound(self, request: web.Request) -> web.Response:
        name = request.match_info["target"]
        target = self.targets.get(name)
        allowed = self.kinds_of(name)
        if target is None or not allowed or target.inbound_secret is None:
            return web.json_response({"error": "unknown webhook"}, status=404)
        body = await request.read()
        now = self.clock.now()
        try:
            signature = verify(
                target.inbound_secret, request.headers.get(SIGNATURE_HEADER), body, now
            )
            try:
                payload = json.loads(body)
            # A number of more than 4,300 digits is a ValueError, nesting a thousand deep a
            # RecursionError: bad bodies like any other.
            except (ValueError, RecursionError, UnicodeDecodeError):
                raise WebhookRejected(400, "body is not JSON Linli reads") from None
            if not isinstance(payload, dict):
                raise WebhookRejected(400, "body must be a JSON object")
            kind = _kind_of(self.kinds, allowed, payload)
            if kind not in allowed:
                # Logged without the body: it may carry anything.
                raise WebhookRejected(403, f"this sender may not send {kind.name} bodies")
            await self._claim(signature, now)
        except WebhookRejected as e:
            log.warning("refused inbound webhook %s: %s", name, e.reason)
            return web.json_response({"error": e.reason}, status=e.status)
        try:
            status, answer = await kind.handler(name, payload)
        except Exception:
            # Released: the sender's retry is handled, not refused as a replay.
            await self._release(signature)
            log.exception("inbound webhook %s failed in its handler", name)
            return web.json_response({"error": "could not handle the update; retry"}, status=500)
        if not 200 <= status < 300:
            await self._release(signature)
        return web.json_response(answer, status=status)

    async def _claim(self, signature: str, now: datetime) -> None:
        """One atomic claim of a signed request: the first insert wins, a concurrent or later
        copy is refused as a replay. Signatures older than the tolerance go (their timestamps
        are refused anyway), so the table stays small."""
        try:
            async with self.db.transaction() as session:
                await session.execute(
                    delete(WebhookSeen).where(WebhookSeen.received_at < now - 2 * TOLERANCE)
                )
                session.add(WebhookSeen(signature=signature, received_at=now))
        except IntegrityError:
            raise WebhookRejected(409, "replayed request") from None

    async def _release(self, signature: str) -> None:
        """A claim whose handler did not succeed: the same request may come again."""
        async with self.db.transaction() as session:
            await session.execute(delete(WebhookSeen).where(WebhookSeen.signature == signature))


def _kind_of(
    kinds: list[InboundKind], allowed: list[InboundKind], payload: dict[str, Any]
) -> InboundKind:
    fitting = [k for k in kinds if k.keys <= payload.keys()]
    if len(fitting) == 1:
        return fitting[0]
    said = "; ".join(k.describe() for k in allowed)
    if not fitting:
        raise WebhookRejected(400, f"body is none of the kinds this webhook takes: {said}")
    raise WebhookRejected(400, f"body fits several kinds, send one: {said}")
