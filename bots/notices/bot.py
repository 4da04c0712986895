"""The notices bot: staff post a notice to the whole compound or to buildings, now, later or on
a cron schedule; Linli posts it in announcements and the building rooms, and measures who it
reached (read receipts, ✅ / 收到, `!收到 N`, and households a 楼长 told in person).

This file is the table of contents: who may do what, with which words. What each thing does to
a notice is in `board.py`, who it reached in `reach.py`; pure rules (targets, times, reach,
reminders) in `rules.py`; the tables in `models.py` and `store.py`; jobs in `jobs.py` and
`notice_clock.py`; the words in `texts/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from bots.notices import demo, reach_rules, rules
from bots.notices.board import NoticeBoard, interest_groups, settings_for, targets_text
from bots.notices.inbound import InboundNotices
from bots.notices.jobs import notice_prefix
from bots.notices.notice_clock import NoticeClock
from bots.notices.reach_chart import ReachWords
from bots.notices.reach_rules import NoticeInputError
from bots.notices.records import ACK, TOLD, NewNotice, NoticeRecord
from bots.notices.rules import ACK_KEYS
from bots.notices.settings import NoticeSettings
from bots.notices.store import NoticeStore
from bridge.bot import Bot, EventContext, Services
from bridge.commands import Arg, ArgKind, CommandError, CommandTable, printable
from bridge.events import Membership, Message, OtherEvent, Reaction, Receipt, RoomEvent
from bridge.homeserver_version import check_receipts_complete
from bridge.roles import STAFF_ROLES, Role
from bridge.rooms_config import Compound

NUMBER = Arg("number", ArgKind.INT)
# The street office's total covers the notices posted this recently.
TOTAL_PERIOD = timedelta(days=30)
# Who may run the staff commands at all; each compound narrows it (NoticeSettings.posters).
NOTICE_STAFF = STAFF_ROLES


class NoticeBot(Bot):
    commands: ClassVar[CommandTable] = CommandTable()
    config_sections: ClassVar[dict[str, type[BaseModel]]] = {"notices": NoticeSettings}
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.notices = NoticeStore(services.store.db)
        self.board = NoticeBoard(services, self.notices)
        self.notice_clock = NoticeClock(services, self.board)
        self.inbound = InboundNotices(services, self.board)

    async def on_start(self) -> None:
        await self._rooms_with_posts()
        self.notice_clock.receipts_complete = await check_receipts_complete(self.services.client)
        # Receipts sent while Linli was down never arrive: read them through /sync.
        await self.notice_clock.catch_up_soon()

    async def on_ephemeral_lost(self) -> None:
        # A refused transaction's receipts are not sent again: read them through /sync too.
        await self.notice_clock.catch_up_soon()

    async def _rooms_with_posts(self) -> set[str]:
        if self.board.rooms_with_posts is None:
            self.board.rooms_with_posts = await self.notices.rooms_with_posts()
        return self.board.rooms_with_posts

    # ------------------------------------------------------------ the order of rooms

    async def _saw(self, event: RoomEvent) -> None:
        """Keep the order of events in rooms that carry notices: a receipt on a later event
        means the notice above it was seen."""
        if event.room_id in await self._rooms_with_posts():
            await self.notices.saw_event(event.room_id, event.event_id, event.origin_server_ts)

    async def on_message(self, ctx: EventContext, message: Message) -> None:
        await self._saw(message)

    async def on_membership(self, ctx: EventContext, membership: Membership) -> None:
        await self._saw(membership)

    async def on_event(self, ctx: EventContext, event: OtherEvent) -> None:
        await self._saw(event)

    async def on_receipt(self, ctx: EventContext, receipt: Receipt) -> None:
        if (
            receipt.receipt_type != "m.read"
            or receipt.room_id not in await self._rooms_with_posts()
        ):
            return
        await self.board.reach.count_read(receipt, ctx.received_at)

    async def on_reaction(self, ctx: EventContext, reaction: Reaction) -> None:
        await self._saw(reaction)
        if reaction.key.strip() not in ACK_KEYS:
            return
        post = await self.notices.post_by_event(reaction.relates_to_event)
        if post is not None:
            await self.notices.record_reach(post.notice_id, reaction.sender, ACK, ctx.received_at)

    # ------------------------------------------------------------ staff: posting

    @commands.command(
        "notice", aliases=["通知"], args=[Arg("text", ArgKind.REST)], roles=NOTICE_STAFF
    )
    async def post_notice(self, ctx: EventContext, text: str) -> None:
        compound, settings = self._staff_room(ctx)
        now = ctx.received_at
        try:
            request = rules.parse_post(
                text, compound.config.buildings, now, self.board.tz, interest_groups(compound)
            )
        except NoticeInputError as e:
            raise CommandError(e.key, **e.args_) from e
        self.board.check_size(compound, request.text, request.urgent)
        series_end = request.expires
        if request.cron is not None:
            status, start = "recurring", now
            first = rules.next_cron(request.cron, now, self.board.tz)
            # A series never runs for ever: without 有效 it ends after the compound's default.
            series_end = request.expires or now + settings.series_default_end
            if first >= series_end:
                raise CommandError("notices.series_empty")
        elif request.at is not None:
            status, start = "scheduled", request.at
        else:
            status, start = "posted", now
        new = NewNotice(
            compound=compound.key,
            cause=ctx.event.event_id,
            author=ctx.event.sender,
            origin="staff",
            staff_room_id=ctx.event.room_id,
            text=request.text,
            targets=list(request.targets) if request.targets is not None else None,
            urgent=request.urgent,
            status=status,
            created_at=now,
            post_at=request.at,
            cron=request.cron,
            posted_at=now if status == "posted" else None,
            # A recurring notice's expiry is the end of the series (`有效 30天`: every day for
            # 30 days); each time it is posted gets the compound's default within that.
            expires_at=(
                series_end
                if status == "recurring"
                else self.board.expiry(settings, request.urgent, start, request.expires)
            ),
        )
        notice, _ = await self.board.create(new, compound)
        where = targets_text(ctx.text, self.services.rooms.compounds.get(notice.compound), notice)
        if notice.status == "scheduled":
            assert notice.post_at is not None
            await ctx.reply(
                "notices.scheduled",
                number=notice.number,
                time=self.board.local(compound, notice.post_at),
                targets=where,
            )
            return
        if notice.status == "recurring":
            assert notice.cron is not None
            following = rules.next_cron(notice.cron, now, self.board.tz)
            await ctx.reply(
                "notices.recurring_until"
                if request.expires is not None
                else "notices.recurring_default_end",
                number=notice.number,
                cron=notice.cron,
                next=self.board.local(compound, following),
                until=self.board.local(compound, notice.expires_at) if notice.expires_at else "",
                days=settings.series_default_end.days,
                targets=where,
            )
            return
        names = await self.board.publish(notice, ctx.event.event_id)
        await ctx.reply(
            "notices.posted", number=notice.number, rooms="、".join(names), targets=where
        )

    @commands.command("notice list", aliases=["通知 列表"], roles=NOTICE_STAFF)
    async def list_notices(self, ctx: EventContext) -> None:
        compound = self._compound(ctx)
        notices = await self.notices.listing(compound.key)
        if not notices:
            await ctx.reply("notices.list_empty")
            return
        lines = [ctx.text("notices.list_header")]
        for n in notices:
            when = n.posted_at or n.post_at
            lines.append(
                ctx.text(
                    "notices.list_line",
                    number=n.number,
                    status=ctx.text(f"notices.status_{n.status}"),
                    urgent=ctx.text("notices.urgent_mark") if n.urgent else "",
                    targets=targets_text(
                        ctx.text, self.services.rooms.compounds.get(n.compound), n
                    ),
                    time=self.board.local(compound, when) if when else (n.cron or ""),
                    text=printable(n.text.splitlines()[0] if n.text else "", 30),
                )
            )
        await ctx.reply_text("\n".join(lines), purpose="list")

    @commands.command("notice cancel", aliases=["通知 取消"], args=[NUMBER], roles=NOTICE_STAFF)
    async def cancel_notice(self, ctx: EventContext, number: int) -> None:
        self._staff_room(ctx)
        notice = await self._notice(ctx, number)
        was = notice.status
        if was in ("cancelled", "expired") and not await self._changed_here(
            ctx, notice, "cancelled"
        ):
            raise CommandError("notices.not_current", number=number)
        notice, _ = await self.notices.change(
            notice.id,
            cause=ctx.event.event_id,
            action="cancelled",
            at=ctx.received_at,
            actor=ctx.event.sender,
            detail={"was": was},
            cancel=[notice_prefix(notice.id)],
            status="cancelled",
        )
        await self.board.withdraw(notice, ctx.event.event_id, ctx.text("notices.withdrawn_reason"))
        # Said by what it was: nothing was posted of a scheduled or recurring one (a series'
        # posts are notices of their own, cancelled one by one).
        key = {"scheduled": "notices.cancelled_unposted", "recurring": "notices.series_stopped"}
        await ctx.reply(key.get(was, "notices.cancelled"), number=number)

    @commands.command(
        "notice edit",
        aliases=["通知 修改"],
        args=[NUMBER, Arg("text", ArgKind.REST)],
        roles=NOTICE_STAFF,
    )
    async def edit_notice(self, ctx: EventContext, number: int, text: str) -> None:
        self._staff_room(ctx)
        notice = await self._notice(ctx, number)
        if notice.status in ("cancelled", "expired") and not await self._changed_here(
            ctx, notice, "edited"
        ):
            raise CommandError("notices.not_current", number=number)
        self.board.check_size(self._compound(ctx), text.strip(), notice.urgent)
        notice, _ = await self.notices.change(
            notice.id,
            cause=ctx.event.event_id,
            action="edited",
            at=ctx.received_at,
            actor=ctx.event.sender,
            detail={"before": notice.text},
            text=text.strip(),
        )
        rooms = await self.board.edit(notice, ctx.event.event_id)
        await ctx.reply("notices.edited", number=number, rooms=rooms)

    @commands.command("notice unpin", aliases=["通知 取消置顶"], args=[NUMBER], roles=NOTICE_STAFF)
    async def unpin_notice(self, ctx: EventContext, number: int) -> None:
        self._staff_room(ctx)
        notice = await self._notice(ctx, number)
        await self.board.unpin(notice)
        await ctx.reply("notices.unpinned", number=number)

    @commands.command(
        "notice reach",
        aliases=["通知 回执"],
        args=[NUMBER],
        roles=NOTICE_STAFF | {Role.OBSERVER},
    )
    async def reach(self, ctx: EventContext, number: int) -> None:
        compound = self._compound(ctx)
        notice = await self._notice(ctx, number)
        found = await self.board.reach.reach_of(notice)
        await ctx.reply_text(self.board.reach.reach_text(compound, notice, found), purpose="reach")
        if found.buildings:
            words = ReachWords(
                **{
                    field: ctx.text(f"notices.chart_{field}")
                    for field in ("title", "read", "told", "missing", "households", "building")
                }
            )
            image = await self.board.reach.reach_chart(notice, found, words)
            if image is not None:  # no media repository: the text above stands alone
                await ctx.send(ctx.event.room_id, image, purpose="reach_chart")

    @commands.command("notice total", aliases=["通知 汇总"], roles=NOTICE_STAFF | {Role.OBSERVER})
    async def street_total(self, ctx: EventContext) -> None:
        """Every compound the asker observes (a street office), or their own compound."""
        here = self._compound(ctx)
        observed = [
            c
            for c in self.services.rooms.compounds.values()
            if Role.OBSERVER in (await self.services.roles.table(c)).roles_of(ctx.event.sender)
        ]
        since = ctx.received_at - TOTAL_PERIOD
        text = await self.board.reach.street_total(observed or [here], since, here)
        await ctx.reply_text(text, purpose="total")

    # ------------------------------------------------------------ 楼长 and residents

    @commands.command(
        "notice told",
        aliases=["通知 已通知"],
        args=[NUMBER, Arg("household")],
        roles=NOTICE_STAFF | {Role.BUILDING_CONTACT},
    )
    async def mark_told(self, ctx: EventContext, number: int, household: str) -> None:
        self._compound(ctx)
        notice = await self._notice(ctx, number)
        try:
            home = reach_rules.parse_household(household)
        except NoticeInputError as e:
            raise CommandError(e.key, **e.args_) from e
        if home not in await self.board.reach.households_of(notice):
            raise CommandError("notices.not_targeted", household=home.label, number=number)
        table = ctx.role_table
        assert table is not None
        if not ctx.roles & NOTICE_STAFF and table.residents.get(ctx.event.sender) != home.building:
            raise CommandError("notices.not_your_building", building=home.building)
        await self.notices.record_reach(
            notice.id, home.label, TOLD, ctx.received_at, ctx.event.sender
        )
        await ctx.reply("notices.told", number=number, household=home.label)

    @commands.command("ack", aliases=["收到"], args=[NUMBER])
    async def acknowledge(self, ctx: EventContext, number: int) -> None:
        # Reminders come by direct message, a room of no compound: there, the compound is the
        # one the resident lives in.
        key = ctx.compound.key if ctx.compound is not None else await self._home(ctx)
        notice = await self.notices.get(key, number)
        if notice is None:
            raise CommandError("notices.not_found", number=number)
        if notice.status not in ("posted", "expired"):
            raise CommandError("notices.not_found", number=number)
        if ctx.event.room_id in await self._rooms_with_posts():
            await self.notices.saw_event(
                ctx.event.room_id, ctx.event.event_id, ctx.event.origin_server_ts
            )
        await self.notices.record_reach(notice.id, ctx.event.sender, ACK, ctx.received_at)
        await ctx.reply("notices.acknowledged", number=number)

    async def seed_demo(self, passwords: Mapping[str, str]) -> None:
        await demo.seed(self, passwords)

    # ------------------------------------------------------------ personal data

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        return {"notice_reach": await self.notices.export(user_id)}

    async def erase_personal(self, user_id: str, compound: str | None) -> None:
        await self.notices.erase(user_id)
        self.board.reach.forget_reader(user_id)

    # ------------------------------------------------------------ finding things

    def _compound(self, ctx: EventContext) -> Compound:
        if ctx.compound is None:
            raise CommandError("error.not_in_compound")
        return ctx.compound

    def _staff_room(self, ctx: EventContext) -> tuple[Compound, NoticeSettings]:
        """Notices are written in a staff room, by the roles the compound lets post."""
        compound = self._compound(ctx)
        settings = settings_for(compound)
        if not settings.enabled:
            raise CommandError("notices.disabled")
        if not ctx.roles & set(settings.posters):
            raise CommandError(
                "error.not_allowed", roles=ctx.role_names(frozenset(settings.posters))
            )
        if ctx.room_key not in settings.staff_rooms:
            raise CommandError("notices.staff_room_only")
        return compound, settings

    async def _home(self, ctx: EventContext) -> str:
        data = await self.services.store.people.export(ctx.event.sender)
        compounds = {h["compound"] for h in data["households"]}
        if len(compounds) != 1:
            raise CommandError("error.not_in_compound")
        return str(compounds.pop())

    async def _notice(self, ctx: EventContext, number: int) -> NoticeRecord:
        notice = await self.notices.get(self._compound(ctx).key, number)
        if notice is None:
            raise CommandError("notices.not_found", number=number)
        return notice

    async def _changed_here(self, ctx: EventContext, notice: NoticeRecord, action: str) -> bool:
        """This very command changed it already (run again after a crash): go on."""
        return await self.notices.changed_by(notice.id, ctx.event.event_id, action)
