"""What each thing does to a board post: posting its card, a tap of 🤝 remembered, the author
picking a helper (a private room opened for the two: no phone number or address is ever
posted), thanks that credit the helper's hours, 已送出 / 已找到 as an edit that strikes the
card through, removal (a redaction and the record closed), renewal, and the author's reminder
and the expiry as scheduled jobs. Changes go through the store once per cause; messages carry
transaction IDs derived from their cause and purpose."""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bots.community.board_store import BoardStore, PostRecord, board_key
from bots.community.settings import CommunitySettings, settings_for
from bridge import messages, naming
from bridge.bot import EventContext, Services
from bridge.commands import CommandError
from bridge.matrix import derived_txn_id
from bridge.matrix_errors import MatrixError
from bridge.rooms_config import Compound
from bridge.scheduler import JobKind
from bridge.store.jobs import Job, JobSpec

log = logging.getLogger(__name__)

HELP_KINDS = ("help", "offer")
ITEM_KINDS = ("idle", "lost", "found")
ANSWER_KEY = "🤝"
MAX_TEXT = 300


class PostJob(BaseModel):
    post: int
    compound: str


REMIND = JobKind("community.board_remind", PostJob)  # the author asked before it expires
EXPIRE = JobKind("community.board_expire", PostJob)


class BoardDesk:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.posts = BoardStore(services.store.db)
        services.scheduler.register_kind(REMIND, self._remind, lane=self._lane)
        services.scheduler.register_kind(EXPIRE, self._expire, lane=self._lane)

    async def _lane(self, payload: PostJob) -> str:
        return payload.compound

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    def local(self, compound: Compound, when: datetime) -> str:
        fmt = self.services.text(compound, "community.time_format")
        return when.astimezone(self.tz).strftime(fmt)

    @staticmethod
    def lifetime(kind: str, settings: CommunitySettings) -> tuple[timedelta, timedelta]:
        if kind in HELP_KINDS:
            return settings.help_expires, settings.help_ask_before
        return settings.board_expires, settings.board_remind_before

    def _jobs(self, post: PostRecord, settings: CommunitySettings) -> list[JobSpec]:
        _, before = self.lifetime(post.kind, settings)
        this = PostJob(post=post.id, compound=post.compound)
        # Renewed posts get new keys (the expiry in them): a job done stays done.
        at = int(post.expires_at.timestamp())
        jobs = [EXPIRE.spec(board_key(post.id, "expire", at), post.expires_at, this)]
        if post.expires_at - before > post.created_at:
            jobs.append(
                REMIND.spec(board_key(post.id, "remind", at), post.expires_at - before, this)
            )
        return jobs

    async def room_for(self, compound: Compound, kind: str) -> str:
        """The board room: the compound's `board` (or `help`) room if it has one, else the
        neighbours' room."""
        wanted = "help" if kind in HELP_KINDS else "board"
        for key in (wanted, "neighbours"):
            record = await self.services.store.rooms.by_key(f"{compound.key}:{key}")
            if record is not None:
                return record.room_id
        raise CommandError("community.not_here")

    # ------------------------------------------------------------ posting

    async def post(self, ctx: EventContext, kind: str, text: str) -> PostRecord:
        assert ctx.compound is not None
        compound, sender = ctx.compound, ctx.event.sender
        settings = settings_for(compound)
        if len(text) > MAX_TEXT:
            raise CommandError("community.post_too_long", limit=MAX_TEXT)
        since = ctx.received_at - timedelta(days=1)
        made = await self.posts.posted_by(compound.key, sender, since)
        if ctx.event.event_id not in made and len(made) >= settings.posts_per_day:
            raise CommandError("community.too_many_posts", limit=settings.posts_per_day)
        lifetime, _ = self.lifetime(kind, settings)
        post, _ = await self.posts.create(
            compound=compound.key,
            kind=kind,
            cause=ctx.event.event_id,
            author=sender,
            text=text,
            room_id=await self.room_for(compound, kind),
            at=ctx.received_at,
            expires_at=ctx.received_at + lifetime,
            jobs=lambda p: self._jobs(p, settings),
        )
        if post.event_id is None:
            content = await self.card(post, compound)
            event_id = await ctx.send(post.room_id, content, "card")
            post, _ = await self.posts.change(
                post.id,
                cause=ctx.event.event_id,
                action="posted",
                at=ctx.received_at,
                actor=sender,
                changes={"event_id": event_id},
            )
            if kind in HELP_KINDS:
                await ctx.send(
                    post.room_id,
                    messages.reaction(event_id, ANSWER_KEY),
                    "offer",
                    event_type="m.reaction",
                )
        return post

    async def card(self, post: PostRecord, compound: Compound) -> dict[str, Any]:
        """The post as residents read it; a closed one struck through (HTML <del>)."""
        t = self.services.text
        author = (
            await naming.person(self.services.client, post.room_id, post.author)
            if post.author
            else None
        )
        head = t(compound, f"community.card_{post.kind}", number=post.number)
        by = t(
            compound,
            "community.card_by",
            who=author.name if author else t(compound, "community.unnamed"),
            until=self.local(compound, post.expires_at),
        )
        if post.status == "open":
            lines = [head, post.text, by]
            if post.photo_event_id:
                lines.append(t(compound, "community.card_photo"))
            if post.kind in HELP_KINDS:
                key = "card_how_picked" if post.helper else f"card_how_{post.kind}"
                lines.append(t(compound, f"community.{key}", number=post.number))
            else:
                lines.append(t(compound, f"community.card_how_{post.kind}", number=post.number))
            body = "\n".join(lines)
            return messages.notice(body, html="<br>".join(html.escape(line) for line in lines))
        state = t(compound, f"community.state_{post.kind}_{post.status}", number=post.number)
        body = f"{state}\n{post.text}"
        struck = f"{html.escape(state)}<br><del>{html.escape(post.text)}</del>"
        return messages.notice(body, html=struck)

    async def edit_card(self, post: PostRecord, txn: str) -> None:
        compound = self.services.rooms.compounds.get(post.compound)
        if post.event_id is None or compound is None:
            return
        content = messages.edit(post.event_id, await self.card(post, compound))
        await self.services.client.send(post.room_id, content, txn)

    # ------------------------------------------------------------ help between neighbours

    async def pick(self, ctx: EventContext, post: PostRecord, helper: str) -> PostRecord:
        """The author picks one who tapped 🤝: a private room for the two, once."""
        assert ctx.compound is not None
        if helper not in await self.posts.answered(post.id):
            raise CommandError("community.not_answered", number=post.number)
        if await self.posts.change_made(post.id, ctx.event.event_id, "picked"):
            picked = await self.posts.by_id(post.id)
            assert picked is not None
            return picked
        name = ctx.text("community.private_room", number=post.number)
        assert post.author is not None
        room = await self.services.client.create_room(
            name=name,
            topic=post.text[:100],
            alias_localpart=None,
            initial_state=[],
            power_levels={},
            invite=[post.author, helper],
        )
        picked, _ = await self.posts.change(
            post.id,
            cause=ctx.event.event_id,
            action="picked",
            at=ctx.received_at,
            actor=ctx.event.sender,
            changes={"helper": helper, "private_room_id": room},
        )
        people = await self.services.people(room, [post.author, helper], ctx.compound)
        body, html_ = self.services.catalogue.rich(
            ctx.locale, "community.private_intro", number=post.number, who=people, text=post.text
        )
        await ctx.send(room, messages.alert(body, to=[post.author, helper], html=html_), "intro")
        await self.edit_card(picked, ctx.txn("edit"))
        return picked

    # ------------------------------------------------------------ closing

    async def close(
        self, ctx: EventContext, post: PostRecord, status: str, minutes: int = 0
    ) -> PostRecord:
        """Done (已送出, 已找到, thanked) or removed: the card edited, or redacted."""
        if status == "done" and post.kind in HELP_KINDS:
            closed, _ = await self.posts.thank(
                post,
                cause=ctx.event.event_id,
                at=ctx.received_at,
                actor=ctx.event.sender,
                minutes=minutes,
            )
        else:
            closed, _ = await self.posts.change(
                post.id,
                cause=ctx.event.event_id,
                action=status,
                at=ctx.received_at,
                actor=ctx.event.sender,
                changes={"status": status},
                cancel=True,
            )
        if status == "removed" and post.event_id is not None:
            try:
                await self.services.client.redact(
                    post.room_id,
                    post.event_id,
                    ctx.text("community.removed_reason"),
                    ctx.txn("redact"),
                )
            except MatrixError as e:
                log.warning("cannot redact board post %s: %s", post.event_id, type(e).__name__)
        else:
            await self.edit_card(closed, ctx.txn("edit"))
        return closed

    async def renew(self, ctx: EventContext, post: PostRecord) -> PostRecord:
        assert ctx.compound is not None
        settings = settings_for(ctx.compound)
        lifetime, _ = self.lifetime(post.kind, settings)
        renewed, _ = await self.posts.change(
            post.id,
            cause=ctx.event.event_id,
            action="renewed",
            at=ctx.received_at,
            actor=ctx.event.sender,
            changes={"expires_at": ctx.received_at + lifetime},
            cancel=True,
            jobs=lambda p: self._jobs(p, settings),
        )
        self.services.scheduler.wake.set()
        await self.edit_card(renewed, ctx.txn("edit"))
        return renewed

    # ------------------------------------------------------------ the clock

    async def _remind(self, job: Job, payload: PostJob) -> None:
        post = await self.posts.by_id(payload.post)
        compound = self.services.rooms.compounds.get(payload.compound)
        if post is None or compound is None or post.status != "open" or post.author is None:
            return
        key = "community.ask_still" if post.kind in HELP_KINDS else "community.remind_expiry"
        body = self.services.text(
            compound,
            key,
            number=post.number,
            text=post.text[:40],
            until=self.local(compound, post.expires_at),
        )
        room = await self.services.direct_room(post.author)
        await self.services.client.send(
            room, messages.alert(body, to=[post.author]), derived_txn_id(f"job:{job.key}", "ask")
        )

    async def _expire(self, job: Job, payload: PostJob) -> None:
        post = await self.posts.by_id(payload.post)
        if post is None or post.status != "open":
            return
        expired, _ = await self.posts.change(
            post.id,
            cause=f"job:{job.key}",
            action="expired",
            at=self.services.clock.now(),
            actor=None,
            changes={"status": "expired"},
        )
        await self.edit_card(expired, derived_txn_id(f"job:{job.key}", "edit"))
