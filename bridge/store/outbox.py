"""The webhook outbox as operators see it: how much waits, and how much is failing.

(Enqueueing and delivery live in bridge/webhooks.py, beside the signing.)"""

from __future__ import annotations

from sqlalchemy import func, select

from bridge.store.database import Database
from bridge.store.models import WebhookOutbox


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def counts(self) -> dict[str, int]:
        """Entries not yet delivered ("pending"), and those whose last attempt failed
        ("failing", a subset of pending)."""
        async with self.db.sessions() as session:
            pending, failing = (
                await session.execute(
                    select(
                        func.count(),
                        func.count(WebhookOutbox.last_error),
                    ).where(WebhookOutbox.status == "pending")
                )
            ).one()
            return {"pending": int(pending), "failing": int(failing)}
