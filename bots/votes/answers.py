"""Answers from residents' clients: a poll response (unstable or stable names) kept if its
sender may answer, or refused with a reply saying why; a response to a ballot paper goes to the
secret ballots."""

from __future__ import annotations

from bots.votes.electorate import ElectorateStore, Voter
from bots.votes.parsing import poll_response
from bots.votes.proxies import takes_proxies
from bots.votes.proxy_store import ProxyRecord, ProxyStore
from bots.votes.secret import SecretBallots
from bots.votes.store import HouseholdFirst, PaperFirst, PollRecord, ProxyFirst, VoteStore
from bridge import messages
from bridge.bot import EventContext
from bridge.events import OtherEvent
from bridge.roles import Role


class Answers:
    def __init__(
        self,
        votes: VoteStore,
        electorate: ElectorateStore,
        secret: SecretBallots,
        proxies: ProxyStore,
    ) -> None:
        self.votes = votes
        self.electorate = electorate
        self.secret = secret
        self.proxies = proxies

    async def on_event(self, ctx: EventContext, event: OtherEvent) -> None:
        if event.type == "m.room.encrypted":
            await self.secret.encrypted(ctx)
            return
        response = poll_response(event)
        if response is None:
            return
        poll = await self.votes.by_start_event(response.poll_event_id)
        if poll is None:
            await self.secret.cast(ctx, response.poll_event_id, response.answers)
            return
        if ctx.compound is None or poll.room_id != event.room_id:
            return  # not one of Linli's polls
        if any(a not in poll.option_ids for a in response.answers) or not response.answers:
            await self.refuse(ctx, "votes.bad_option", poll)
            return
        # MSC3381: answers beyond max_selections are ignored, the first ones kept.
        refusal = await self.take(ctx, poll, response.answers[: poll.max_selections])
        if refusal is not None:
            await self.refuse(ctx, refusal, poll)

    async def take(
        self,
        ctx: EventContext,
        poll: PollRecord,
        choices: tuple[str, ...],
        for_household: str | None = None,
    ) -> str | None:
        """Keep an answer if the sender may give it; the key of the refusal otherwise (or of
        what to say: "votes.replaced_household", "votes.ballot_taken_proxy"). Someone who may
        not vote in their own right but holds a confirmed proxy votes for that household (a
        holder of several, or who names `for_household`, for the household named)."""
        if Role.OBSERVER in ctx.roles:
            return "votes.observer"
        if not poll.is_open:
            return "votes.closed_answer"
        voter = await self.electorate.voter(poll.compound, ctx.event.sender)
        if voter is not None and for_household == voter.household:
            for_household = None  # their own household, named: their own ballot
        if takes_proxies(poll) and (
            for_household is not None or not await self._may_vote(poll, voter)
        ):
            held = await self.proxies.in_force_for(poll.compound, ctx.event.sender, poll.id)
            if for_household is not None:
                held = [p for p in held if p.household == for_household]
            if len(held) == 1:
                return await self._take_as_proxy(ctx, poll, choices, held[0])
            if len(held) > 1:
                return "votes.proxy_which"
            if for_household is not None:
                return "votes.proxy_none"
        elif for_household is not None:
            return "votes.proxy_secret" if poll.secret else "votes.proxy_not_household_vote"
        elector: tuple[str, str] | None = None
        if poll.eligibility != "anyone":
            if voter is None:
                return "votes.household_only" if poll.kind == "quick" else "votes.residents_only"
            weight = "1"
            if poll.eligibility == "owners":
                area = await self.electorate.area_of(poll.compound, voter.household)
                if not voter.is_owner or area is None:
                    return "votes.owners_only"
                weight = str(area)
            if poll.kind == "formal":
                key = voter.user_id if poll.eligibility == "residents" else voter.household
                elector = (key, weight)
        replaces = False
        if poll.per_household and voter is not None:
            replaces = await self.votes.answered_by_other(poll.id, voter.household, voter.user_id)
        try:
            kept = await self.votes.record_answer(
                poll.id,
                event_id=ctx.event.event_id,
                voter=ctx.event.sender,
                household=voter.household if voter is not None else None,
                choices=choices,
                ts=ctx.event.origin_server_ts,
                received_at=ctx.received_at,
                elector=elector,
            )
        except PaperFirst:
            return "votes.paper_first"
        except ProxyFirst:
            return "votes.proxy_voted_first"
        if not kept:
            return "votes.closed_answer"
        # One household, two members: the later answer replaces the earlier; say so.
        return "votes.replaced_household" if replaces else None

    async def _may_vote(self, poll: PollRecord, voter: Voter | None) -> bool:
        """Whether the sender may vote in this household vote in their own right."""
        if voter is None:
            return False
        if poll.eligibility != "owners":
            return True
        return (
            voter.is_owner
            and await self.electorate.area_of(poll.compound, voter.household) is not None
        )

    async def _take_as_proxy(
        self, ctx: EventContext, poll: PollRecord, choices: tuple[str, ...], proxy: ProxyRecord
    ) -> str | None:
        weight = "1"
        if poll.eligibility == "owners":
            area = await self.electorate.area_of(poll.compound, proxy.household)
            if area is None:
                return "votes.owners_only"
            weight = str(area)
        try:
            kept = await self.votes.record_answer(
                poll.id,
                event_id=ctx.event.event_id,
                voter=ctx.event.sender,
                household=proxy.household,
                choices=choices,
                ts=ctx.event.origin_server_ts,
                received_at=ctx.received_at,
                elector=(proxy.household, weight),
                proxy_id=proxy.id,
            )
        except PaperFirst:
            return "votes.paper_first"
        except HouseholdFirst:
            return "votes.household_voted_first"
        return "votes.ballot_taken_proxy" if kept else "votes.closed_answer"

    async def refuse(self, ctx: EventContext, key: str, poll: PollRecord) -> None:
        """A refusal, as a reply to the response, to the one who sent it."""
        content = messages.notice(
            ctx.text(key, number=poll.number),
            reply_to=ctx.event.event_id,  # a quiet answer to the voter's own response
        )
        await ctx.send(ctx.event.room_id, content, purpose=f"refused:{key}")
