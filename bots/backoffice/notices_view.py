"""Notices' reach in the back office: the compound's latest notices with the households each
reached per building, and the unreached ones (a 楼长's visit list, printable), as `!通知 回执`
counts them (the notices bot's `ReachBook`, nothing counted again here)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bots.notices.bot import NoticeBot
from bots.notices.records import TRACKED
from bridge.bot import Services
from bridge.dashboard.actions import command_roles
from bridge.dashboard.server import Dashboard, iso

SHOWN = 10  # the latest notices of each compound


class NoticeReach:
    def __init__(self, services: Services, dashboard: Dashboard) -> None:
        self.services = services
        self.dashboard = dashboard

    async def overview(self, request: web.Request) -> web.Response:
        """Who may ask `!通知 回执` in a compound sees its notices' reach here."""
        session = await self.dashboard.session_of(request)
        bot = next(b for b in self.services.bots if isinstance(b, NoticeBot))
        rows: list[dict[str, Any]] = []
        for key in session.compounds_with(command_roles(self.services, "notice reach")):
            compound = self.services.rooms.compounds.get(key)
            if compound is None:
                continue
            for notice in await bot.notices.listing(key, limit=SHOWN):
                if notice.status not in TRACKED:
                    continue
                found = await bot.board.reach.reach_of(notice)
                rows.append(
                    {
                        "compound": key,
                        "compound_name": compound.config.name,
                        "number": notice.number,
                        "text": notice.text[:120],
                        "posted_at": iso(notice.posted_at),
                        "households": found.households,
                        "reached": found.reached,
                        "roster": found.roster,
                        "buildings": [
                            {
                                "building": b.building,
                                "households": b.households,
                                "reached": b.reached,
                                "unreached": list(b.unreached),
                            }
                            for b in found.buildings
                        ],
                    }
                )
        return web.json_response({"notices": rows})
