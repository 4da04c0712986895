"""Volunteer hours: check-in at an activity credits its volunteers, `!志愿 时长` shows one's
own, and each month's ranking is posted in the neighbours' room (a scheduled job per compound
and month). Party members who show their identity have it shown beside their hours
(在职党员到社区报到)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bots.community.activities import ActivityDesk
from bots.community.hours_store import HoursStore
from bots.community.jobs import RANKING, Ranking
from bots.community.ranking_chart import ranking_chart_png
from bots.community.store import ActivityRecord
from bridge import messages
from bridge.bot import EventContext, Services
from bridge.matrix import derived_txn_id
from bridge.roles import Role
from bridge.rooms_config import Compound
from bridge.store.jobs import Job

RANKING_ROOM = "neighbours"
RANKING_SIZE = 10
# The ranking of a month is posted on the 1st of the next, at this local hour.
RANKING_HOUR = 9


def month_start(when: datetime, tz: ZoneInfo) -> datetime:
    local = when.astimezone(tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


class HoursDesk:
    def __init__(self, services: Services, desk: ActivityDesk) -> None:
        self.services = services
        self.desk = desk
        s = services
        self.store = HoursStore(s.store.db, s.clock, desk.activities.refresh_delay)
        services.scheduler.register_kind(RANKING, self._post_ranking, lane=self._lane)

    async def _lane(self, payload: Ranking) -> str:
        return payload.compound

    def hours_text(self, compound: Compound | None, minutes: int) -> str:
        if compound is None:
            return str(minutes)
        return self.desk.duration(compound, minutes)

    async def check_in(
        self, ctx: EventContext, activity: ActivityRecord, users: list[str], by_code: bool = False
    ) -> None:
        checked, missing = await self.store.check_in(
            activity, users, cause=ctx.event.event_id, at=ctx.received_at, actor=ctx.event.sender
        )
        self.services.scheduler.wake.set()
        if by_code:
            key = "community.checked_in_self" if checked else "community.not_on_list"
            await ctx.reply(key, number=activity.number)
            return
        lines = [ctx.text("community.checked_in", number=activity.number, count=len(checked))]
        if missing:
            who = await self.services.people(ctx.event.room_id, missing, ctx.compound)
            lines.append(ctx.text("community.checked_in_missing", who=str(who)))
        await ctx.reply_text("\n".join(lines), purpose="reply:checked_in")

    async def show_own(self, ctx: EventContext, compound: Compound) -> None:
        since = month_start(ctx.received_at, self.desk.tz)
        total, month, count = await self.store.hours_of(
            compound.key, ctx.event.sender, since.astimezone(UTC)
        )
        if not count:
            await ctx.reply("community.hours_none")
            return
        shown = await self.services.store.people.shown(compound.key, Role.PARTY_MEMBER)
        await ctx.reply(
            "community.hours",
            total=self.hours_text(compound, total),
            month=self.hours_text(compound, month),
            count=count,
            party=ctx.text("community.hours_party") if ctx.event.sender in shown else "",
        )

    async def ranking_text(self, compound: Compound, start: datetime) -> str:
        text, _ = await self.ranking(compound, start)
        return text

    async def ranking(
        self, compound: Compound, start: datetime
    ) -> tuple[str, list[tuple[str, float]]]:
        """The month's ranking as text, and (name, hours) for its chart."""
        end = next_month(start)
        month = start.strftime("%Y-%m")
        rows = await self.store.ranking(
            compound.key, start.astimezone(UTC), end.astimezone(UTC), RANKING_SIZE
        )
        if not rows:
            return self.services.text(compound, "community.ranking_empty", month=month), []
        total = await self.store.total_minutes(
            compound.key, start.astimezone(UTC), end.astimezone(UTC)
        )
        shown = set(await self.services.store.people.shown(compound.key, Role.PARTY_MEMBER))
        room = await self.services.store.rooms.by_key(f"{compound.key}:{RANKING_ROOM}")
        people = await self.services.people(
            room.room_id if room else None, [u for u, _ in rows], compound
        )
        names = {p.user_id: p.name for p in people.people}
        text = self.services.text
        lines = [
            text(
                compound,
                "community.ranking_head",
                month=month,
                total=self.hours_text(compound, total),
            )
        ]
        for n, (user, minutes) in enumerate(rows, 1):
            lines.append(
                text(
                    compound,
                    "community.ranking_line",
                    n=n,
                    name=names.get(user, user),
                    party=text(compound, "community.ranking_party") if user in shown else "",
                    hours=self.hours_text(compound, minutes),
                )
            )
        bars = [(names.get(user, user), minutes / 60) for user, minutes in rows]
        return "\n".join(lines), bars

    async def show_ranking(self, ctx: EventContext, compound: Compound) -> None:
        start = month_start(ctx.received_at, self.desk.tz)
        await ctx.reply_text(await self.ranking_text(compound, start), purpose="ranking")

    async def show_totals(self, ctx: EventContext, compound: Compound) -> None:
        """For the street office: each compound of the community, this month and last."""
        start = month_start(ctx.received_at, self.desk.tz)
        last = month_start(start - timedelta(days=1), self.desk.tz)
        community = self.services.rooms.communities.get(compound.config.community or "")
        name = community.name if community is not None else compound.config.name
        lines = [ctx.text("community.totals_head", community=name)]
        for other in sorted(self.services.rooms.compounds.values(), key=lambda c: c.key):
            if other.config.community != compound.config.community:
                continue
            month = await self.store.total_minutes(
                other.key, start.astimezone(UTC), next_month(start).astimezone(UTC)
            )
            before = await self.store.total_minutes(
                other.key, last.astimezone(UTC), start.astimezone(UTC)
            )
            lines.append(
                ctx.text(
                    "community.totals_line",
                    compound=other.config.name,
                    month=self.hours_text(compound, month),
                    last=self.hours_text(compound, before),
                )
            )
        await ctx.reply_text("\n".join(lines), purpose="totals")

    # ------------------------------------------------------------ the monthly ranking

    def _ranking_due(self, month: datetime) -> datetime:
        return next_month(month).replace(hour=RANKING_HOUR)

    async def schedule_rankings(self) -> None:
        """This month's ranking job for every compound (a job done stays done)."""
        start = month_start(self.services.clock.now(), self.desk.tz)
        for key in self.services.rooms.compounds:
            await self._schedule(key, start)

    async def _schedule(self, compound: str, start: datetime) -> None:
        month = start.strftime("%Y-%m")
        await self.services.scheduler.schedule_kind(
            f"community:ranking:{compound}:{month}",
            RANKING,
            self._ranking_due(start),
            Ranking(compound=compound, month=month),
        )

    async def _chart(
        self,
        room_id: str,
        compound: Compound,
        bars: list[tuple[str, float]],
        month: str,
        key: str,
    ) -> None:
        title = self.services.text(compound, "community.chart_title", month=month)
        unit = self.services.text(compound, "community.chart_unit")
        # Drawing takes a while: in a thread, so no room's events wait for it.
        png = await asyncio.to_thread(ranking_chart_png, bars, title, unit)
        uri = await self.services.client.upload(png, "image/png", f"volunteers-{month}.png")
        if uri is None:
            return  # no media repository on this homeserver: the text stands alone
        content = messages.file_message(
            uri, f"{title}.png", "image/png", len(png), msgtype="m.image"
        )
        await self.services.client.send(room_id, content, derived_txn_id(f"job:{key}", "chart"))

    async def _post_ranking(self, job: Job, payload: Ranking) -> None:
        compound = self.services.rooms.compounds.get(payload.compound)
        if compound is None:
            return
        year, month = (int(p) for p in payload.month.split("-"))
        start = datetime(year, month, 1, tzinfo=self.desk.tz)
        room = await self.services.store.rooms.by_key(f"{compound.key}:{RANKING_ROOM}")
        if room is not None:
            body, bars = await self.ranking(compound, start)
            client = self.services.client
            await client.send(
                room.room_id, messages.notice(body), derived_txn_id(f"job:{job.key}", "ranking")
            )
            if bars:
                await self._chart(room.room_id, compound, bars, payload.month, job.key)
        await self._schedule(compound.key, next_month(start))
