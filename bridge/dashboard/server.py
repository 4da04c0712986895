"""HTTP in for the back office: the page, its files, the OpenID exchange and the bots' views.

Mounted on the appservice listener under `/linli/dashboard/` (the operator's proxy exposes
it to staff's browsers). Sign-in is the Matrix way (docs/architecture.md, "The back office"):
the page gets an OpenID token from the person's client (the widget API's `get_openid`, or the
client-server API on a phone), POSTs it here, Linli asks the configured homeserver whose it
is and answers with a bearer session of its own. No cookies (so no CSRF), every answer with a
strict Content-Security-Policy, nothing personal in a URL or a log line. Who may see what
comes from the role table only, asked again at every request: a session ends when the
person's roles change.

A bot adds views by being a `DashboardViews` too (its `dashboard_routes(dashboard)`); each
route calls `dashboard.session_of(request)` first.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.dashboard.openid import OpenIdRefused, OpenIdUnavailable, OpenIdVerifier
from bridge.dashboard.sessions import RateLimit, RoleSnapshot, Session, Sessions
from bridge.matrix_errors import MatrixError
from bridge.roles import STAFF_ROLES, Role

if TYPE_CHECKING:
    from bridge.bot import Bot, Services

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# The files the page is made of (nothing else under static/ is served).
FILES = {
    "app.js": "text/javascript",
    "queue.js": "text/javascript",
    "office.js": "text/javascript",
    "reach.js": "text/javascript",
    "votes.js": "text/javascript",
    "proposals.js": "text/javascript",
    "app.css": "text/css",
    "matrix-widget-api.min.js": "text/javascript",
}
# Who may sign in at all: staff of a compound, and the street office (observers).
BACK_OFFICE_ROLES: frozenset[Role] = STAFF_ROLES | {Role.OBSERVER}
MAX_BODY = 16 * 1024


class DashboardViews(ABC):
    """A bot with views in the back office."""

    @abstractmethod
    def dashboard_routes(self, dashboard: Dashboard) -> Sequence[web.AbstractRouteDef]:
        """Its routes, under /linli/dashboard/ (paths start with /api/)."""


class ApiError(Exception):
    """A refusal the page shows: HTTP status, a code for the page, a message key."""

    def __init__(self, status: int, errcode: str, key: str, **args: Any) -> None:
        super().__init__(errcode)
        self.status = status
        self.errcode = errcode
        self.key = key
        self.args_ = args


class Dashboard:
    def __init__(self, services: Services, bots: Sequence[Bot]) -> None:
        self.services = services
        config = services.config
        self.settings = config.dashboard
        self.verifier = OpenIdVerifier(config.homeserver.url, config.homeserver.server_name)
        self.sessions = Sessions(services.clock, timedelta(minutes=self.settings.session_minutes))
        self.exchanges = RateLimit(services.clock, self.settings.exchanges_per_minute)
        hs_public = (self.settings.homeserver_public_url or config.homeserver.url).rstrip("/")
        self.homeserver_public_url = hs_public
        self.csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {hs_public}; frame-ancestors *; base-uri 'none'; "
            "form-action 'none'"
        )
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[self._answers])
        self.app.router.add_get("/", self.page)
        self.app.router.add_get("/static/{name}", self.static)
        self.app.router.add_get("/api/config", self.page_config)
        self.app.router.add_post("/api/session", self.exchange)
        self.app.router.add_delete("/api/session", self.sign_out)
        self.app.router.add_get("/api/me", self.me)
        for bot in bots:
            if isinstance(bot, DashboardViews):
                self.app.router.add_routes(bot.dashboard_routes(self))

    # ------------------------------------------------------------ what every answer carries

    @web.middleware
    async def _answers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except ApiError as e:
            response = web.json_response(
                {"errcode": e.errcode, "error": self.text(request, e.key, **e.args_)},
                status=e.status,
            )
        except (MatrixError, OSError, TimeoutError) as e:
            # The homeserver or the network: a click written down is finished by the scheduler.
            log.warning("dashboard: %s failed (%s)", request.path, type(e).__name__)
            response = web.json_response(
                {
                    "errcode": "LINLI_UNAVAILABLE",
                    "error": self.text(request, "dashboard.error.unavailable"),
                },
                status=503,
            )
        except web.HTTPException as e:
            response = web.json_response(
                {"errcode": "LINLI_HTTP", "error": e.reason}, status=e.status
            )
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def locale(self, request: web.Request) -> str:
        """The page's language: the compound's, which the page names once signed in (not the
        browser's: a compound's staff read its language), else Linli's."""
        wanted = request.query.get("lang") or request.headers.get("X-Linli-Locale", "")
        if wanted in self.services.catalogue.messages:
            return wanted
        return self.services.config.locale

    def text(self, request: web.Request, key: str, **args: Any) -> str:
        return self.services.catalogue.text(self.locale(request), key, **args)

    # ------------------------------------------------------------ the page

    async def page(self, request: web.Request) -> web.Response:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in FILES:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": "max-age=300"}
        return web.Response(
            body=(STATIC / name).read_bytes(), content_type=FILES[name], headers=headers
        )

    async def page_config(self, request: web.Request) -> web.Response:
        """What the page needs before sign-in: the homeserver a phone logs in to, its texts."""
        locale = self.locale(request)
        prefix = "dashboard.page."
        table = self.services.catalogue.messages
        texts = {
            k[len(prefix) :]: self.services.catalogue.text(locale, k)
            for k in table.get("zh", {})
            if k.startswith(prefix)
        }
        return web.json_response(
            {
                "homeserver": self.homeserver_public_url,
                "server_name": self.services.config.homeserver.server_name,
                "texts": texts,
            }
        )

    # ------------------------------------------------------------ sign-in

    async def exchange(self, request: web.Request) -> web.Response:
        """An OpenID token for a session of Linli's (a widget host's `get_openid` answer, or
        the client-server API's `/openid/request_token`)."""
        if not self.exchanges.allow(request.remote or "?"):
            raise ApiError(429, "LINLI_RATE_LIMITED", "dashboard.error.rate_limited")
        body = await json_body(request)
        token = body.get("access_token")
        server = body.get("matrix_server_name")
        if not isinstance(token, str) or (server is not None and not isinstance(server, str)):
            raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
        try:
            user_id = await self.verifier.user_of(token, server)
        except OpenIdRefused as e:
            log.info("dashboard: refused an OpenID token (%s)", e)
            raise ApiError(401, "LINLI_BAD_TOKEN", "dashboard.error.bad_token") from None
        except OpenIdUnavailable as e:
            log.warning("dashboard: the homeserver did not check a token (%s)", e)
            raise ApiError(503, "LINLI_UNAVAILABLE", "dashboard.error.unavailable") from None
        roles = await self.roles_of(user_id)
        if not any(role in BACK_OFFICE_ROLES for _, role in roles):
            raise ApiError(403, "LINLI_NOT_STAFF", "dashboard.error.not_staff")
        secret, session = self.sessions.issue(user_id, roles)
        lasts = session.expires_at - self.services.clock.now()
        log.info("dashboard: a session began (%d compounds)", len({c for c, _ in roles}))
        return web.json_response(
            {
                "token": secret,
                "expires_in": int(lasts.total_seconds()),
                "user_id": user_id,
            }
        )

    async def sign_out(self, request: web.Request) -> web.Response:
        token = _bearer(request)
        if token is not None:
            self.sessions.end(token)
        return web.json_response({})

    async def me(self, request: web.Request) -> web.Response:
        session = await self.session_of(request)
        compounds: dict[str, Any] = {}
        for key in sorted({c for c, _ in session.roles}):
            compound = self.services.rooms.compounds.get(key)
            compounds[key] = {
                "name": compound.config.name if compound else key,
                "locale": compound.locale if compound else self.services.config.locale,
                "roles": sorted(r.value for r in session.roles_in(key)),
            }
        name = (await self.services.people(None, [session.user_id])).people[0].name
        return web.json_response({"user_id": session.user_id, "name": name, "compounds": compounds})

    # ------------------------------------------------------------ for the views

    async def roles_of(self, user_id: str) -> RoleSnapshot:
        """The person's roles in every compound, from the role table."""
        found: set[tuple[str, Role]] = set()
        for key, compound in self.services.rooms.compounds.items():
            table = await self.services.roles.table(compound)
            found |= {(key, role) for role in table.roles_of(user_id)}
        return frozenset(found)

    async def session_of(self, request: web.Request) -> Session:
        """The request's live session; 401 when there is none, or the person's roles changed
        since it began (the page signs in again and sees what they may see now)."""
        token = _bearer(request)
        session = self.sessions.find(token) if token is not None else None
        if token is None or session is None:
            raise ApiError(401, "LINLI_NO_SESSION", "dashboard.error.no_session")
        if await self.roles_of(session.user_id) != session.roles:
            self.sessions.end(token)
            log.info("dashboard: a session ended (roles changed)")
            raise ApiError(401, "LINLI_ROLES_CHANGED", "dashboard.error.roles_changed")
        return session

    async def close(self) -> None:
        await self.verifier.close()


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer ") :] if header.startswith("Bearer ") else None


async def json_body(request: web.Request) -> dict[str, Any]:
    """A JSON object body, or 400."""
    try:
        body = json.loads(await request.read())
    except (ValueError, web.HTTPRequestEntityTooLarge):
        raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request") from None
    if not isinstance(body, dict):
        raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
    return body


def iso(when: datetime | None) -> str | None:
    """A time for the page: ISO 8601 with its offset (a naive one read back from SQLite is
    UTC)."""
    if when is None:
        return None
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).isoformat()
