"""`!help` (`!帮助`): the commands the sender's roles allow, in the compound's language."""

from __future__ import annotations

from typing import ClassVar

from bridge.bot import Bot, EventContext
from bridge.commands import CommandTable, allowed
from bridge.roles import Role


class HelpBot(Bot):
    commands: ClassVar[CommandTable] = CommandTable()

    @commands.command("help", aliases=["帮助", "?", "？"])
    async def show_help(self, ctx: EventContext) -> None:
        lines = [ctx.text("help.header")]
        for spec in self.services.commands:
            if allowed(spec, ctx.roles) and not spec.hidden_for & ctx.roles:
                lines.append(
                    ctx.text(
                        "help.line",
                        usage=ctx.text(f"{spec.key}.usage"),
                        summary=ctx.text(f"{spec.key}.summary"),
                    )
                )
        if Role.RESIDENT in ctx.roles:  # how to reach the property company: residents' business
            lines.append(ctx.text("help.footer"))
        await ctx.reply_text("\n".join(lines), purpose="help")
