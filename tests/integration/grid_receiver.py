"""A stand-in for the grid platform: an HTTP server that records every signed work order Linli
posts to it, checking the signature the way docs/architecture.md describes it."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from dataclasses import dataclass
from typing import Any

from aiohttp import web

SIGNATURE_HEADER = "X-Linli-Signature"
DELIVERY_HEADER = "X-Linli-Delivery"


@dataclass(frozen=True)
class Received:
    delivery: str  # Linli's outbox entry: the same on every attempt
    body: dict[str, Any]
    signed: bool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GridReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[Received] = []
        self.port = _free_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/orders"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/orders", self._order)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _order(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.received.append(
            Received(
                request.headers.get(DELIVERY_HEADER, ""),
                json.loads(raw),
                self._signed(request.headers.get(SIGNATURE_HEADER, ""), raw),
            )
        )
        return web.json_response({"ok": True})

    def _signed(self, header: str, raw: bytes) -> bool:
        # X-Linli-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts:
            return False
        mac = hmac.new(self.secret.encode(), f"{parts['t']}.".encode() + raw, hashlib.sha256)
        return hmac.compare_digest(mac.hexdigest(), parts["v1"])
