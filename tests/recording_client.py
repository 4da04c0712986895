"""A homeserver client that answers every request locally and records it (no network).

It keeps what a homeserver would for the bots' purposes: a message sent again with the same
transaction ID gets the first one's event ID and is not recorded twice (the spec's
idempotency of `PUT /send/{txnId}`), so a test of a replayed handler sees what residents
would see. Unit tests of bot rules and the benchmarks use it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bridge.matrix import MatrixClient


@dataclass(frozen=True)
class Sent:
    room_id: str
    event_type: str
    content: dict[str, Any]
    txn_id: str
    event_id: str

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))


class RecordingClient(MatrixClient):
    def __init__(self, bot_user_id: str) -> None:
        super().__init__("http://recording.invalid", "token", bot_user_id)
        self.paths: Counter[str] = Counter()
        self.sent: list[Sent] = []
        self._by_txn: dict[tuple[str, str], str] = {}
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
        idempotent: bool = True,
    ) -> dict[str, Any]:
        self.requests[method] += 1
        parts = path.split("/")
        self.paths[parts[4] if len(parts) > 4 else path] += 1
        if method == "PUT" and len(parts) >= 9 and parts[6] == "send":
            # /_matrix/client/v3/rooms/{room}/send/{type}/{txn}
            room_id, event_type, txn = parts[5], parts[7], parts[8]
            # Every event the bot sends says whom it pings (bridge/messages.py), no one
            # included: without the key, the homeserver's legacy body rules apply.
            assert isinstance(body, dict) and isinstance(body.get("m.mentions"), dict), (
                f"sent without m.mentions: {_unquote(event_type)} {body!r:.200}"
            )
            key = (as_user or self.default_user, txn)
            if key not in self._by_txn:
                event_id = f"$sent{next(self._ids)}"
                self._by_txn[key] = event_id
                self.sent.append(Sent(_unquote(room_id), _unquote(event_type), body, txn, event_id))
            return {"event_id": self._by_txn[key]}
        n = next(self._ids)
        return {"room_id": f"!room{n}:test", "event_id": f"$ev{n}", "content_uri": "mxc://t/1"}

    def bodies(self, room_id: str | None = None, event_type: str | None = None) -> list[str]:
        return [
            s.body
            for s in self.sent
            if (room_id is None or s.room_id == room_id)
            and (event_type is None or s.event_type == event_type)
        ]


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)
