"""Proposals in the back office (the residents' committee): the compound's latest proposals
and the stage each is at (待受理, 讨论中 until…, 表决中, 已通过, 未通过, 已驳回 with the reason),
accepted with a discussion period or rejected with a reason through the votes bot's own
`!提案 受理` / `!提案 驳回` handlers, standing in the compound's committee room."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bots.votes.bot import VoteBot
from bridge.bot import Services
from bridge.dashboard.actions import Click, cause_of, command_roles, perform
from bridge.dashboard.server import ApiError, Dashboard, iso, json_body

SHOWN = 20  # proposals of each compound on the page
ACTIONS: dict[str, tuple[str, str, int, bool]] = {
    # button → (command, its argument, the argument's limit, required)
    "accept": ("propose accept", "period", 16, False),
    "reject": ("propose reject", "reason", 500, True),
}


class Proposals:
    def __init__(self, services: Services, dashboard: Dashboard) -> None:
        self.services = services
        self.dashboard = dashboard

    @property
    def _bot(self) -> VoteBot:
        return next(b for b in self.services.bots if isinstance(b, VoteBot))

    async def overview(self, request: web.Request) -> web.Response:
        """Who may accept proposals in a compound sees its proposals here."""
        session = await self.dashboard.session_of(request)
        store = self._bot.proposals.store
        rows: list[dict[str, Any]] = []
        for key in session.compounds_with(command_roles(self.services, "propose accept")):
            compound = self.services.rooms.compounds.get(key)
            if compound is None:
                continue
            proposals = await store.latest(key, SHOWN)
            proposers = [p.proposer for p in proposals if p.proposer is not None]
            named = await self.services.people(None, proposers)
            names = {x.user_id: x.name for x in named.people}
            for p in proposals:
                who = names.get(p.proposer) if p.proposer is not None else None
                rows.append(
                    {
                        "compound": key,
                        "compound_name": compound.config.name,
                        "number": p.number,
                        "text": p.text,
                        "status": p.status,
                        "proposer": who,
                        "created_at": iso(p.created_at),
                        "discussion_until": iso(p.discussion_until),
                        "reason": p.reason,
                    }
                )
        return web.json_response({"proposals": rows})

    async def decide(self, request: web.Request) -> web.Response:
        session = await self.dashboard.session_of(request)
        key = request.match_info["compound"]
        if not session.roles_in(key):
            raise ApiError(403, "LINLI_NOT_ALLOWED_HERE", "dashboard.error.not_yours")
        command, name, limit, required = ACTIONS[request.match_info["action"]]
        body = await json_body(request)
        request_id, value = body.get("request_id"), body.get(name)
        if not isinstance(request_id, str):  # its form is checked by cause_of
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        value = value.strip() if isinstance(value, str) and value.strip() else None
        if required and value is None:
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        click = Click(
            user_id=session.user_id,
            compound=key,
            cause=cause_of(session.user_id, request_id),
            room_key="committee",
            command=command,
            args={"number": int(request.match_info["number"]), name: value},
        )
        return web.json_response({"said": await perform(self.services, click)})
