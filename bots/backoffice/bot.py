"""The back office's views (bridge/dashboard serves the page and signs people in).

Property staff (and the committees, who may run the same `!工单` commands) see the open
tickets of the compounds where they hold those roles, a ticket's history, and act on it: each
button runs the `!工单 …` command it stands for, through the tickets bot's own handler
(bridge/dashboard/actions.py), so the rules, the change once per cause and the words residents
read in the thread are the command's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web
from aiohttp.web import AbstractRouteDef

from bots.backoffice.notices_view import NoticeReach
from bots.backoffice.proposals_view import Proposals
from bots.backoffice.queue import queue_order, row, thread_link
from bots.backoffice.street_view import StreetOffice
from bots.backoffice.votes_view import Votes
from bots.tickets.bot import TICKET_STAFF, TicketBot
from bots.tickets.store import OPEN_STATES, TicketRecord
from bridge.bot import Bot, Services
from bridge.commands import USER_ID_TOKEN
from bridge.dashboard.actions import Click, cause_of, command_roles, perform, register_clicks
from bridge.dashboard.server import ApiError, Dashboard, DashboardViews, json_body
from bridge.dashboard.sessions import Session
from bridge.rooms_config import Compound

# Button → the command it stands for, and the body keys it takes (with their limits).
ACTIONS: dict[str, tuple[str, dict[str, int]]] = {
    "ack": ("ticket ack", {}),
    "claim": ("ticket claim", {}),
    "done": ("ticket done", {"text": 2000}),
    "assign": ("ticket assign", {"user": 255}),
    "pause": ("ticket wait", {"reason": 500}),
    "resume": ("ticket resume", {}),
}
REQUIRED = {"assign": "user", "pause": "reason"}
LISTED = 500  # open tickets per compound on the page


class BackofficeBot(Bot, DashboardViews):
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        register_clicks(services)

    def dashboard_routes(self, dashboard: Dashboard) -> Sequence[AbstractRouteDef]:
        self.dashboard = dashboard
        street = StreetOffice(self.services, dashboard)
        reach = NoticeReach(self.services, dashboard)
        votes = Votes(self.services, dashboard)
        proposals = Proposals(self.services, dashboard)
        return (
            web.get("/api/proposals", proposals.overview),
            web.post(
                "/api/proposals/{compound}/{number:[0-9]{1,9}}/{action:accept|reject}",
                proposals.decide,
            ),
            web.get("/api/votes", votes.overview),
            web.post(
                "/api/votes/{compound}/{number:[0-9]{1,9}}/{action:paper|confirm}", votes.paper
            ),
            web.get("/api/notices", reach.overview),
            web.get("/api/street", street.overview),
            web.get("/api/street/export.{kind:csv|xlsx}", street.export),
            web.get("/api/tickets", self.ticket_queue),
            web.get("/api/tickets/{compound}/{number:[0-9]{1,9}}", self.ticket),
            web.post("/api/tickets/{compound}/{number:[0-9]{1,9}}/{action}", self.ticket_action),
            web.get("/api/verifications", self.verification_queue),
            web.post(
                "/api/verifications/{compound}/{number:[0-9]{1,9}}/{action:approve|refuse}",
                self.decide_verification,
            ),
        )

    @property
    def _tickets(self) -> TicketBot:
        return next(b for b in self.services.bots if isinstance(b, TicketBot))

    # ------------------------------------------------------------ property staff

    async def ticket_queue(self, request: web.Request) -> web.Response:
        session = await self.dashboard.session_of(request)
        now = self.services.clock.now()
        rows: list[dict[str, Any]] = []
        for key in session.compounds_with(TICKET_STAFF):
            compound = self._compound(key)
            tickets = await self._tickets.tickets.listing(
                key, statuses=(*OPEN_STATES, "done"), limit=LISTED
            )
            tickets.sort(key=lambda t: queue_order(t, now))
            for t in tickets:
                rows.append(await self._row(compound, t))
        rows.sort(key=lambda r: (not r["overdue"], not r["urgent"]))  # across compounds too
        return web.json_response({"now": now.isoformat(), "tickets": rows})

    async def ticket(self, request: web.Request) -> web.Response:
        session = await self.dashboard.session_of(request)
        compound, t = await self._find(session, request)
        history = []
        for at, action, actor, detail in await self._tickets.tickets.history(t.id):
            history.append(
                {"at": at.isoformat(), "action": action, "actor": actor, "detail": _shown(detail)}
            )
        now = self.services.clock.now()
        return web.json_response(
            {"now": now.isoformat(), "ticket": await self._row(compound, t), "history": history}
        )

    async def ticket_action(self, request: web.Request) -> web.Response:
        session = await self.dashboard.session_of(request)
        compound, t = await self._find(session, request)
        action = request.match_info["action"]
        if action not in ACTIONS:
            raise ApiError(404, "LINLI_UNKNOWN_ACTION", "dashboard.error.unknown_action")
        command, takes = ACTIONS[action]
        body = await json_body(request)
        request_id = body.get("request_id")
        if not isinstance(request_id, str):
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        args: dict[str, Any] = {"number": t.number}
        for name, limit in takes.items():
            value = body.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
            args[name] = value.strip() or None if isinstance(value, str) else None
        required = REQUIRED.get(action)
        if required is not None and not args.get(required):
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        if action == "assign" and not USER_ID_TOKEN.match(args["user"]):
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        click = Click(
            user_id=session.user_id,
            compound=compound.key,
            cause=cause_of(session.user_id, request_id),
            room_key="five_in_one",
            command=command,
            args=args,
        )
        answers = await perform(self.services, click)
        after = await self._tickets.tickets.by_id(t.id)
        assert after is not None
        return web.json_response({"ticket": await self._row(compound, after), "said": answers})

    # ------------------------------------------------------------ residents' committee

    async def verification_queue(self, request: web.Request) -> web.Response:
        """Newcomers waiting to be verified, in the compounds where the person is on the
        residents' committee (the household they named, and the name they gave: what the
        committee's room shows them too)."""
        session = await self.dashboard.session_of(request)
        rows = []
        for key in session.compounds_with(command_roles(self.services, "verify approve")):
            compound = self._compound(key)
            for record, requested_at in await self.services.store.roster.pending(key):
                rows.append(
                    {
                        "compound": key,
                        "compound_name": compound.config.name,
                        "number": record.id,
                        "household": f"{record.building}-{record.unit}-{record.room}",
                        "name": record.name,
                        "requested_at": _aware(requested_at).isoformat(),
                    }
                )
        now = self.services.clock.now()
        return web.json_response({"now": now.isoformat(), "verifications": rows})

    async def decide_verification(self, request: web.Request) -> web.Response:
        """Approve or refuse: `!认证 同意 N` / `!认证 拒绝 N 理由`, run as the person."""
        session = await self.dashboard.session_of(request)
        key = request.match_info["compound"]
        if not session.roles_in(key) & command_roles(self.services, "verify approve"):
            raise ApiError(403, "LINLI_NOT_YOURS", "dashboard.error.not_yours")
        self._compound(key)  # 404 for a compound no longer in the config
        body = await json_body(request)
        request_id, reason = body.get("request_id"), body.get("reason")
        if not isinstance(request_id, str) or (
            reason is not None and (not isinstance(reason, str) or len(reason) > 500)
        ):
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        number = int(request.match_info["number"])
        args: dict[str, int | str | None] = {"number": number}
        if request.match_info["action"] == "approve":
            command = "verify approve"
        else:
            if not isinstance(reason, str) or not reason.strip():
                raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
            command, args["reason"] = "verify reject", reason.strip()
        click = Click(
            user_id=session.user_id,
            compound=key,
            cause=cause_of(session.user_id, request_id),
            room_key="committee",
            command=command,
            args=args,
        )
        said = await perform(self.services, click)
        record = await self.services.store.roster.verification(key, number)
        assert record is not None
        return web.json_response({"status": record.status, "said": said})

    # ------------------------------------------------------------ finding what is asked

    def _compound(self, key: str) -> Compound:
        compound = self.services.rooms.compounds.get(key)
        if compound is None:
            raise ApiError(404, "LINLI_NOT_FOUND", "dashboard.error.not_found")
        return compound

    async def _find(self, session: Session, request: web.Request) -> tuple[Compound, TicketRecord]:
        key = request.match_info["compound"]
        if not session.roles_in(key) & TICKET_STAFF:
            # Staff of another compound (or an observer): that compound's tickets are not theirs.
            raise ApiError(403, "LINLI_NOT_YOURS", "dashboard.error.not_yours")
        compound = self._compound(key)
        t = await self._tickets.tickets.get(key, int(request.match_info["number"]))
        if t is None:
            raise ApiError(404, "LINLI_NOT_FOUND", "dashboard.error.not_found")
        return compound, t

    async def _row(self, compound: Compound, t: TicketRecord) -> dict[str, Any]:
        services = self.services
        reason = await self._tickets.tickets.waiting_reason(t.id) if t.status == "waiting" else None
        return row(
            t,
            services.clock.now(),
            compound_name=compound.config.name,
            labels={
                "status": services.text(compound, f"tickets.status_{t.status}"),
                "category": services.text(compound, f"categories.{t.category}"),
            },
            link=thread_link(
                t, services.config.join.client_url, services.config.homeserver.server_name
            ),
            waiting_reason=reason,
        )


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _shown(detail: dict[str, Any]) -> dict[str, Any]:
    """What of a log line's detail the page shows (texts, reasons, ratings; never more)."""
    return {k: v for k, v in detail.items() if k in ("text", "reason", "to", "rating", "from")}
