"""Proxies (委托): an owner's request that another person vote for the household, a committee
member's confirmation or refusal, a revocation; each change made once per cause through the
platform's change log (`bridge/store/changes.py`, the table `votes_proxy_log`), and each message
a change posts logged with the event it made, so a handler run again posts nothing new."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select, update

from bots.votes.models import PaperBallot, Poll, PollAnswer, ProxyLog, SecretVoter, VoteProxy
from bridge.store.changes import ChangeLog
from bridge.store.database import Database
from bridge.store.numbering import numbered

Status = Literal["requested", "confirmed", "refused", "revoked"]
ACTIVE: tuple[Status, ...] = ("requested", "confirmed")


@dataclass(frozen=True)
class ProxyRecord:
    id: int
    compound: str
    number: int
    household: str
    owner: str
    proxy: str
    poll_id: int | None  # None: every vote until revoked
    status: str
    requested_at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    revoked_at: datetime | None
    reason: str | None
    cause: str

    @property
    def in_force(self) -> bool:
        return self.status == "confirmed"


_FIELDS = [f.name for f in fields(ProxyRecord)]


def _record(row: VoteProxy) -> ProxyRecord:
    return ProxyRecord(**{name: getattr(row, name) for name in _FIELDS})


class ProxyActive(Exception):
    """The household has a proxy asked for or in force already (one at a time)."""

    def __init__(self, proxy: ProxyRecord) -> None:
        super().__init__(proxy.number)
        self.proxy = proxy


class WrongStatus(Exception):
    """The proxy is not in a state this change applies to."""

    def __init__(self, proxy: VoteProxy) -> None:
        super().__init__(proxy.status)
        self.status = proxy.status


class AlreadyVoted(Exception):
    """The household voted in the proxy's vote: the proxy can no longer be revoked."""


@dataclass(frozen=True)
class NewProxy:
    compound: str
    household: str
    owner: str
    proxy: str
    poll_id: int | None
    cause: str
    at: datetime


class ProxyStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._changes = ChangeLog(VoteProxy, ProxyLog, "proxy_id", _record)

    async def request(self, new: NewProxy) -> tuple[ProxyRecord, bool]:
        """Store an owner's request once per command (the request that command made is
        returned as it is, with False); ProxyActive when the household has one already."""

        async def attempt() -> tuple[ProxyRecord, bool]:
            async with self.db.transaction() as session:
                made = (
                    await session.execute(select(VoteProxy).where(VoteProxy.cause == new.cause))
                ).scalar_one_or_none()
                if made is not None:
                    return _record(made), False
                active = (
                    await session.execute(
                        select(VoteProxy).where(
                            VoteProxy.compound == new.compound,
                            VoteProxy.household == new.household,
                            VoteProxy.status.in_(ACTIVE),
                        )
                    )
                ).scalar_one_or_none()
                if active is not None:
                    raise ProxyActive(_record(active))
                last = (
                    await session.execute(
                        select(func.coalesce(func.max(VoteProxy.number), 0)).where(
                            VoteProxy.compound == new.compound
                        )
                    )
                ).scalar_one()
                row = VoteProxy(
                    compound=new.compound,
                    number=int(last) + 1,
                    household=new.household,
                    owner=new.owner,
                    proxy=new.proxy,
                    poll_id=new.poll_id,
                    status="requested",
                    requested_at=new.at,
                    cause=new.cause,
                )
                session.add(row)
                await session.flush()
                return _record(row), True

        return await numbered(attempt, "a proxy")

    async def get(self, compound: str, number: int) -> ProxyRecord | None:
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    select(VoteProxy).where(
                        VoteProxy.compound == compound, VoteProxy.number == number
                    )
                )
            ).scalar_one_or_none()
            return _record(row) if row is not None else None

    async def confirm(
        self, proxy_id: int, *, by: str, cause: str, at: datetime
    ) -> tuple[ProxyRecord, bool]:
        """A committee member confirms a request; WrongStatus unless it is waiting."""
        return await self._change(
            proxy_id,
            "confirm",
            by,
            cause,
            at,
            ("requested",),
            {"status": "confirmed", "confirmed_by": by, "confirmed_at": at},
        )

    async def refuse(
        self, proxy_id: int, *, by: str, reason: str, cause: str, at: datetime
    ) -> tuple[ProxyRecord, bool]:
        return await self._change(
            proxy_id,
            "refuse",
            by,
            cause,
            at,
            ("requested",),
            {"status": "refused", "reason": reason, "confirmed_by": by, "confirmed_at": at},
        )

    async def revoke(
        self, proxy_id: int, *, by: str, cause: str, at: datetime
    ) -> tuple[ProxyRecord, bool]:
        """Revoke a request or a proxy in force; AlreadyVoted when it is for one vote and the
        household has voted in it (online, by the proxy or not, on paper or in secret)."""
        return await self._change(
            proxy_id, "revoke", by, cause, at, ACTIVE, {"status": "revoked", "revoked_at": at}
        )

    async def _change(
        self,
        proxy_id: int,
        action: str,
        by: str,
        cause: str,
        at: datetime,
        allowed: tuple[str, ...],
        changes: dict[str, Any],
    ) -> tuple[ProxyRecord, bool]:
        async with self.db.transaction() as session:
            row = await session.get_one(VoteProxy, proxy_id)
            voted = False
            if action == "revoke" and row.poll_id is not None:
                voted = await _household_voted(session, row.poll_id, row.household)

            def check(current: VoteProxy) -> None:
                if current.status not in allowed:
                    raise WrongStatus(current)
                if voted:
                    raise AlreadyVoted(current.number)

            return await self._changes.change(
                session,
                proxy_id,
                cause=cause,
                action=action,
                at=at,
                actor=by,
                check=check,
                changes=changes,
            )

    async def in_force_for(self, compound: str, user_id: str, poll_id: int) -> list[ProxyRecord]:
        """The confirmed proxies this person holds that apply to this vote."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(VoteProxy)
                    .where(
                        VoteProxy.compound == compound,
                        VoteProxy.proxy == user_id,
                        VoteProxy.status == "confirmed",
                        or_(VoteProxy.poll_id.is_(None), VoteProxy.poll_id == poll_id),
                    )
                    .order_by(VoteProxy.number)
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def standing(self, compound: str) -> list[ProxyRecord]:
        """The compound's proxies in force for every vote until revoked."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(VoteProxy)
                    .where(
                        VoteProxy.compound == compound,
                        VoteProxy.status == "confirmed",
                        VoteProxy.poll_id.is_(None),
                    )
                    .order_by(VoteProxy.number)
                )
            ).scalars()
            return [_record(r) for r in rows]

    async def compounds_of_proxy(self, user_id: str) -> list[str]:
        """The compounds in which this person holds a proxy in force."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(func.distinct(VoteProxy.compound)).where(
                    VoteProxy.proxy == user_id, VoteProxy.status == "confirmed"
                )
            )
            return sorted(c for (c,) in rows)

    async def listed(self, compound: str, user_id: str | None) -> list[ProxyRecord]:
        """A compound's proxies asked for or in force (a person's own: given or held)."""
        query = select(VoteProxy).where(
            VoteProxy.compound == compound, VoteProxy.status.in_(ACTIVE)
        )
        if user_id is not None:
            query = query.where(or_(VoteProxy.owner == user_id, VoteProxy.proxy == user_id))
        async with self.db.sessions() as session:
            rows = (await session.execute(query.order_by(VoteProxy.number))).scalars()
            return [_record(r) for r in rows]

    async def proxy_households(self, poll_id: int) -> int:
        """How many households a proxy has answered for in this vote (a household's owner and
        its proxy never both have an answer: the first one refuses the other)."""
        async with self.db.sessions() as session:
            found = await session.execute(
                select(func.count(func.distinct(PollAnswer.household))).where(
                    PollAnswer.poll_id == poll_id, PollAnswer.proxy_id.is_not(None)
                )
            )
            return int(found.scalar_one())

    async def open_votes_answered_by_proxy(self, proxy: ProxyRecord) -> list[int]:
        """Numbers of open votes in which this proxy has answered for the household."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(func.distinct(Poll.number))
                .join(PollAnswer, PollAnswer.poll_id == Poll.id)
                .where(PollAnswer.proxy_id == proxy.id, Poll.status == "open")
                .order_by(Poll.number)
            )
            return [int(n) for (n,) in rows]

    async def post_once(
        self,
        proxy_id: int,
        cause: str,
        purpose: str,
        at: datetime,
        post: Callable[[], Awaitable[str]],
    ) -> str:
        """Post a message a change of the proxy causes once per (cause, purpose), however long
        after the homeserver forgot the transaction ID (as VoteStore.post_once for polls)."""
        return await self._changes.post_once(
            self.db, proxy_id, cause=cause, purpose=purpose, at=at, post=post
        )

    async def of_person(self, user_id: str) -> list[dict[str, Any]]:
        """The proxies a person gave or holds, for `!我 导出`."""
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(VoteProxy, Poll.number)
                .outerjoin(Poll, Poll.id == VoteProxy.poll_id)
                .where(or_(VoteProxy.owner == user_id, VoteProxy.proxy == user_id))
                .order_by(VoteProxy.id)
            )
            return [
                {
                    "compound": r.compound,
                    "proxy": r.number,
                    "role": "owner" if r.owner == user_id else "proxy",
                    "household": r.household,
                    "owner": r.owner,
                    "holder": r.proxy,
                    "vote": vote,  # None: every vote until revoked
                    "status": r.status,
                    "requested_at": r.requested_at.isoformat(),
                    "confirmed_by": r.confirmed_by,
                }
                for r, vote in rows.all()
            ]

    async def revoke_all_of(self, user_id: str, compound: str | None, at: datetime) -> int:
        """Moving out, removal or erasure: the proxies the person gave or holds (in that
        compound, or everywhere) are revoked. Ballots already taken stay counted."""
        mine = or_(VoteProxy.owner == user_id, VoteProxy.proxy == user_id)
        where = [mine, VoteProxy.status.in_(ACTIVE)]
        if compound is not None:
            where.append(VoteProxy.compound == compound)
        async with self.db.transaction() as session:
            done = await session.execute(
                update(VoteProxy).where(*where).values(status="revoked", revoked_at=at)
            )
            return int(getattr(done, "rowcount", 0) or 0)

    async def rename(self, user_id: str, alias: str) -> None:
        """`!我 删除`: the person's proxies (all revoked by now) no longer name them."""
        async with self.db.transaction() as session:
            for column in ("owner", "proxy", "confirmed_by"):
                await session.execute(
                    update(VoteProxy)
                    .where(getattr(VoteProxy, column) == user_id)
                    .values({column: alias})
                )


async def _household_voted(session: Any, poll_id: int, household: str) -> bool:
    for query in (
        select(PollAnswer.id).where(
            PollAnswer.poll_id == poll_id, PollAnswer.household == household
        ),
        select(PaperBallot.id).where(
            PaperBallot.poll_id == poll_id, PaperBallot.household == household
        ),
        select(SecretVoter.voter).where(
            SecretVoter.poll_id == poll_id, SecretVoter.voter == household
        ),
    ):
        if (await session.execute(query.limit(1))).first() is not None:
            return True
    return False
