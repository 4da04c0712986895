"""The community bot: activities residents sign up for (接龙), with a live list edited in
place, a waiting list that moves up, a reminder, check-in and volunteer hours.

This file is the table of contents: what residents and staff can do, who may, and with which
words. What each thing does to an activity is in `activities.py`, hours and the monthly
ranking in `hours.py`; pure rules (reading `!活动`, places, list lines) in `rules.py`; the
tables in `models.py` and the `*_store.py` files; jobs in `jobs.py`; the words in `texts/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from bots.community import demo, rules
from bots.community.activities import ActivityDesk
from bots.community.hours import HoursDesk
from bots.community.rules import PARTICIPANT, VOLUNTEER, ActivityInputError, Kind
from bots.community.settings import CommunitySettings, settings_for
from bots.community.store import ActivityRecord
from bridge.bot import Bot, EventContext, Services
from bridge.commands import USER_ID_TOKEN, Arg, ArgKind, CommandError, CommandTable, printable
from bridge.events import Message, OtherEvent, Reaction
from bridge.roles import RESIDENT_ROLES, STAFF_ROLES, Role
from bridge.rooms_config import Compound

NUMBER = Arg("number", ArgKind.INT)
# Who may post activities and sign up: verified residents and staff (observers only read).
MEMBERS = RESIDENT_ROLES | STAFF_ROLES
# How long a live list waits for more sign-ups before it is edited: a burst of taps becomes
# one edit, and the list is current this long after the last (the issue asks for ~2 s).
LIST_EDIT_DELAY = timedelta(seconds=1)
VOLUNTEER_WORDS = frozenset({"志愿", "志愿者", "volunteer", "v"})


class CommunityBot(Bot):
    commands: ClassVar[CommandTable] = CommandTable()
    config_sections: ClassVar[dict[str, type[BaseModel]]] = {"community_life": CommunitySettings}
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.desk = ActivityDesk(services, LIST_EDIT_DELAY)
        self.hours = HoursDesk(services, self.desk)

    async def seed_demo(self, passwords: Mapping[str, str]) -> None:
        await demo.seed(self, passwords)

    async def on_start(self) -> None:
        await self.desk.catch_up()
        await self.hours.schedule_rankings()

    # ------------------------------------------------------------ one tap

    async def on_reaction(self, ctx: EventContext, reaction: Reaction) -> None:
        """🙋 under an activity signs up (🙌 volunteers); nothing else is read."""
        kind = rules.reaction_kind(reaction.key)
        if kind is None or not ctx.roles & MEMBERS:
            return
        activity = await self.desk.activities.by_post(reaction.relates_to_event)
        if activity is None or activity.status != "open" or ctx.received_at >= activity.deadline:
            return  # a late tap: the card says sign-up is closed
        if kind == VOLUNTEER and not activity.volunteers:
            return
        await self.desk.sign_up(ctx, activity, kind, reaction_event_id=reaction.event_id)

    async def on_event(self, ctx: EventContext, event: OtherEvent) -> None:
        """Removing one's 🙋 (a redaction of the reaction) is leaving."""
        if event.type != "m.room.redaction":
            return
        redacts = event.content.get("redacts")
        if not isinstance(redacts, str):
            return
        found = await self.desk.signups.by_reaction(redacts)
        if found is None:
            return
        activity_id, user, kind = found
        if user != event.sender and not ctx.roles & STAFF_ROLES:
            return
        activity = await self.desk.activities.by_id(activity_id)
        if activity is not None and activity.status == "open":
            await self.desk.leave(ctx, activity, user, (kind,))

    # ------------------------------------------------------------ activities

    @commands.command("activity", aliases=["活动"], args=[Arg("text", ArgKind.REST)], roles=MEMBERS)
    async def post_activity(self, ctx: EventContext, text: str) -> None:
        compound = self._compound(ctx)
        settings = settings_for(compound)
        staff = bool(ctx.roles & STAFF_ROLES)
        if not staff and not settings.residents_may_post:
            raise CommandError("error.not_allowed", roles=ctx.role_names(STAFF_ROLES))
        try:
            request = rules.parse_activity(text, ctx.received_at, self.desk.tz)
        except ActivityInputError as e:
            raise CommandError(e.key, **e.args_) from e
        rooms = await self.desk.target_rooms(ctx, request.rooms)
        since = ctx.received_at - timedelta(days=1)
        started = await self.desk.activities.started_by(compound.key, ctx.event.sender, since)
        if (
            not staff
            and ctx.event.event_id not in started
            and len(started) >= settings.activities_per_day
        ):
            raise CommandError("community.too_many", limit=settings.activities_per_day)
        activity, names = await self.desk.create(ctx, request, rooms)
        await ctx.reply("community.posted", number=activity.number, rooms="、".join(names))

    @commands.command("activity list", aliases=["活动 列表"], roles=MEMBERS | {Role.OBSERVER})
    async def list_activities(self, ctx: EventContext) -> None:
        compound = self._compound(ctx)
        lines = [ctx.text("community.list_header")]
        for activity in await self.desk.activities.open_activities(compound.key):
            places = await self.desk.places(activity, compound)
            lines.append(
                ctx.text(
                    "community.list_line",
                    number=activity.number,
                    title=activity.title,
                    time=self.desk.local(compound, activity.starts_at),
                    taken=len(places.confirmed),
                    capacity=ctx.text("community.list_capacity", capacity=activity.capacity)
                    if activity.capacity is not None
                    else ctx.text("community.list_no_limit"),
                )
            )
        if len(lines) == 1:
            lines = [ctx.text("community.list_empty_all")]
        await ctx.reply_text("\n".join(lines), purpose="activity_list")

    @commands.command(
        "activity cancel", aliases=["活动 取消", "活动 删除"], args=[NUMBER], roles=MEMBERS
    )
    async def cancel_activity(self, ctx: EventContext, number: int) -> None:
        activity = await self._activity(ctx, number, organiser_or_staff=True)
        await self.desk.cancel(ctx, activity)
        await ctx.reply("community.cancelled", number=number)

    # ------------------------------------------------------------ signing up

    @commands.command(
        "signup",
        aliases=["报名", "接龙"],
        args=[NUMBER, Arg("rest", ArgKind.REST, optional=True)],
        roles=MEMBERS,
    )
    async def sign_up(self, ctx: EventContext, number: int, rest: str | None) -> None:
        activity = await self._activity(ctx, number)
        if ctx.received_at >= activity.deadline:
            raise CommandError("community.deadline_passed", number=number)
        kind, note = self._kind_and_note(rest or "")
        if kind == VOLUNTEER and not activity.volunteers:
            kind = PARTICIPANT
        if len(note) > rules.MAX_NOTE:
            raise CommandError("community.note_too_long", limit=rules.MAX_NOTE)
        joined = await self.desk.sign_up(ctx, activity, kind, note=printable(note, rules.MAX_NOTE))
        if joined.outcome == "already":
            await ctx.reply("community.already", number=number)
            return
        confirmed, position = await self.desk.position(activity, ctx.event.sender, kind)
        key = "community.joined_waiting"
        if confirmed:
            key = "community.joined_volunteer" if kind == VOLUNTEER else "community.joined"
        await ctx.reply(key, purpose="reply:joined", number=number, position=position)

    @staticmethod
    def _kind_and_note(rest: str) -> tuple[Kind, str]:
        first, _, after = rest.strip().partition(" ")
        if first.lower() in VOLUNTEER_WORDS:
            return VOLUNTEER, after.strip()
        return PARTICIPANT, rest.strip()

    @commands.command("leave", aliases=["取消报名", "退出报名"], args=[NUMBER], roles=MEMBERS)
    async def leave(self, ctx: EventContext, number: int) -> None:
        activity = await self._activity(ctx, number)
        left = await self.desk.leave(ctx, activity, ctx.event.sender, (PARTICIPANT, VOLUNTEER))
        await ctx.reply("community.left" if left.left else "community.not_on_list", number=number)

    @commands.command(
        "signup show",
        aliases=["报名 显示", "接龙 显示"],
        args=[Arg("show", choices=("昵称", "名字", "楼号", "name", "building"))],
        roles=MEMBERS,
    )
    async def show_as(self, ctx: EventContext, show: str) -> None:
        compound = self._compound(ctx)
        choice = "building" if show in ("楼号", "building") else "name"
        await self.desk.personal.set_show_as(compound.key, ctx.event.sender, choice)
        self.services.scheduler.wake.set()
        if choice == "name":
            await ctx.reply("community.show_name")
            return
        building = ctx.role_table.residents.get(ctx.event.sender) if ctx.role_table else None
        label = rules.label_for(
            "building",
            "",
            building,
            ctx.text("community.building_label"),
            ctx.text("community.unnamed"),
        )
        await ctx.reply("community.show_building", label=label)

    # ------------------------------------------------------------ check-in and hours

    @commands.command(
        "checkin",
        aliases=["签到"],
        args=[NUMBER, Arg("rest", ArgKind.REST, optional=True)],
        roles=MEMBERS,
    )
    async def check_in(self, ctx: EventContext, number: int, rest: str | None) -> None:
        activity = await self._activity(ctx, number, closed_ok=True)
        assert isinstance(ctx.event, Message)
        words = (rest or "").split()
        named = sorted(
            {w for w in words if USER_ID_TOKEN.match(w)} | set(ctx.event.mentioned_users)
        )
        if named:
            self._organiser_or_staff(ctx, activity)
            await self.hours.check_in(ctx, activity, named)
            return
        code = [w for w in words if w.isascii() and w.isdigit()]
        if not code:
            raise CommandError("community.checkin_who")
        if code[0] != activity.checkin_code:
            raise CommandError("community.bad_code")
        await self.hours.check_in(ctx, activity, [ctx.event.sender], by_code=True)

    @commands.command("volunteer hours", aliases=["志愿 时长", "志愿时长"], roles=MEMBERS)
    async def my_hours(self, ctx: EventContext) -> None:
        await self.hours.show_own(ctx, self._compound(ctx))

    @commands.command(
        "volunteer ranking", aliases=["志愿 排行", "志愿排行"], roles=MEMBERS | {Role.OBSERVER}
    )
    async def ranking(self, ctx: EventContext) -> None:
        await self.hours.show_ranking(ctx, self._compound(ctx))

    @commands.command(
        "volunteer totals",
        aliases=["志愿 统计", "志愿统计"],
        roles=STAFF_ROLES | {Role.OBSERVER},
    )
    async def totals(self, ctx: EventContext) -> None:
        await self.hours.show_totals(ctx, self._compound(ctx))

    # ------------------------------------------------------------ personal data

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        return await self.desk.personal.export(user_id)

    async def erase_personal(self, user_id: str, compound: str | None) -> None:
        await self.desk.personal.erase(user_id, compound)
        self.services.scheduler.wake.set()

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _compound(ctx: EventContext) -> Compound:
        if ctx.compound is None:
            raise CommandError("community.not_here")
        return ctx.compound

    async def _activity(
        self,
        ctx: EventContext,
        number: int,
        *,
        organiser_or_staff: bool = False,
        closed_ok: bool = False,
    ) -> ActivityRecord:
        compound = self._compound(ctx)
        activity = await self.desk.activities.by_number(compound.key, number)
        if activity is None:
            raise CommandError("community.no_activity", number=number)
        if organiser_or_staff:
            self._organiser_or_staff(ctx, activity)
        if activity.status == "cancelled" or (activity.status != "open" and not closed_ok):
            # A command run again after it closed the activity goes on to what is missing.
            if not await self.desk.activities.changed_by(activity.id, ctx.event.event_id):
                raise CommandError("community.not_open", number=number)
        return activity

    @staticmethod
    def _organiser_or_staff(ctx: EventContext, activity: ActivityRecord) -> None:
        if ctx.event.sender != activity.organizer and not ctx.roles & STAFF_ROLES:
            raise CommandError("community.not_organizer")
