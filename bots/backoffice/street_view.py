"""The street office's view (observers): every compound it observes side by side for a chosen
period, the chart, and the CSV and XLSX exports for the reports it files."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

from aiohttp import web

from bots.backoffice.street import (
    COLUMNS,
    CompoundFigures,
    figures,
    minutes,
    table_rows,
    to_csv,
    to_xlsx,
)
from bots.backoffice.street_chart import rates_svg
from bots.tickets.bot import TicketBot
from bots.tickets.categories import Category
from bots.tickets.stats import rank_staff
from bridge.bot import Services
from bridge.dashboard.server import ApiError, Dashboard
from bridge.dashboard.sessions import Session
from bridge.roles import Role

PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365}  # days
RANKED = 20  # staff in the ranking


class StreetOffice:
    def __init__(self, services: Services, dashboard: Dashboard) -> None:
        self.services = services
        self.dashboard = dashboard

    def _tickets(self) -> TicketBot:
        return next(b for b in self.services.bots if isinstance(b, TicketBot))

    async def _figures(self, request: web.Request) -> tuple[Session, int, list[CompoundFigures]]:
        session = await self.dashboard.session_of(request)
        days = PERIODS.get(request.query.get("days", "30"))
        if days is None:
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        until = self.services.clock.now()
        since = until - timedelta(days=days)
        compounds = {
            key: c
            for key in session.compounds_with(frozenset({Role.OBSERVER}))
            if (c := self.services.rooms.compounds.get(key)) is not None
        }
        found = await self._tickets().tickets.facts_since(compounds, since)
        # Pure arithmetic over many rows: off the event loop, so residents' events go on.
        rows = await asyncio.to_thread(
            lambda: [
                figures(key, c.config.name, found[key], since, until)
                for key, c in compounds.items()
            ]
        )
        return session, days, rows

    def _words(self, request: web.Request) -> tuple[list[str], dict[str, str]]:
        locale = self.dashboard.locale(request)
        text = self.services.catalogue.text
        headers = [text(locale, f"backoffice.street.{c}") for c in COLUMNS]
        categories = {c.value: text(locale, f"categories.{c.value}") for c in Category}
        return headers, categories

    async def overview(self, request: web.Request) -> web.Response:
        _, days, rows = await self._figures(request)
        headers, categories = self._words(request)
        locale = self.dashboard.locale(request)
        text = self.services.catalogue.text
        labels = [text(locale, f"backoffice.street.{c}") for c in COLUMNS[2:5]]
        title = text(locale, "backoffice.street.chart_title", days=days)
        # Drawing takes a moment per compound: off the event loop, as the weekly chart is.
        svg = await asyncio.to_thread(rates_svg, rows, labels, title)
        return web.json_response(
            {
                "days": days,
                "headers": headers,
                "rows": table_rows(rows, categories),
                "chart": "data:image/svg+xml;base64," + base64.b64encode(svg).decode(),
                "ranking": await self._ranking(rows),
            }
        )

    async def _ranking(self, rows: list[CompoundFigures]) -> list[dict[str, Any]]:
        """The staff of every compound observed, best first, as the tickets bot's weekly
        ranking orders them (more SLA met, quicker first answer, more handled): the ranking
        the street office posts, for the chosen period."""
        names = {r.compound: r.name for r in rows}
        ranked = rank_staff(((r.compound, user), s) for r in rows for user, s in r.staff.items())
        ranked = ranked[:RANKED]
        people = await self.services.people(None, [user for (_, user), _ in ranked])
        shown = {p.user_id: p.name for p in people.people}
        return [
            {
                "rank": i,
                "name": shown.get(user, user),
                "compound": names[compound],
                "handled": s.handled,
                "sla_met": None if s.sla_met_pct is None else round(s.sla_met_pct, 1),
                "median_first_minutes": minutes(s.median_first_response),
                "satisfaction": None if s.satisfaction is None else round(s.satisfaction, 1),
            }
            for i, ((compound, user), s) in enumerate(ranked, start=1)
        ]

    async def export(self, request: web.Request) -> web.Response:
        _, days, rows = await self._figures(request)
        headers, categories = self._words(request)
        table = table_rows(rows, categories)
        kind = request.match_info["kind"]
        name = f"linli-street-{days}d.{kind}"
        if kind == "csv":
            body, content_type = to_csv(headers, table), "text/csv; charset=utf-8"
        else:
            title = self.services.catalogue.text(
                self.dashboard.locale(request), "backoffice.street.sheet", days=days
            )
            body = await asyncio.to_thread(to_xlsx, title, headers, table)
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return web.Response(
            body=body,
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )
