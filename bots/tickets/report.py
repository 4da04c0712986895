"""Ticket figures for people: `!工单 统计` and the weekly report (ranking, hot issues, a chart)
posted to the five-in-one room on each compound's schedule."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bots.tickets.jobs import WEEKLY, WeeklyReport
from bots.tickets.report_chart import ChartWords, daily_counts, weekly_chart_png
from bots.tickets.settings import WEEKDAYS, TicketSettings
from bots.tickets.stats import (
    StaffSummary,
    Summary,
    TicketFacts,
    format_duration_en,
    format_duration_zh,
    hot_issues,
    ranking,
    summarize,
)
from bots.tickets.store import TicketRecord, TicketStore
from bridge import messages
from bridge.bot import EventContext, Services
from bridge.matrix import derived_txn_id
from bridge.provision.desired import room_key
from bridge.rooms_config import Compound
from bridge.store.jobs import Job

if TYPE_CHECKING:
    from bots.tickets.ticket_clock import TicketClock


def facts(ticket: TicketRecord) -> TicketFacts:
    return TicketFacts(
        number=ticket.number,
        category=ticket.category,
        building=ticket.building,
        urgent=ticket.urgent,
        opened_at=ticket.opened_at,
        first_response_due=ticket.first_response_due,
        resolution_due=ticket.resolution_due,
        first_response_at=ticket.first_response_at,
        first_responder=ticket.first_responder,
        done_at=ticket.done_at,
        done_by=ticket.done_by,
        assignee=ticket.assignee,
        closed_at=ticket.closed_at,
        rating=ticket.rating,
    )


def report_period(at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The week a report posted at `at` covers: the seven whole local days before the day it is
    posted. The figures and the chart both count this period, and the title names it, so a
    ticket opened on the report's morning is in next week's report, in text and chart alike."""
    until = datetime.combine(at.astimezone(tz).date(), time(0), tz)
    return until - timedelta(days=7), until


def next_report_time(settings: TicketSettings, after: datetime, tz: ZoneInfo) -> datetime | None:
    """The first report time strictly after `after`, in the compound's week."""
    schedule = settings.weekly_report
    if schedule is None:
        return None
    local = after.astimezone(tz)
    days_ahead = (WEEKDAYS[schedule.weekday] - local.weekday()) % 7
    candidate = datetime.combine(local.date() + timedelta(days=days_ahead), schedule.at, tz)
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate


