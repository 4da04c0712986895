"""A resident's own data: `!me` (what Linli holds), `!me export` (all of it as a file, from
every bot) and `!me forget` (erasure, after a confirmation). Personal data is sent to the
person's direct room, never to the room the command came from.

A mixin of the onboarding bot; its commands join the bot's table (`bot.py`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bridge import messages
from bridge.bot import EventContext
from bridge.commands import Arg, CommandTable
from bridge.matrix_errors import NotFound

if TYPE_CHECKING:
    from bridge.bot import Services

# The word that confirms an irreversible request (`!我 删除 确认`).
CONFIRM = Arg("confirm", optional=True, choices=("确认", "confirm"))
PERSONAL = CommandTable()


class PersonalData:
    """The personal-data commands; `services` is the bot's."""

    services: Services

    async def _direct_room(self, user: str) -> str:
        """The direct-message room with this person, made once and reused (Services)."""
        return await self.services.direct_room(user)

    async def _tell_privately(self, ctx: EventContext, body: str, sent_key: str) -> str:
        """Personal data goes to the direct room; the room of the command hears where."""
        room = await self.services.direct_room(ctx.event.sender, here=ctx.event.room_id)
        if room != ctx.event.room_id:
            await ctx.send_notice(room, body, purpose="private")
            await ctx.reply(sent_key)
        else:
            await ctx.reply_text(body, purpose="private")
        return room

    @PERSONAL.command("me", aliases=["我"])
    async def show_me(self, ctx: EventContext) -> None:
        data = await self.services.store.people.export(ctx.event.sender)
        # Households, then requests still waiting (an approved one is a household already).
        waiting = [q for q in data["verification_requests"] if q["status"] == "pending"]
        if not data["households"] and not waiting:
            await ctx.reply("onboarding.me_nothing")
            return
        compounds = self.services.rooms.compounds

        def line(key: str, h: dict[str, Any]) -> str:
            compound = compounds.get(h["compound"])
            return ctx.text(
                key,
                compound=compound.config.name if compound else h["compound"],
                household=h["household"],
                name=h["name"] or "—",
            )

        details = ctx.text("roles.separator").join(
            [line("onboarding.me_household", h) for h in data["households"]]
            + [line("onboarding.me_pending", q) for q in waiting]
        )
        await self._tell_privately(
            ctx, ctx.text("onboarding.me", details=details), "onboarding.me_sent"
        )

    @PERSONAL.command("me export", aliases=["我 导出"])
    async def export_me(self, ctx: EventContext) -> None:
        data = await self.services.store.people.export(ctx.event.sender)
        for bot in self.services.bots:
            data.update(await bot.export_personal(ctx.event.sender))
        payload = json.dumps(data, ensure_ascii=False, indent=2).encode()
        client = self.services.client
        room = await self._tell_privately(
            ctx, ctx.text("onboarding.export_file"), "onboarding.exported"
        )
        uri = await client.upload(payload, "application/json", "linli-my-data.json")
        if uri is None:  # no media repository: the data goes as text
            content = messages.notice(payload.decode())
        else:
            content = messages.file_message(
                uri, "linli-my-data.json", "application/json", len(payload)
            )
        await ctx.send(room, content, purpose="export-file")

    @PERSONAL.command("me forget", aliases=["我 删除"], args=[CONFIRM])
    async def forget_me(self, ctx: EventContext, confirm: str | None) -> None:
        if confirm is None:  # erasure cannot be undone: ask first
            await ctx.reply("onboarding.forget_confirm")
            return
        people = self.services.store.people
        # Linli's own messages that named them (the request the committee saw) go first, so a
        # crash before the erasure leaves the records to redact them again.
        for room, event_id in await people.personal_messages(ctx.event.sender):
            try:
                await self.services.client.redact(
                    room, event_id, ctx.text("privacy.forgotten"), ctx.txn(f"forget:{event_id}")
                )
            except NotFound:
                pass  # the room or the message is gone already
        await people.forget(ctx.event.sender)
        await self._erase_elsewhere(ctx.event.sender, None)
        await ctx.reply("onboarding.forgotten")
        await self.services.reconcile_soon(ctx.event.event_id)

    async def _erase_elsewhere(self, user: str, compound: str | None) -> None:
        """What the other bots keep about the person goes too (tickets lose their reporter)."""
        me: object = self
        for bot in self.services.bots:
            if bot is not me:
                await bot.erase_personal(user, compound)
