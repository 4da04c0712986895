"""Proxies (委托): an owner authorises another person (a family member with an account, an
elderly owner's child) to vote for the household, in one open vote or in every one until
revoked. The request goes to the residents' committee room; a committee member confirms or
refuses it; the proxy hears by direct message (an alert) and so does the owner. The owner (or
the proxy) can revoke it until the household has voted in that vote. Who is an owner comes
from the roster and the residents' table, never from a display name or message text.

A proxy votes in open votes only (docs/votes.md says why not in secret ones); the household's
first ballot counts, whether the owner's or the proxy's (`VoteStore.record_answer`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bots.votes.electorate import ElectorateStore
from bots.votes.opening import compound_of
from bots.votes.proxy_store import (
    AlreadyVoted,
    NewProxy,
    ProxyActive,
    ProxyRecord,
    ProxyStore,
    WrongStatus,
)
from bots.votes.store import PollRecord, VoteStore
from bridge import messages
from bridge.bot import EventContext, Services
from bridge.commands import USER_ID_TOKEN, CommandError
from bridge.events import Message
from bridge.roles import COMMITTEE_ROLES, PROPERTY_ROLES, Role

# Votes a proxy can vote in: formal votes by household (owners' or one per household), open.
PROXY_ELIGIBILITY = ("owners", "households")


def takes_proxies(poll: PollRecord) -> bool:
    return poll.kind == "formal" and poll.eligibility in PROXY_ELIGIBILITY and not poll.secret


class ProxyDesk:
    def __init__(
        self, services: Services, votes: VoteStore, electorate: ElectorateStore, store: ProxyStore
    ) -> None:
        self.services = services
        self.votes = votes
        self.electorate = electorate
        self.store = store

    # ------------------------------------------------------------ the owner asks

    async def request(self, ctx: EventContext, text: str) -> None:
        """`!委托 [投票编号] @user`: an owner of the household asks that `user` vote for it."""
        compound = compound_of(ctx)
        number, target = self._parse_request(ctx, text)
        owner = ctx.event.sender
        resident = await self._owner(compound.key, owner)
        if target == owner:
            raise CommandError("votes.proxy_self")
        roles = (await self.services.roles.table(compound)).roles_of(target)
        if roles & PROPERTY_ROLES or Role.OBSERVER in roles:
            raise CommandError("votes.proxy_not_staff")
        poll: PollRecord | None = None
        if number is not None:
            poll = await self.votes.get(compound.key, number)
            if poll is None or not poll.is_open:
                raise CommandError(
                    "votes.not_found" if poll is None else "votes.already_closed", number=number
                )
            if poll.secret:
                raise CommandError("votes.proxy_secret_request", number=number)
            if not takes_proxies(poll):
                raise CommandError("votes.proxy_not_household_vote", number=number)
        try:
            proxy, _ = await self.store.request(
                NewProxy(
                    compound=compound.key,
                    household=resident,
                    owner=owner,
                    proxy=target,
                    poll_id=poll.id if poll is not None else None,
                    cause=ctx.event.event_id,
                    at=ctx.received_at,
                )
            )
        except ProxyActive as e:
            raise CommandError("votes.proxy_active", number=e.proxy.number) from None
        scope = self._scope(ctx.text, poll)
        committee = await self.services.store.rooms.by_key(f"{compound.key}:committee")
        if committee is not None:
            body = ctx.text(
                "votes.proxy_for_committee",
                number=proxy.number,
                owner=owner,
                proxy=target,
                household=resident,
                scope=scope,
            )
            await self._once(
                ctx,
                proxy,
                "committee",
                lambda: ctx.send_notice(committee.room_id, body, purpose="proxy-committee"),
            )
        await ctx.reply("votes.proxy_requested", number=proxy.number, proxy=target, scope=scope)

    def _parse_request(self, ctx: EventContext, text: str) -> tuple[int | None, str]:
        words = text.split()
        number: int | None = None
        if words and words[0].lstrip("#").isdigit():
            number = int(words.pop(0).lstrip("#"))
        if len(words) == 1 and USER_ID_TOKEN.match(words[0]):
            return number, words[0]
        # A client's pill: the display name in the body, the user ID in m.mentions.
        mentioned = ctx.event.mentioned_users if isinstance(ctx.event, Message) else frozenset()
        mentioned = mentioned - {self.services.config.bot_user_id}
        if words and len(mentioned) == 1:
            return number, next(iter(mentioned))
        raise CommandError("votes.proxy_usage")

    async def _owner(self, compound: str, user_id: str) -> str:
        """The household of which this person is an owner (roster and residents' table)."""
        voter = await self.electorate.voter(compound, user_id)
        if voter is None or not voter.is_owner:
            raise CommandError("votes.proxy_owners_only")
        return voter.household

    # ------------------------------------------------------------ the committee decides

    async def confirm(self, ctx: EventContext, number: int) -> None:
        proxy = await self._get(ctx, number)
        if ctx.event.sender in (proxy.owner, proxy.proxy):
            raise CommandError("votes.proxy_confirm_self", number=number)
        try:
            proxy, _ = await self.store.confirm(
                proxy.id, by=ctx.event.sender, cause=ctx.event.event_id, at=ctx.received_at
            )
        except WrongStatus as e:
            raise CommandError(
                "votes.proxy_not_waiting", number=number, status=self._status(ctx, e.status)
            ) from None
        scope = self._scope(ctx.text, await self._poll(proxy))
        told = ctx.text(
            "votes.proxy_confirmed_dm",
            number=number,
            owner=proxy.owner,
            household=proxy.household,
            scope=scope,
        )
        await self._tell(ctx, proxy, proxy.proxy, "proxy-dm", told, alert=True)
        owner = ctx.text(
            "votes.proxy_confirmed_owner", number=number, proxy=proxy.proxy, scope=scope
        )
        await self._tell(ctx, proxy, proxy.owner, "owner-dm", owner, alert=False)
        await ctx.reply("votes.proxy_confirmed", number=number)

    async def refuse(self, ctx: EventContext, number: int, reason: str) -> None:
        proxy = await self._get(ctx, number)
        if ctx.event.sender in (proxy.owner, proxy.proxy):
            raise CommandError("votes.proxy_confirm_self", number=number)
        try:
            proxy, _ = await self.store.refuse(
                proxy.id,
                by=ctx.event.sender,
                reason=reason[:500],
                cause=ctx.event.event_id,
                at=ctx.received_at,
            )
        except WrongStatus as e:
            raise CommandError(
                "votes.proxy_not_waiting", number=number, status=self._status(ctx, e.status)
            ) from None
        body = ctx.text(
            "votes.proxy_refused_owner", number=number, proxy=proxy.proxy, reason=reason[:500]
        )
        await self._tell(ctx, proxy, proxy.owner, "owner-dm", body, alert=True)
        await ctx.reply("votes.proxy_refused", number=number)

    # ------------------------------------------------------------ the owner (or proxy) revokes

    async def revoke(self, ctx: EventContext, number: int) -> None:
        proxy = await self._get(ctx, number)
        if ctx.event.sender not in (proxy.owner, proxy.proxy):
            raise CommandError("votes.proxy_not_yours", number=number)
        try:
            proxy, _ = await self.store.revoke(
                proxy.id, by=ctx.event.sender, cause=ctx.event.event_id, at=ctx.received_at
            )
        except WrongStatus as e:
            raise CommandError(
                "votes.proxy_not_active", number=number, status=self._status(ctx, e.status)
            ) from None
        except AlreadyVoted:
            poll = await self._poll(proxy)
            raise CommandError(
                "votes.proxy_voted", number=number, vote=poll.number if poll else "?"
            ) from None
        other = proxy.proxy if ctx.event.sender == proxy.owner else proxy.owner
        body = ctx.text("votes.proxy_revoked_dm", number=number, household=proxy.household)
        await self._tell(ctx, proxy, other, "revoked-dm", body, alert=False)
        standing = await self.store.open_votes_answered_by_proxy(proxy)
        if standing:
            votes = "、".join(f"#{n}" for n in standing)
            await ctx.reply("votes.proxy_revoked_cast", number=number, votes=votes)
        else:
            await ctx.reply("votes.proxy_revoked", number=number)

    async def tell_of_vote(self, ctx: EventContext, poll: PollRecord) -> None:
        """A vote a standing proxy may vote in has opened: each such proxy hears by direct
        message (an alert; one who lives elsewhere is not in the hall to see it), once."""
        if not takes_proxies(poll):
            return
        for proxy in await self.store.standing(poll.compound):
            body = ctx.text(
                "votes.proxy_vote_opened",
                number=poll.number,
                question=poll.question,
                household=proxy.household,
            )
            await self._tell(ctx, proxy, proxy.proxy, f"vote-{poll.id}", body, alert=True)

    # ------------------------------------------------------------ lists

    async def list(self, ctx: EventContext) -> None:
        """`!委托 列表`: committee members, in the committee room, see the compound's proxies;
        everyone else gets their own (given or held) by direct message."""
        compound = compound_of(ctx)
        everyone = bool(ctx.roles & COMMITTEE_ROLES) and ctx.room_key == "committee"
        proxies = await self.store.listed(compound.key, None if everyone else ctx.event.sender)
        lines = [await self._line(ctx, p) for p in proxies]
        body = (
            "\n".join([ctx.text("votes.proxy_list_header"), *lines])
            if lines
            else ctx.text("votes.proxy_list_none")
        )
        if everyone:
            await ctx.reply_text(body, purpose="proxy-list")
            return
        room = await self.services.direct_room(ctx.event.sender)
        await ctx.send_notice(room, body, purpose="proxy-list")
        if room != ctx.event.room_id:
            await ctx.reply("votes.proxy_list_sent")

    async def _line(self, ctx: EventContext, proxy: ProxyRecord) -> str:
        return ctx.text(
            "votes.proxy_line",
            number=proxy.number,
            household=proxy.household,
            owner=proxy.owner,
            proxy=proxy.proxy,
            scope=self._scope(ctx.text, await self._poll(proxy)),
            status=self._status(ctx, proxy.status),
        )

    # ------------------------------------------------------------ helpers

    async def _get(self, ctx: EventContext, number: int) -> ProxyRecord:
        proxy = await self.store.get(compound_of(ctx).key, number)
        if proxy is None:
            raise CommandError("votes.proxy_not_found", number=number)
        return proxy

    async def _poll(self, proxy: ProxyRecord) -> PollRecord | None:
        return await self.votes.by_id(proxy.poll_id) if proxy.poll_id is not None else None

    def _scope(self, text: Callable[..., str], poll: PollRecord | None) -> str:
        if poll is None:
            return text("votes.proxy_scope_all")
        return text("votes.proxy_scope_one", vote=poll.number)

    def _status(self, ctx: EventContext, status: str) -> str:
        return ctx.text(f"votes.proxy_status_{status}")

    async def _tell(
        self,
        ctx: EventContext,
        proxy: ProxyRecord,
        user: str,
        purpose: str,
        body: str,
        *,
        alert: bool,
    ) -> None:
        """A direct message a change causes, posted once per (command, purpose)."""

        async def post() -> str:
            room = await self.services.direct_room(user)
            content = messages.alert(body, to=[user]) if alert else messages.notice(body)
            return await ctx.send(room, content, purpose=purpose)

        await self._once(ctx, proxy, purpose, post)

    async def _once(
        self,
        ctx: EventContext,
        proxy: ProxyRecord,
        purpose: str,
        post: Callable[[], Awaitable[str]],
    ) -> None:
        await self.store.post_once(proxy.id, ctx.event.event_id, purpose, ctx.received_at, post)