class TicketReport:
    def __init__(self, services: Services, tickets: TicketStore, clock: TicketClock) -> None:
        self.services = services
        self.tickets = tickets
        self.clock = clock
        services.scheduler.register_kind(WEEKLY, self._weekly, lane=_compound_lane)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    def _duration(self, locale: str, value: timedelta | None) -> str:
        return format_duration_zh(value) if locale == "zh" else format_duration_en(value)

    def _pct(self, compound_locale: str, value: float | None) -> str:
        if value is None:
            return self.services.catalogue.text(compound_locale, "tickets.none")
        return self.services.catalogue.text(compound_locale, "tickets.pct", value=value)

    def _figures(self, locale: str, s: Summary | StaffSummary) -> dict[str, Any]:
        none = self.services.catalogue.text(locale, "tickets.none")
        return {
            "fr_median": self._duration(locale, s.median_first_response),
            "fr_p90": self._duration(locale, s.p90_first_response),
            "res_median": self._duration(locale, s.median_resolution),
            "res_p90": self._duration(locale, s.p90_resolution),
            "sla": self._pct(locale, s.sla_met_pct),
            "satisfaction": f"{s.satisfaction:.1f}" if s.satisfaction is not None else none,
        }

    async def _summary(self, compound: Compound, since: datetime, until: datetime) -> Summary:
        tickets = await self.tickets.since(compound.key, since)
        return summarize([facts(t) for t in tickets], since, until)

    async def _name(self, user: str) -> str:
        """Staff by the name people know them by (their profile's), not their Matrix ID."""
        return str((await self.services.people(None, [user])).people[0])

    async def stats_text(self, ctx: EventContext, compound: Compound, period: timedelta) -> str:
        until = self.services.clock.now()
        summary = await self._summary(compound, until - period, until)
        locale = compound.locale
        lines = [
            ctx.text(
                "tickets.stats",
                compound=compound.config.name,
                days=period.days,
                opened=summary.opened,
                closed=summary.closed,
                **self._figures(locale, summary),
            )
        ]
        for user, staff in ranking(summary):
            lines.append(
                ctx.text(
                    "tickets.stats_staff",
                    who=await self._name(user),
                    handled=staff.handled,
                    **self._figures(locale, staff),
                )
            )
        return "\n".join(lines)

    # ------------------------------------------------------------ weekly

    async def schedule_all(self) -> None:
        now = self.services.clock.now()
        for compound in self.services.rooms.compounds.values():
            settings = compound.section("tickets", TicketSettings)
            when = next_report_time(settings, now, self.tz) if settings.enabled else None
            if when is not None:
                await self._schedule(compound, when)

    async def _schedule(self, compound: Compound, when: datetime) -> None:
        await self.services.scheduler.schedule_kind(
            f"tickets:weekly:{compound.key}:{when.date().isoformat()}",
            WEEKLY,
            when,
            WeeklyReport(compound=compound.key, at=when),
        )

    async def _weekly(self, job: Job, payload: WeeklyReport) -> None:
        compound = self.services.rooms.compounds.get(payload.compound)
        if compound is None:
            return
        settings = compound.section("tickets", TicketSettings)
        since, until = report_period(payload.at, self.tz)
        if settings.weekly_report is not None:
            # Next week's first: a failure below retries this job, never drops the series.
            following = next_report_time(settings, payload.at, self.tz)
            if following is not None:
                await self._schedule(compound, following)
            record = await self.services.store.rooms.by_key(
                room_key(compound.key, settings.weekly_report.room)
            )
            if record is not None:
                await self._post_weekly(job, compound, record.room_id, since, until)

    async def _post_weekly(
        self, job: Job, compound: Compound, room_id: str, since: datetime, until: datetime
    ) -> None:
        locale = compound.locale
        text = self.services.catalogue.text
        tickets = [facts(t) for t in await self.tickets.since(compound.key, since)]
        summary = summarize(tickets, since, until)
        start, end = (
            since.astimezone(self.tz).date(),
            (until - timedelta(days=1)).astimezone(self.tz).date(),
        )
        lines = [text(locale, "tickets.weekly_title", start=start.isoformat(), end=end.isoformat())]
        if summary.opened == 0 and summary.closed == 0:
            lines.append(text(locale, "tickets.weekly_none"))
        else:
            lines.append(
                text(
                    locale,
                    "tickets.stats",
                    compound=compound.config.name,
                    days=7,
                    opened=summary.opened,
                    closed=summary.closed,
                    **self._figures(locale, summary),
                )
            )
            ranked = ranking(summary)
            if ranked:
                lines.append(text(locale, "tickets.weekly_ranking"))
                for rank, (user, staff) in enumerate(ranked, start=1):
                    lines.append(
                        text(
                            locale,
                            "tickets.weekly_rank_line",
                            rank=rank,
                            who=await self._name(user),
                            handled=staff.handled,
                            **self._figures(locale, staff),
                        )
                    )
            hot = hot_issues(tickets, since, until)
            sep = text(locale, "roles.separator")
            if hot.categories:
                items = sep.join(
                    f"{text(locale, f'categories.{c}')} {n}" for c, n in hot.categories
                )
                lines.append(text(locale, "tickets.weekly_hot", items=items))
            if hot.places:
                items = sep.join(
                    f"{text(locale, 'tickets.place', building=b).strip()} {n}"
                    for b, n in hot.places
                )
                lines.append(text(locale, "tickets.weekly_places", items=items))
        body = "\n".join(lines)
        await self.services.client.send(
            room_id, messages.notice(body), derived_txn_id(f"job:{job.key}", "text")
        )
        await self._post_chart(job, compound, room_id, tickets, start, lines[0])

    async def _post_chart(
        self,
        job: Job,
        compound: Compound,
        room_id: str,
        tickets: list[TicketFacts],
        start: date,
        title: str,
    ) -> None:
        text = self.services.catalogue.text
        locale = compound.locale
        words = ChartWords(
            opened=text(locale, "tickets.chart_opened"),
            closed=text(locale, "tickets.chart_closed"),
            tickets=text(locale, "tickets.chart_tickets"),
            weekdays=tuple(text(locale, "tickets.chart_weekdays").split()),
        )
        # Drawing takes a while: in a thread, so no room's events wait for it.
        png = await asyncio.to_thread(
            weekly_chart_png, daily_counts(tickets, start, 7, self.tz), title, words
        )
        uri = await self.services.client.upload(png, "image/png", f"tickets-{start}.png")
        if uri is None:
            return  # no media repository on this homeserver: the text above stands alone
        content = messages.file_message(
            uri, f"{title}.png", "image/png", len(png), msgtype="m.image"
        )
        await self.services.client.send(room_id, content, derived_txn_id(f"job:{job.key}", "chart"))


async def _compound_lane(payload: WeeklyReport) -> str:
    return payload.compound
