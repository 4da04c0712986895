"""A homeserver client that answers every request locally and counts it (no network)."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from bridge.matrix import MatrixClient


class CountingClient(MatrixClient):
    def __init__(self, bot_user_id: str) -> None:
        super().__init__("http://counting.invalid", "token", bot_user_id)
        self.paths: Counter[str] = Counter()
        self._ids = itertools.count(1)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        as_user: str | None = None,
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        self.requests[method] += 1
        self.paths[path.split("/")[4] if path.count("/") > 4 else path] += 1
        n = next(self._ids)
        return {"room_id": f"!bench{n}:bench", "event_id": f"$bench{n}", "content_uri": "mxc://b/1"}
