"""Votes in the back office: the compound's open and latest closed polls with their turnout
(who took part, never what anyone chose: by household, and for an owners' vote by owners'
heads and floor area, as `!表决 进度` says it), the result once closed, and paper ballots entered
and confirmed by a second committee member (监票人) — each through the votes bot's own
`!表决 纸质` / `!表决 确认` handlers, standing in the compound's 五位一体联络群."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bots.backoffice.queue import event_link
from bots.votes.bot import VoteBot
from bots.votes.paper_desk import paper_refusal
from bots.votes.records import PollRecord
from bots.votes.results import result_text, rule_text
from bridge.bot import Services
from bridge.dashboard.actions import Click, cause_of, command_roles, perform
from bridge.dashboard.server import ApiError, Dashboard, iso, json_body

SHOWN = 10  # polls of each compound on the page
# Button → the command it stands for and the body keys it takes (with their limits).
PAPER_ACTIONS: dict[str, tuple[str, dict[str, int]]] = {
    "paper": ("vote paper", {"household": 32, "choice": 64}),
    "confirm": ("vote paper confirm", {"batch": 32}),
}


class Votes:
    def __init__(self, services: Services, dashboard: Dashboard) -> None:
        self.services = services
        self.dashboard = dashboard

    @property
    def _bot(self) -> VoteBot:
        return next(b for b in self.services.bots if isinstance(b, VoteBot))

    async def overview(self, request: web.Request) -> web.Response:
        """Who may ask `!表决 进度` in a compound sees its polls here; who may enter paper
        ballots there is offered the form."""
        session = await self.dashboard.session_of(request)
        paper_roles = command_roles(self.services, "vote paper")
        rows: list[dict[str, Any]] = []
        for key in session.compounds_with(command_roles(self.services, "vote turnout")):
            compound = self.services.rooms.compounds.get(key)
            if compound is None:
                continue

            def text(name: str, _compound: Any = compound, **args: Any) -> str:
                return self.services.text(_compound, name, **args)

            for poll in await self._bot.votes.latest(key, SHOWN):
                rows.append(
                    {
                        "compound": key,
                        "compound_name": compound.config.name,
                        **_poll_fields(poll),
                        "turnout": await self._bot.turnout.turnout_text(poll, text),
                        "rule": rule_text(text, poll.rule) if poll.rule is not None else None,
                        "result": result_text(text, poll) if poll.result is not None else None,
                        "audit": await self._audit_link(poll),
                        "may_enter_paper": poll.is_open
                        and bool(session.roles_in(key) & paper_roles)
                        and paper_refusal(poll, session.roles_in(key)) is None,
                    }
                )
        return web.json_response({"polls": rows})

    async def _audit_link(self, poll: PollRecord) -> str | None:
        """Where the closed vote's audit file (posted in the hall with its SHA-256) opens."""
        if poll.is_open:
            return None
        event_id = await self._bot.votes.posted(poll.id, "audit")
        if event_id is None:
            return None
        config = self.services.config
        return event_link(
            poll.room_id, event_id, config.join.client_url, config.homeserver.server_name
        )

    async def paper(self, request: web.Request) -> web.Response:
        """A paper ballot entered, or a batch confirmed: the command's own handler and words."""
        session = await self.dashboard.session_of(request)
        key = request.match_info["compound"]
        number = int(request.match_info["number"])
        action = request.match_info["action"]
        command, takes = PAPER_ACTIONS[action]
        if not session.roles_in(key):
            raise ApiError(403, "LINLI_NOT_ALLOWED_HERE", "dashboard.error.not_yours")
        # Which roles may: the command's own check (run_command), in the command's words.
        body = await json_body(request)
        request_id = body.get("request_id")
        if not isinstance(request_id, str):  # its form is checked by cause_of
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        args: dict[str, Any] = {"number": number}
        for name, limit in takes.items():
            value = body.get(name)
            if not isinstance(value, str) or not value.strip() or len(value) > limit:
                raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
            args[name] = value.strip()
        click = Click(
            user_id=session.user_id,
            compound=key,
            cause=cause_of(session.user_id, request_id),
            room_key="five_in_one",
            command=command,
            args=args,
        )
        return web.json_response({"said": await perform(self.services, click)})


def _poll_fields(poll: PollRecord) -> dict[str, Any]:
    return {
        "number": poll.number,
        "question": poll.question,
        "kind": poll.kind,
        "eligibility": poll.eligibility,
        "secret": poll.secret,
        "status": poll.status,
        "opened_at": iso(poll.opened_at),
        "closes_at": iso(poll.closes_at),
        "closed_at": iso(poll.closed_at),
        "options": [o["text"] for o in poll.options],
    }
