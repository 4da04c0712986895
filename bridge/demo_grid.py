"""The demo's stand-in for a street office's grid-management platform: a loopback endpoint
that checks the signature of each work order Linli sends, keeps it in data/grid-orders.jsonl,
and answers 200, so the demo shows the whole escalation ladder working."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from bridge.webhooks import SIGNATURE_HEADER, WebhookRejected, verify

log = logging.getLogger(__name__)


class GridReceiver:
    def __init__(self, secret: str, orders: Path, port: int) -> None:
        self.secret = secret
        self.orders = orders
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/work-orders"

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(self.secret, request.headers.get(SIGNATURE_HEADER), body, datetime.now(UTC))
        except WebhookRejected as e:
            return web.json_response({"error": e.reason}, status=e.status)
        order = json.loads(body)
        with self.orders.open("a", encoding="utf-8") as out:
            out.write(json.dumps(order, ensure_ascii=False) + "\n")
        log.info("demo grid platform: work order %s received", order.get("reference"))
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/work-orders", self.receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def grid_section(port: int, secret: str) -> str:
    """The bridge.yaml lines of the demo's grid target (its status updates come back signed
    with the inbound secret) and of its water company, which posts notices by webhook."""
    return (
        f"webhooks:\n  grid:\n    url: http://127.0.0.1:{port}/work-orders\n    secret: {secret}\n"
        f"    inbound_secret: {secrets.token_hex(24)}\n" + water_section(port)
    )


def water_section(port: int) -> str:
    """The demo's water company: it may post notices to 和平里 (heping). Linli sends it
    nothing; its url is required and unused."""
    return (
        f"  water:\n    url: http://127.0.0.1:{port}/unused\n    secret: {secrets.token_hex(24)}\n"
        f"    inbound_secret: {secrets.token_hex(24)}\n    notice_compounds: [heping]\n"
    )
