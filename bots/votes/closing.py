"""Closing a poll or vote once: freeze the count, post the end event and the result, and for a
formal vote its chart, its audit file and, for a proposal's vote, the convention."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from bots.votes import audit, results
from bots.votes.audit_store import audit_material
from bots.votes.count import CountError
from bots.votes.jobs import ClosePoll
from bots.votes.proposals import ProposalDesk
from bots.votes.result_chart import FALLBACK, result_chart_png
from bots.votes.store import AlreadyClosed, PollRecord, VoteStore
from bridge import messages
from bridge.bot import Services
from bridge.commands import CommandError
from bridge.matrix import derived_txn_id
from bridge.rooms_config import Compound
from bridge.store.jobs import Job

log = logging.getLogger(__name__)

Send = Callable[[str, dict[str, Any], str, str], Awaitable[str]]  # room, content, purpose, type


class Closer:
    """Closes polls: by their job or by a command."""

    def __init__(
        self,
        services: Services,
        votes: VoteStore,
        proposals: ProposalDesk,
    ) -> None:
        self.services = services
        self.votes = votes
        self.proposals = proposals

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    async def close_when_due(self, job: Job, payload: ClosePoll) -> None:
        poll = await self.votes.by_id(payload.poll)
        if poll is None:
            return
        compound = self.services.rooms.compounds.get(poll.compound)
        client = self.services.client

        async def send(room: str, content: dict[str, Any], purpose: str, kind: str) -> str:
            return await client.send(
                room, content, derived_txn_id(job.key, purpose), event_type=kind
            )

        try:
            await self.close(poll, cause=job.key, by=None, compound=compound, send=send)
        except CommandError:
            return  # closed by a command meanwhile: its result is out already

    async def close(
        self,
        poll: PollRecord,
        *,
        cause: str,
        by: str | None,
        compound: Compound | None,
        send: Send,
    ) -> None:
        """Close once (freeze the count), then post the poll's end event and the result; run
        again for the same cause, it re-sends what may be missing (same transaction IDs)."""
        try:
            closing = await self.votes.close(
                poll.id,
                cause=cause,
                at=self.services.clock.now(),
                by=by,
                result=results.freeze,
            )
        except AlreadyClosed as e:
            raise CommandError("votes.already_closed", number=e.poll.number) from None
        except CountError as e:
            # Nothing was frozen: the vote stays open, and can be closed again once the cause
            # is mended. The committee hears why, in its room, whoever asked for the close.
            log.error("closing poll %s failed: %s", poll.id, e)
            reason = self.services.text(compound, e.key)
            await self._tell_committee(poll, compound, send, reason)
            raise CommandError("votes.close_failed", number=poll.number, reason=reason) from None
        closed = closing.poll
        send = self._once(closed.id, cause, send)

        def text(key: str, **args: Any) -> str:
            return self.services.text(compound, key, **args)

        body = results.result_text(text, closed)
        # The end event carries the tally for clients without polls; the notice, for clients
        # that draw the ended poll from the answers they saw (per person, not per household).
        await send(
            closed.room_id, messages.poll_end(closed.start_event_id, body), "end", messages.POLL_END
        )
        await send(
            closed.room_id,
            messages.notice(body, reply_to=closed.start_event_id),
            "result",
            "m.room.message",
        )
        if closed.kind == "formal":
            await self._post_chart(closed, compound, send)
            await self._publish_audit(closed, compound, send)
            await self.proposals.after_vote(closed, cause, compound, send)

    def _once(self, poll_id: int, cause: str, send: Send) -> Send:
        """`send`, each purpose posted once per cause, even past the homeserver's transaction
        cache (the close's posts are logged with the events they made)."""
        at = self.services.clock.now()

        async def once(room: str, content: dict[str, Any], purpose: str, kind: str) -> str:
            return await self.votes.post_once(
                poll_id, cause, purpose, at, lambda: send(room, content, purpose, kind)
            )

        return once

    async def _tell_committee(
        self, poll: PollRecord, compound: Compound | None, send: Send, reason: str
    ) -> None:
        room = await self.services.store.rooms.by_key(f"{poll.compound}:committee")
        text = self.services.text(
            compound, "votes.close_failed_committee", number=poll.number, reason=reason
        )
        await send(
            room.room_id if room is not None else poll.room_id,
            messages.notice(text),
            "close-failed",
            "m.room.message",
        )

    async def _post_chart(self, poll: PollRecord, compound: Compound | None, send: Send) -> None:
        """The result as an image, in the compound's words (drawn in a thread: no room waits
        for it)."""
        assert poll.rule is not None and poll.result is not None
        words = {
            key: self.services.text(compound, f"votes.chart_{key}", number=poll.number)
            for key in FALLBACK
        }
        png = await asyncio.to_thread(
            result_chart_png,
            words,
            audit.rule_of(poll.rule),
            results.outcome_of(poll.result),
            poll.eligibility == "owners",
        )
        name = f"vote-{poll.compound}-{poll.number}.png"
        uri = await self.services.client.upload(png, "image/png", name)
        if uri is None:
            return  # no media repository: the result text stands alone
        content = messages.file_message(uri, name, "image/png", len(png), msgtype="m.image")
        await send(poll.room_id, content, "chart", "m.room.message")

    async def _publish_audit(self, poll: PollRecord, compound: Compound | None, send: Send) -> None:
        """The audit file in the hall, and its SHA-256 in a notice (a copy altered later no
        longer matches it)."""
        material = await audit_material(self.votes.db, poll.id, poll.secret)
        data = audit.audit_file(poll, compound.config.name if compound else poll.compound, material)
        name = f"vote-{poll.compound}-{poll.number}-audit.json"
        uri = await self.services.client.upload(data, "application/json", name)
        content = (
            messages.file_message(uri, name, "application/json", len(data))
            if uri is not None
            else messages.notice(data.decode())
        )
        await send(poll.room_id, content, "audit", "m.room.message")
        text = self.services.text(
            compound, "votes.audit", number=poll.number, sha256=audit.sha256(data)
        )
        await send(poll.room_id, messages.notice(text), "audit-hash", "m.room.message")
