"""The neighbours' board: mutual help (`!求助`, `!帮忙`) and the idle-items and lost-and-found
board (`!闲置`, `!失物`, `!招领`). The table of contents: who may do what, with which words;
what each thing does to a post is in `board.py`, the table in `models.py` and
`board_store.py`, the words in `texts/`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, ClassVar

from bots.community.board import ANSWER_KEY, HELP_KINDS, ITEM_KINDS, BoardDesk
from bots.community.board_store import PostRecord
from bots.community.settings import settings_for
from bridge import messages, time_bounds
from bridge.bot import Bot, EventContext, Services
from bridge.commands import Arg, ArgKind, CommandError, CommandTable, printable
from bridge.events import Message, OtherEvent, Reaction
from bridge.matrix import derived_txn_id
from bridge.matrix_errors import MatrixError
from bridge.roles import RESIDENT_ROLES, STAFF_ROLES
from bridge.rooms_config import Compound

log = logging.getLogger(__name__)

NUMBER = Arg("number", ArgKind.INT)
TEXT = Arg("text", ArgKind.REST)
MEMBERS = RESIDENT_ROLES | STAFF_ROLES
# Which post kinds each "done" word closes (已送出 for an idle item, 已找到 for lost or found).
DONE_KINDS = {"idle": ("idle",), "lost": ("lost", "found")}


class NeighboursBot(Bot):
    commands: ClassVar[CommandTable] = CommandTable()

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.board = BoardDesk(services)

    # ------------------------------------------------------------ taps and photos

    async def on_reaction(self, ctx: EventContext, reaction: Reaction) -> None:
        """🤝 under a help post: offering to help (or asking for the help offered)."""
        if reaction.key.replace("\ufe0f", "") != ANSWER_KEY or not ctx.roles & MEMBERS:
            return
        post = await self.board.posts.by_event(reaction.relates_to_event)
        if post is None or post.status != "open" or post.author == reaction.sender:
            return
        await self.board.posts.answer(post.id, reaction.sender, ctx.received_at, reaction.event_id)

    async def on_event(self, ctx: EventContext, event: OtherEvent) -> None:
        """A 🤝 removed (a redaction of the reaction): the offer is taken back."""
        redacts = event.content.get("redacts") if event.type == "m.room.redaction" else None
        if isinstance(redacts, str):
            await self.board.posts.take_back(redacts, event.sender)

    async def on_message(self, ctx: EventContext, message: Message) -> None:
        """A photo the author sends in reply to (or in the thread of) their own card."""
        target = message.thread_root or message.in_reply_to
        if message.msgtype != "m.image" or target is None:
            return
        post = await self.board.posts.by_event(target)
        if post is None or post.author != message.sender or post.status != "open":
            return
        changed, _ = await self.board.posts.change(
            post.id,
            cause=message.event_id,
            action="photo",
            at=ctx.received_at,
            actor=message.sender,
            changes={"photo_event_id": message.event_id},
        )
        await self.board.edit_card(changed, ctx.txn("edit"))

    # ------------------------------------------------------------ mutual help

    @commands.command("ask", aliases=["求助"], args=[TEXT], roles=MEMBERS)
    async def ask_for_help(self, ctx: EventContext, text: str) -> None:
        await self._post(ctx, "help", text)

    @commands.command("offer", aliases=["帮忙"], args=[TEXT], roles=MEMBERS)
    async def offer_help(self, ctx: EventContext, text: str) -> None:
        await self._post(ctx, "offer", text)

    @commands.command(
        "ask pick",
        aliases=["求助 选", "帮忙 选"],
        args=[NUMBER, Arg("helper", ArgKind.USER)],
        roles=MEMBERS,
    )
    async def pick_helper(self, ctx: EventContext, number: int, helper: str) -> None:
        post = await self._own(ctx, number, HELP_KINDS)
        picked = await self.board.pick(ctx, post, helper)
        who = await self.services.people(ctx.event.room_id, [helper], ctx.compound)
        body, html = self.services.catalogue.rich(
            ctx.locale, "community.picked", number=picked.number, who=who
        )
        await ctx.send(ctx.event.room_id, messages.notice(body, html=html), "reply:picked")

    @commands.command(
        "ask done",
        aliases=["求助 完成", "帮忙 完成", "求助 谢谢"],
        args=[NUMBER, Arg("duration", optional=True)],
        roles=MEMBERS,
    )
    async def thank_helper(self, ctx: EventContext, number: int, duration: str | None) -> None:
        post = await self._own(ctx, number, HELP_KINDS)
        minutes = settings_for(ctx.compound).help_hours // timedelta(minutes=1)
        if duration is not None:
            try:
                span = time_bounds.parse_duration(duration)
            except time_bounds.OutOfBounds:
                raise CommandError("community.bad_duration", value=printable(duration)) from None
            if span > timedelta(days=1):
                raise CommandError("community.bad_duration", value=printable(duration))
            minutes = span // timedelta(minutes=1)
        closed = await self.board.close(ctx, post, "done", minutes if post.helper else 0)
        if closed.helper is None:
            await ctx.reply("community.closed_no_helper", number=number)
            return
        # A request's helper is the one picked; an offer's is its author, who closes it.
        helper = closed.author if closed.kind == "offer" else closed.helper
        assert helper is not None
        who = await self.services.people(ctx.event.room_id, [helper], ctx.compound)
        body, html = self.services.catalogue.rich(
            ctx.locale,
            "community.thanked",
            number=number,
            who=who,
            hours=self._hours(ctx.compound, minutes),
        )
        # The helper hears the thanks: it rings (not for one's own offer).
        to = [helper] if helper != ctx.event.sender else []
        await ctx.send(
            ctx.event.room_id,
            messages.alert(body, to=to, html=html) if to else messages.notice(body, html=html),
            "reply:thanked",
        )

    # ------------------------------------------------------------ idle items, lost and found

    @commands.command("idle", aliases=["闲置"], args=[TEXT], roles=MEMBERS)
    async def post_idle(self, ctx: EventContext, text: str) -> None:
        await self._post(ctx, "idle", text)

    @commands.command("lost", aliases=["失物"], args=[TEXT], roles=MEMBERS)
    async def post_lost(self, ctx: EventContext, text: str) -> None:
        await self._post(ctx, "lost", text)

    @commands.command("found", aliases=["招领"], args=[TEXT], roles=MEMBERS)
    async def post_found(self, ctx: EventContext, text: str) -> None:
        await self._post(ctx, "found", text)

    @commands.command(
        "idle given", aliases=["闲置 已送出", "闲置 送出"], args=[NUMBER], roles=MEMBERS
    )
    async def given_away(self, ctx: EventContext, number: int) -> None:
        post = await self._own(ctx, number, DONE_KINDS["idle"])
        await self.board.close(ctx, post, "done")
        await ctx.reply(f"community.done_{post.kind}", number=number)

    @commands.command(
        "lost found",
        aliases=["失物 已找到", "招领 已找到", "招领 已领走", "found returned"],
        args=[NUMBER],
        roles=MEMBERS,
    )
    async def found_again(self, ctx: EventContext, number: int) -> None:
        post = await self._own(ctx, number, DONE_KINDS["lost"])
        await self.board.close(ctx, post, "done")
        await ctx.reply(f"community.done_{post.kind}", number=number)

    @commands.command(
        "board list", aliases=["闲置 列表", "失物 列表", "招领 列表", "求助 列表"], roles=MEMBERS
    )
    async def list_posts(self, ctx: EventContext) -> None:
        compound = self._compound(ctx)
        assert isinstance(ctx.event, Message)
        word = ctx.event.body.strip()[1:].split()[0]
        kinds = {"闲置": ("idle",), "失物": ("lost",), "招领": ("found",)}.get(
            word, HELP_KINDS if word == "求助" else (*HELP_KINDS, *ITEM_KINDS)
        )
        posts = await self.board.posts.open_posts(compound.key, kinds)
        if not posts:
            await ctx.reply("community.board_empty")
            return
        lines = [ctx.text("community.board_header")]
        for post in posts:
            lines.append(
                ctx.text(
                    "community.board_line",
                    head=ctx.text(f"community.card_{post.kind}", number=post.number),
                    text=printable(post.text, 30),
                )
            )
        await ctx.reply_text("\n".join(lines), purpose="board_list")

    # ------------------------------------------------------------ any post

    @commands.command("remove", aliases=["删帖", "撤下"], args=[NUMBER], roles=MEMBERS)
    async def remove_post(self, ctx: EventContext, number: int) -> None:
        """The author removes their own post; staff remove any (moderation)."""
        post = await self._post_numbered(ctx, number)
        if post.author != ctx.event.sender and not ctx.roles & STAFF_ROLES:
            raise CommandError("community.not_author")
        await self.board.close(ctx, post, "removed")
        await ctx.reply("community.post_removed", number=number)

    @commands.command("renew", aliases=["续期"], args=[NUMBER], roles=MEMBERS)
    async def renew_post(self, ctx: EventContext, number: int) -> None:
        post = await self._own(ctx, number, (*HELP_KINDS, *ITEM_KINDS))
        renewed = await self.board.renew(ctx, post)
        assert ctx.compound is not None
        await ctx.reply(
            "community.renewed",
            number=number,
            until=self.board.local(ctx.compound, renewed.expires_at),
        )

    # ------------------------------------------------------------ personal data

    async def export_personal(self, user_id: str) -> dict[str, Any]:
        return {"board_posts": await self.board.posts.export(user_id)}

    async def erase_personal(self, user_id: str, compound: str | None) -> None:
        """Their posts' words are theirs: the cards are redacted and the text forgotten; the
        hours they were credited stay, unnamed (personal_store.py)."""
        for post in await self.board.posts.erase(user_id, compound):
            if post.event_id is None:
                continue
            try:
                await self.services.client.redact(
                    post.room_id,
                    post.event_id,
                    self.services.text(None, "community.removed_reason"),
                    derived_txn_id(post.event_id, "erase"),
                )
            except MatrixError as e:
                # Kept going: the record is already forgotten; the card may be gone already.
                log.info("cannot redact board post %s: %s", post.event_id, type(e).__name__)

    # ------------------------------------------------------------ helpers

    async def _post(self, ctx: EventContext, kind: str, text: str) -> None:
        self._compound(ctx)
        post = await self.board.post(ctx, kind, text)
        await ctx.reply(f"community.posted_{kind}", number=post.number)

    @staticmethod
    def _compound(ctx: EventContext) -> Compound:
        if ctx.compound is None:
            raise CommandError("community.not_here")
        return ctx.compound

    def _hours(self, compound: Compound | None, minutes: int) -> str:
        hours = minutes / 60
        text = f"{hours:.1f}".rstrip("0").rstrip(".")
        return self.services.text(compound, "community.duration_hours", hours=text)

    async def _post_numbered(self, ctx: EventContext, number: int) -> PostRecord:
        compound = self._compound(ctx)
        post = await self.board.posts.by_number(compound.key, number)
        if post is None:
            raise CommandError("community.no_post", number=number)
        # A command run again after it closed the post goes on to what is missing.
        if post.status != "open" and not await self.board.posts.change_made(
            post.id, ctx.event.event_id
        ):
            raise CommandError("community.post_closed", number=number)
        return post

    async def _own(self, ctx: EventContext, number: int, kinds: tuple[str, ...]) -> PostRecord:
        post = await self._post_numbered(ctx, number)
        if post.kind not in kinds:
            raise CommandError("community.wrong_kind", number=number)
        if post.author != ctx.event.sender:
            raise CommandError("community.not_author")
        return post
