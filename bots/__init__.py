"""Linli's bots: domain rules, one folder per bot. `ALL_BOTS` is how the bridge knows them.

Adding a bot: copy the shape of `bots/tickets/` (bot.py, rules, store.py, jobs.py, texts/),
add its class to `bots/registry.py`, and, if it has tables, an alembic revision in
`bridge/store/migrations/` (see docs/architecture.md, "Adding a bot").

`ALL_BOTS` is imported when first asked for: `import bots.votes.cli` (an admin verb that
needs no bot) then does not load every bot, the homeserver client and the database layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.bot import Bot

    ALL_BOTS: list[type[Bot]]


def __getattr__(name: str) -> Any:
    if name == "ALL_BOTS":
        from bots.registry import ALL_BOTS

        return ALL_BOTS
    raise AttributeError(f"module 'bots' has no attribute {name!r}")
