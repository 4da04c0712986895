"""The votes bot: quick polls and formal votes as native Matrix polls that every client renders.

This file is the table of contents: what residents and committees can do, who may, with which
words. Counting and thresholds are in `rules.py` (pure), what people type and clients send in
`parsing.py`, `formal_terms.py` and `paper.py`, opening a poll in `opening.py`, answers in
`answers.py`, paper ballots in `paper_desk.py`, closing in `closing.py` (results in
`results.py`, the chart in `result_chart.py`, the audit file in `audit.py`), secret ballots in
`secret.py`, turnout and reminders in `turnout.py`, proxies (委托) in `proxies.py`, proposals in
`proposals.py`, the tables in
`models.py` and the `*_store.py` files, the scheduled jobs in `jobs.py`, the words in `texts/`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from bots.votes import demo
from bots.votes.answers import Answers
from bots.votes.ballot_store import BallotStore
from bots.votes.closing import Closer
from bots.votes.electorate import ElectorateStore
from bots.votes.formal_terms import CHOICE_WORDS
from bots.votes.jobs import CLOSE, DISTRIBUTE, REMIND, ClosePoll, HandOut, RemindVoters
from bots.votes.opening import Opener, compound_of, open_poll
from bots.votes.paper import parse_household
from bots.votes.paper_desk import PAPER_STAFF, PaperDesk
from bots.votes.parsing import PollTextError, parse_closing, parse_poll
from bots.votes.proposal_store import ProposalStore
from bots.votes.proposals import ProposalDesk
from bots.votes.proxies import ProxyDesk
from bots.votes.proxy_store import ProxyStore
from bots.votes.secret import SecretBallots
from bots.votes.store import PollRecord, VoteStore
from bots.votes.turnout import Turnout
from bridge import messages
from bridge.bot import Bot, EventContext, Services
from bridge.commands import Arg, ArgKind, CommandError, CommandTable
from bridge.events import Membership, Message, OtherEvent
from bridge.roles import COMMITTEE_ROLES, RESIDENT_ROLES, STAFF_ROLES, Role

NUMBER = Arg("number", ArgKind.INT)
# Who may start a quick poll: anyone Linli knows in the compound, except observers.
POLL_PEOPLE = RESIDENT_ROLES | STAFF_ROLES


class VoteBot(Bot):
    """Commands and hooks; the work is done by the parts named in the module's docstring."""

    commands: ClassVar[CommandTable] = CommandTable()
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.votes = VoteStore(services.store.db)
        self.ballots = BallotStore(services.store.db)
        self.electorate = ElectorateStore(services.store.db)
        self.proposals = ProposalDesk(services, ProposalStore(services.store.db))
        self.proxy_store = ProxyStore(services.store.db)
        self.turnout = Turnout(
            services, self.votes, self.ballots, self.electorate, self.proxy_store
        )
        self.secret = SecretBallots(services, self.votes, self.ballots, self.electorate)
        self.closer = Closer(services, self.votes, self.proposals)
        self.opener = Opener(services, self.votes)
        self.proxies = ProxyDesk(services, self.votes, self.electorate, self.proxy_store)
        self.answers = Answers(self.votes, self.electorate, self.secret, self.proxy_store)
        self.papers = PaperDesk(services, self.votes, self.ballots, self.electorate)
        # Each in its compound's lane (bridge/scheduler.py): one compound's hand-out of ballot
        # papers or reminders never delays another compound's jobs.
        scheduler = services.scheduler
        scheduler.register_kind(CLOSE, self.closer.close_when_due, lane=self._lane)
        scheduler.register_kind(DISTRIBUTE, self.secret.hand_out_ballot_papers, lane=self._lane)
        scheduler.register_kind(REMIND, self.turnout.remind_voters, lane=self._lane)

    async def _lane(self, payload: ClosePoll | HandOut | RemindVoters) -> str | None:
        poll = await self.votes.by_id(payload.poll)
        return poll.compound if poll is not None else None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    async def on_start(self) -> None:
        if self.services.config.receipt_key_file is not None:
            self.secret.receipt_key()  # read (or made) now, not in the first voter's lane

    # ------------------------------------------------------------ quick polls

    @commands.command("poll", aliases=["投票"], args=[Arg("text", ArgKind.REST)], roles=POLL_PEOPLE)
    async def start_quick_poll(self, ctx: EventContext, text: str) -> None:
        compound_of(ctx)
        try:
            spec = parse_poll(text, ctx.received_at, self.tz)
        except PollTextError as e:
            raise CommandError(e.key, **e.args_) from None
        options = [(f"o{i}", option) for i, option in enumerate(spec.options, 1)]
        content = messages.poll_start(
            spec.question,
            options,
            max_selections=len(options) if spec.multiple else 1,
            disclosed=True,
        )
        poll = await self.opener.post_poll(
            ctx,
            content,
            kind="quick",
            question=spec.question,
            options=options,
            max_selections=len(options) if spec.multiple else 1,
            per_household=spec.per_household,
            eligibility="households" if spec.per_household else "anyone",
            rule=None,
            closes_at=spec.closes_at,
            remind=spec.remind,
        )
        closing = self.opener.closing_text(ctx, poll)
        await self.opener.announce(
            ctx,
            poll,
            "opened",
            lambda: ctx.reply("votes.opened", number=poll.number, closing=closing),
        )

    @commands.command("poll end", aliases=["投票 结束"], args=[NUMBER], roles=POLL_PEOPLE)
    async def end_poll(self, ctx: EventContext, number: int) -> None:
        poll = await open_poll(self.votes, ctx, number)
        if ctx.event.sender != poll.creator and not ctx.roles & STAFF_ROLES:
            raise CommandError("votes.not_yours", number=number)
        await self.closer.close(
            poll,
            cause=ctx.event.event_id,
            by=ctx.event.sender,
            compound=compound_of(ctx),
            send=lambda room, content, purpose, kind: ctx.send(
                room, content, purpose, event_type=kind
            ),
        )

    # ------------------------------------------------------------ formal votes

    @commands.command(
        "vote", aliases=["表决"], args=[Arg("text", ArgKind.REST)], roles=COMMITTEE_ROLES
    )
    async def start_formal_vote(self, ctx: EventContext, text: str) -> None:
        compound_of(ctx)
        if ctx.room_key != "hall":
            raise CommandError("votes.hall_only")
        poll = await self.opener.open_formal(ctx, ctx.event.room_id, text)
        await self.proxies.tell_of_vote(ctx, poll)

    @commands.command(
        "vote cast",
        aliases=["表决 投", "表决 投票"],
        args=[NUMBER, Arg("choice"), Arg("household", optional=True)],
        roles=None,  # a proxy need not live in the compound; who may vote is checked in `take`
    )
    async def cast_by_command(
        self, ctx: EventContext, number: int, choice: str, household: str | None
    ) -> None:
        """`!表决 投 N 同意`, or a proxy's `!表决 投 N 同意 3-2-1101` for the household (a
        proxy who does not live in the compound is not in the hall: they vote from their
        direct room with the bot, where the compound is the one of their proxy)."""
        poll = await self._vote_for_cast(ctx, number)
        if poll.kind != "formal":
            raise CommandError("votes.not_formal", number=number)
        if poll.secret:
            # A secret choice typed in a room: take it out of the room, count nothing.
            await self.services.client.redact(
                ctx.event.room_id, ctx.event.event_id, ctx.text("votes.redacted"), ctx.txn("redact")
            )
            held = await self.proxy_store.in_force_for(poll.compound, ctx.event.sender, poll.id)
            key = "votes.proxy_secret" if household or held else "votes.secret_elsewhere"
            raise CommandError(key, number=number)
        if not ctx.roles & RESIDENT_ROLES:
            held = await self.proxy_store.in_force_for(poll.compound, ctx.event.sender, poll.id)
            if not held:  # as before proxies: only residents may vote by command
                raise CommandError("error.not_allowed", roles=ctx.role_names(RESIDENT_ROLES))
        picked = CHOICE_WORDS.get(choice.casefold())
        if picked is None:
            raise CommandError("votes.bad_choice")
        named = parse_household(household) if household is not None else None
        if household is not None and named is None:
            raise CommandError("votes.bad_household", text=household)
        outcome = await self.answers.take(ctx, poll, (picked,), named)
        if outcome in ("votes.replaced_household", "votes.ballot_taken_proxy"):
            await ctx.reply(outcome, number=number)
            return
        if outcome is not None:
            raise CommandError(outcome, number=number)
        key = "votes.ballot_taken_household" if poll.per_household else "votes.ballot_taken"
        await ctx.reply(key, number=number)

    async def _vote_for_cast(self, ctx: EventContext, number: int) -> PollRecord:
        if ctx.compound is not None:
            return await open_poll(self.votes, ctx, number)
        compounds = await self.proxy_store.compounds_of_proxy(ctx.event.sender)
        if len(compounds) != 1:
            raise CommandError("error.not_in_compound")
        poll = await self.votes.get(compounds[0], number)
        if poll is None:
            raise CommandError("votes.not_found", number=number)
        if not poll.is_open:
            raise CommandError("votes.already_closed", number=number)
        return poll

    # ------------------------------------------------------------ answers from clients

    async def on_event(self, ctx: EventContext, event: OtherEvent) -> None:
        await self.answers.on_event(ctx, event)

    async def on_membership(self, ctx: EventContext, membership: Membership) -> None:
        # A resident verified while a secret vote is open is invited to the hall and joins
        # it: they get a ballot paper then (the electorate is who may vote at the opening and
        # who becomes eligible before the close). The invitation is the bot's own event,
        # which the router does not pass on.
        if ctx.compound is None or ctx.room_key != "hall":
            return
        if membership.membership == "join" and membership.previous != "join":
            await self.secret.hand_out_to_newcomer(
                ctx.compound.key, membership.user_id, ctx.event.event_id
            )

    async def on_message(self, ctx: EventContext, message: Message) -> None:
        if message.msgtype == "m.file":
            await self.papers.import_file(ctx, message)  # paper ballots as a CSV file

    # ------------------------------------------------------------ turnout and reminders

    @commands.command(
        "vote turnout",
        aliases=["表决 进度", "投票 进度"],
        args=[NUMBER],
        roles=POLL_PEOPLE | {Role.OBSERVER},
    )
    async def show_turnout(self, ctx: EventContext, number: int) -> None:
        poll = await open_poll(self.votes, ctx, number)
        await ctx.reply_text(await self.turnout.turnout_text(poll, ctx.text), purpose="turnout")

    # ------------------------------------------------------------ paper ballots

    @commands.command(
        "vote paper",
        aliases=["投票 纸质", "表决 纸质"],
        args=[NUMBER, Arg("household"), Arg("choice")],
        roles=PAPER_STAFF,
    )
    async def enter_paper_ballot(
        self, ctx: EventContext, number: int, household: str, choice: str
    ) -> None:
        await self.papers.enter(ctx, number, household, choice)

    @commands.command(
        "vote paper confirm",
        aliases=["投票 确认", "表决 确认"],
        args=[NUMBER, Arg("batch")],
        roles=COMMITTEE_ROLES,
    )
    async def confirm_paper_ballots(self, ctx: EventContext, number: int, batch: str) -> None:
        """A second committee member (监票人) confirms a batch of paper ballots."""
        await self.papers.confirm(ctx, number, batch)

    @commands.command(
        "vote paper import",
        aliases=["投票 纸质导入", "表决 纸质导入"],
        args=[NUMBER, Arg("csv", ArgKind.REST)],
        roles=PAPER_STAFF,
    )
    async def import_paper_ballots(self, ctx: EventContext, number: int, csv: str) -> None:
        """Paper ballots pasted as CSV lines (`3-2-1101,同意`) after the command."""
        await self.papers.import_csv(ctx, await self.papers.paper_vote(ctx, number), csv)

    # ------------------------------------------------------------ proxies (委托)

    @commands.command(
        "proxy", aliases=["委托"], args=[Arg("text", ArgKind.REST)], roles=RESIDENT_ROLES
    )
    async def request_proxy(self, ctx: EventContext, text: str) -> None:
        """`!委托 [投票编号] @user`: an owner asks that someone vote for the household."""
        await self.proxies.request(ctx, text)

    @commands.command("proxy confirm", aliases=["委托 确认"], args=[NUMBER], roles=COMMITTEE_ROLES)
    async def confirm_proxy(self, ctx: EventContext, number: int) -> None:
        await self.proxies.confirm(ctx, number)

    @commands.command(
        "proxy refuse",
        aliases=["委托 拒绝"],
        args=[NUMBER, Arg("reason", ArgKind.REST)],
        roles=COMMITTEE_ROLES,
    )
    async def refuse_proxy(self, ctx: EventContext, number: int, reason: str) -> None:
        await self.proxies.refuse(ctx, number, reason)

    @commands.command("proxy revoke", aliases=["委托 撤销"], args=[NUMBER], roles=None)
    async def revoke_proxy(self, ctx: EventContext, number: int) -> None:
        """By the owner who gave it or the proxy who holds it (checked by their IDs)."""
        await self.proxies.revoke(ctx, number)

    @commands.command("proxy list", aliases=["委托 列表"], roles=None)
    async def list_proxies(self, ctx: EventContext) -> None:
        await self.proxies.list(ctx)

    # ------------------------------------------------------------ proposals and conventions

    @commands.command(
        "propose", aliases=["提案"], args=[Arg("text", ArgKind.REST)], roles=RESIDENT_ROLES
    )
    async def file_proposal(self, ctx: EventContext, text: str) -> None:
        if len(text) > 1000:
            raise CommandError("votes.too_long", limit=1000)
        await self.proposals.file(ctx, compound_of(ctx), text)

    @commands.command(
        "propose accept",
        aliases=["提案 受理"],
        args=[NUMBER, Arg("period", optional=True)],
        roles={Role.RESIDENTS_COMMITTEE},
    )
    async def accept_proposal(self, ctx: EventContext, number: int, period: str | None) -> None:
        try:
            until = parse_closing(period or "7天", ctx.received_at, self.tz)
        except PollTextError as e:
            raise CommandError(e.key, **e.args_) from None
        await self.proposals.accept(ctx, compound_of(ctx), number, until)

    @commands.command(
        "propose reject",
        aliases=["提案 驳回"],
        args=[NUMBER, Arg("reason", ArgKind.REST)],
        roles={Role.RESIDENTS_COMMITTEE},
    )
    async def reject_proposal(self, ctx: EventContext, number: int, reason: str) -> None:
        await self.proposals.reject(ctx, compound_of(ctx), number, reason)

    @commands.command(
        "propose vote",
        aliases=["提案 表决"],
        args=[NUMBER, Arg("terms", ArgKind.REST)],
        roles={Role.RESIDENTS_COMMITTEE},
    )
    async def vote_on_proposal(self, ctx: EventContext, number: int, terms: str) -> None:
        compound = compound_of(ctx)
        proposal = await self.proposals.ready_for_vote(ctx, compound, number)
        hall = await self.services.store.rooms.by_key(f"{compound.key}:hall")
        if hall is None:
            raise CommandError("votes.no_room")
        terms = terms.strip().lstrip("|｜").strip()
        poll = await self.opener.open_formal(ctx, hall.room_id, f"{proposal.text} | {terms}")
        await self.proxies.tell_of_vote(ctx, poll)
        await self.proposals.voting(ctx, proposal, poll)

    @commands.command("conventions", aliases=["公约"])
    async def list_conventions(self, ctx: EventContext) -> None:
        await self.proposals.list_conventions(ctx, compound_of(ctx))

    # ------------------------------------------------------------ demo and personal data

    async def seed_demo(self, passwords: Mapping[str, str]) -> None:
        await demo.seed(self, passwords)

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        return {
            "poll_answers": await self.votes.answers_of(user_id),
            "vote_proxies": await self.proxy_store.of_person(user_id),
        }

    async def erase_personal(self, user_id: str, compound: str | None) -> None:
        # Moving out, removal or erasure revokes the proxies the person gave or holds there.
        await self.proxy_store.revoke_all_of(user_id, compound, self.services.clock.now())
        if compound is None:
            await self.proxy_store.rename(user_id, f"erased:{secrets.token_hex(6)}")
        # Counts stay (a closed vote's frozen result and audit file are not rewritten).
        await self.votes.forget_voter(user_id, compound)
