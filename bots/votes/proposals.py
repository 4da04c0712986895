"""The proposal chain from the seeds: a resident files a proposal → the residents' committee
accepts it (with a discussion period) or rejects it (with a reason) → a discussion in the hall →
a formal vote → if it passes, a convention (公约) in the announcements room, pinned. Every step
tells the proposer by direct message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bots.votes.jobs import DISCUSSION_ENDS, DiscussionEnds
from bots.votes.proposal_store import ProposalRecord, ProposalStore, WrongStep
from bots.votes.store import PollRecord
from bridge import messages
from bridge.bot import EventContext, Services
from bridge.commands import CommandError
from bridge.matrix import derived_txn_id
from bridge.matrix_errors import NotFound
from bridge.rooms_config import Compound
from bridge.store.jobs import Job

Send = Callable[[str, dict[str, Any], str, str], Awaitable[str]]


class ProposalDesk:
    def __init__(self, services: Services, store: ProposalStore) -> None:
        self.services = services
        self.store = store
        services.scheduler.register_kind(DISCUSSION_ENDS, self.discussion_ended)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    def _local(self, text: Callable[..., str], when: datetime) -> str:
        return when.astimezone(self.tz).strftime(text("votes.time_format"))

    async def _room(self, compound: str, key: str) -> str:
        record = await self.services.store.rooms.by_key(f"{compound}:{key}")
        if record is None:
            raise CommandError("votes.no_room")
        return record.room_id

    async def _tell_proposer(
        self, proposal: ProposalRecord, body: str, send: Send, purpose: str
    ) -> None:
        if proposal.proposer is None:
            return
        room = await self.services.direct_room(proposal.proposer)
        await send(room, messages.notice(body), purpose, "m.room.message")

    async def file(self, ctx: EventContext, compound: Compound, text: str) -> None:
        proposal = await self.store.file(
            compound.key, ctx.event.sender, text, ctx.event.event_id, ctx.received_at
        )
        committee = await self._room(compound.key, "committee")
        await ctx.send_notice(
            committee,
            ctx.text(
                "votes.proposal_for_committee",
                number=proposal.number,
                who=ctx.event.sender,
                text=text,
            ),
            purpose="proposal-committee",
        )
        await ctx.reply("votes.proposal_filed", number=proposal.number)

    async def _pending(self, ctx: EventContext, compound: Compound, number: int) -> ProposalRecord:
        proposal = await self.store.get(compound.key, number)
        if proposal is None:
            raise CommandError("votes.proposal_not_found", number=number)
        return proposal

    async def accept(
        self, ctx: EventContext, compound: Compound, number: int, until: datetime
    ) -> None:
        proposal = await self._pending(ctx, compound, number)
        hall = await self._room(compound.key, "hall")
        at = self._local(ctx.text, until)
        discussion = await ctx.send_notice(
            hall,
            ctx.text("votes.proposal_discussion", number=number, text=proposal.text, until=at),
            purpose="proposal-discussion",
        )
        try:
            proposal, _ = await self.store.change(
                proposal.id,
                cause=ctx.event.event_id,
                allowed_from=("pending",),
                status="accepted",
                discussion_event_id=discussion,
                discussion_until=until,
                jobs=[
                    DISCUSSION_ENDS.spec(
                        f"proposal:{proposal.id}:discussion",
                        until,
                        DiscussionEnds(proposal=proposal.id),
                    )
                ],
            )
        except WrongStep as e:
            raise CommandError("votes.proposal_decided", number=e.proposal.number) from None
        self.services.scheduler.wake.set()
        await self._tell_proposer(
            proposal,
            ctx.text("votes.proposal_accepted_dm", number=number, until=at),
            _ctx_send(ctx),
            "proposal-accepted-dm",
        )
        await ctx.reply("votes.proposal_accepted", number=number, until=at)

    async def reject(self, ctx: EventContext, compound: Compound, number: int, reason: str) -> None:
        proposal = await self._pending(ctx, compound, number)
        try:
            proposal, _ = await self.store.change(
                proposal.id,
                cause=ctx.event.event_id,
                allowed_from=("pending",),
                status="rejected",
                reason=reason,
            )
        except WrongStep as e:
            raise CommandError("votes.proposal_decided", number=e.proposal.number) from None
        await self._tell_proposer(
            proposal,
            ctx.text("votes.proposal_rejected_dm", number=number, reason=reason),
            _ctx_send(ctx),
            "proposal-rejected-dm",
        )
        await ctx.reply("votes.proposal_rejected", number=number)

    async def discussion_ended(self, job: Job, payload: DiscussionEnds) -> None:
        proposal = await self._by_id(payload.proposal)
        if proposal is None or proposal.status != "accepted":
            return
        compound = self.services.rooms.compounds.get(proposal.compound)
        committee = await self._room(proposal.compound, "committee")
        text = self.services.text(compound, "votes.proposal_discussed", number=proposal.number)
        await self.services.client.send(
            committee, messages.notice(text), derived_txn_id(job.key, "discussed")
        )

    async def _by_id(self, proposal_id: int) -> ProposalRecord | None:
        from bots.votes.models import Proposal

        async with self.store.db.sessions() as session:
            row = await session.get(Proposal, proposal_id)
            if row is None:
                return None
        return await self.store.get(row.compound, row.number)

    async def ready_for_vote(
        self, ctx: EventContext, compound: Compound, number: int
    ) -> ProposalRecord:
        proposal = await self._pending(ctx, compound, number)
        if proposal.status == "voting" and proposal.last_cause == ctx.event.event_id:
            return proposal
        if proposal.status != "accepted":
            raise CommandError("votes.proposal_not_accepted", number=number)
        assert proposal.discussion_until is not None
        if ctx.received_at < proposal.discussion_until:
            until = self._local(ctx.text, proposal.discussion_until)
            raise CommandError("votes.proposal_still_discussed", number=number, until=until)
        return proposal

    async def voting(self, ctx: EventContext, proposal: ProposalRecord, poll: PollRecord) -> None:
        try:
            proposal, _ = await self.store.change(
                proposal.id,
                cause=ctx.event.event_id,
                allowed_from=("accepted",),
                status="voting",
                poll_id=poll.id,
            )
        except WrongStep as e:
            raise CommandError("votes.proposal_decided", number=e.proposal.number) from None
        await self._tell_proposer(
            proposal,
            ctx.text("votes.proposal_voting_dm", number=proposal.number, vote=poll.number),
            _ctx_send(ctx),
            "proposal-voting-dm",
        )

    async def after_vote(
        self, poll: PollRecord, cause: str, compound: Compound | None, send: Send
    ) -> None:
        """A closed vote on a proposal: if it passed, publish the convention in the
        announcements room and pin it; tell the proposer either way."""
        proposal = await self.store.by_poll(poll.id)
        if proposal is None or poll.result is None:
            return

        def text(key: str, **args: Any) -> str:
            return self.services.text(compound, key, **args)

        passed = bool(poll.result.get("passed"))
        convention = None
        if passed:
            announcements = await self._room(proposal.compound, "announcements")
            convention = await send(
                announcements,
                messages.notice(
                    text(
                        "votes.convention",
                        number=proposal.number,
                        vote=poll.number,
                        text=proposal.text,
                    )
                ),
                "convention",
                "m.room.message",
            )
            await self._pin(announcements, convention)
        await self.store.change(
            proposal.id,
            cause=cause,
            allowed_from=("voting",),
            status="passed" if passed else "failed",
            convention_event_id=convention,
        )
        key = "votes.proposal_passed_dm" if passed else "votes.proposal_failed_dm"
        await self._tell_proposer(
            proposal, text(key, number=proposal.number, vote=poll.number), send, "proposal-dm"
        )

    async def _pin(self, room_id: str, event_id: str) -> None:
        """Add an event to the room's pinned events (m.room.pinned_events), keeping the others."""
        client = self.services.client
        try:
            pinned = (await client.get_state(room_id, "m.room.pinned_events")).get("pinned", [])
        except NotFound:
            pinned = []
        if event_id not in pinned:
            await client.put_state(room_id, "m.room.pinned_events", {"pinned": [*pinned, event_id]})

    async def list_conventions(self, ctx: EventContext, compound: Compound) -> None:
        conventions = await self.store.conventions(compound.key)
        if not conventions:
            await ctx.reply("votes.no_conventions")
            return
        lines = [ctx.text("votes.conventions_header", compound=compound.config.name)]
        lines += [
            ctx.text("votes.convention_line", index=i, text=p.text, number=p.number)
            for i, p in enumerate(conventions, 1)
        ]
        await ctx.reply_text("\n".join(lines), purpose="conventions")


def _ctx_send(ctx: EventContext) -> Send:
    async def send(room: str, content: dict[str, Any], purpose: str, kind: str) -> str:
        return await ctx.send(room, content, purpose, event_type=kind)

    return send
