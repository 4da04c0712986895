"""A click in the back office runs the bot command it stands for, through the command's own
handler: the same role check (the declared `roles=`), the same change once per cause, the same
words in the room. Only the cause differs: a back-office request instead of a room event.

The request's cause ID is derived from the person and the page's request ID (one per click,
sent again when the page retries), so a click repeated after a lost answer changes nothing
twice and posts nothing twice (the room messages' transaction IDs are derived from it as from
an event ID). What a command would answer in the room it was typed in ("answered in the
thread") is kept for the page instead. The request stands in the staff room the view names
(the committee's room for a verification): what a command sends there later (a confirmation
once the invitations are out) lands where staff read it.

A click is written down before it is done, as an event is stored in the inbox before it is
handled: a job keyed by its cause, due a little later, cancelled once the command has
answered. Should Linli stop half-way (after the change, before the resident's message) or the
homeserver fail meanwhile, the scheduler runs the same command for the same cause when the job
falls due, and it sends what is missing (the command's own replay rules), whether or not the
page is still open to retry.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from bridge import metrics
from bridge.bot import Bot, EventContext, Services
from bridge.commands import CommandError, CommandSpec, allowed
from bridge.dashboard.server import ApiError
from bridge.events import Message
from bridge.roles import Role
from bridge.rooms_config import Compound
from bridge.scheduler import JobKind
from bridge.store.jobs import Job

log = logging.getLogger(__name__)

# How long a click may take before the scheduler takes it over (a click answered sooner is
# cancelled; one repeated by the page moves it).
TAKE_OVER_AFTER = timedelta(minutes=2)


class Click(BaseModel):
    """A back-office request to run a command, written before it runs."""

    user_id: str
    compound: str
    cause: str
    room_key: str
    command: str
    args: dict[str, int | str | None]


CLICK = JobKind("dashboard.click", Click)

# The page's request ID: a UUID or similar, never anything personal.
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass
class DashboardContext(EventContext):
    """The context of a back-office request, as a bot handler sees an event's."""

    answers: list[str] = field(default_factory=list)

    async def reply_text(self, body: str, *, purpose: str, thread_root: str | None = None) -> str:
        self.answers.append(body)
        return ""


def cause_of(user_id: str, request_id: str) -> str:
    if not REQUEST_ID.fullmatch(request_id):
        raise ApiError(400, "LINLI_BAD_REQUEST", "dashboard.error.bad_request")
    digest = hashlib.sha256(f"{user_id}\0{request_id}".encode()).hexdigest()[:32]
    return f"dashboard:{digest}"


async def context_for(
    services: Services, user_id: str, compound: Compound, cause: str, room_key: str
) -> DashboardContext:
    """The context of a request by `user_id`, standing in the compound's staff room
    `room_key` ("five_in_one", "committee")."""
    table = await services.roles.table(compound)
    room = await services.store.rooms.by_key(f"{compound.key}:{room_key}")
    if room is None:
        raise ApiError(503, "LINLI_UNAVAILABLE", "dashboard.error.unavailable")
    now = services.clock.now()
    event = Message(
        event_id=cause,
        room_id=room.room_id,
        sender=user_id,
        type="m.room.message",
        origin_server_ts=int(now.timestamp() * 1000),
        msgtype="m.text",
        body="",
    )
    return DashboardContext(
        services, event, compound, room_key, table.roles_of(user_id), table, now, fresh=False
    )


def _spec(services: Services, name: str) -> tuple[CommandSpec, Bot]:
    for bot in services.bots:
        for spec in type(bot).commands.specs:
            if spec.name == name:
                return spec, bot
    raise LookupError(f"no command {name!r}")


def command_roles(services: Services, name: str) -> frozenset[Role]:
    """Who may run a command, as it declares: a view shows its buttons to them only."""
    spec, _ = _spec(services, name)
    return spec.roles or frozenset()


async def perform(services: Services, click: Click) -> list[str]:
    """Run a click's command, written down first (see above); what it answered for the page."""
    compound = services.rooms.compounds.get(click.compound)
    if compound is None:
        raise ApiError(404, "LINLI_NOT_FOUND", "dashboard.error.not_found")
    key = f"dashboard:{click.cause}"
    await services.scheduler.schedule_kind(
        key, CLICK, services.clock.now() + TAKE_OVER_AFTER, click
    )
    ctx = await context_for(services, click.user_id, compound, click.cause, click.room_key)
    try:
        said = await run_command(ctx, click.command, **click.args)
    except ApiError:
        await services.scheduler.cancel(key)  # a clear answer: nothing is left to do
        raise
    # The homeserver failing (MatrixError, OSError) leaves the job: the scheduler does the rest.
    await services.scheduler.cancel(key)
    return said


def register_clicks(services: Services) -> None:
    """The scheduler's part: a click that was not seen through is run again, for its cause."""

    async def take_over(job: Job, click: Click) -> None:
        compound = services.rooms.compounds.get(click.compound)
        if compound is None:
            return  # the compound left the config since
        ctx = await context_for(services, click.user_id, compound, click.cause, click.room_key)
        try:
            await run_command(ctx, click.command, **click.args)
        except ApiError as e:
            log.info("dashboard: a click taken over was refused (%s)", e.errcode)

    async def lane(click: Click) -> str:
        return click.compound

    services.scheduler.register_kind(CLICK, take_over, lane=lane)


async def run_command(ctx: DashboardContext, name: str, **args: Any) -> list[str]:
    """Run the command `name` (its English name, e.g. "ticket claim") as the person of `ctx`;
    what it would have answered in the room, or ApiError with the command's own words."""
    spec, bot = _spec(ctx.services, name)
    if not allowed(spec, ctx.roles):
        assert spec.roles is not None
        metrics.observe_command(spec.name, "denied")
        raise ApiError(
            403, "LINLI_NOT_ALLOWED", "error.not_allowed", roles=ctx.role_names(spec.roles)
        )
    try:
        await spec.handler(bot, ctx, **args)
    except CommandError as e:
        metrics.observe_command(spec.name, "refused")
        raise ApiError(409, "LINLI_REFUSED", e.key, **e.args_) from None
    metrics.observe_command(spec.name, "ok")
    return ctx.answers
