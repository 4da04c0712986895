"""Onboarding: a newcomer in the lobby asks to be verified, the residents' committee decides,
and Linli binds them to a household and lets them in. Roles granted by the committee, `!who`,
and a resident's own data (`!me`, export, forget).

Every change to who lives where or holds which role ends with a reconcile: invites, removals
and power levels follow the role table in every room of the compound.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from bots.onboarding.address import AddressError, parse_address
from bots.onboarding.personal import CONFIRM, PERSONAL, PersonalData
from bridge.bot import Bot, EventContext
from bridge.commands import Arg, ArgKind, CommandError, CommandTable
from bridge.events import Membership
from bridge.messages import Person
from bridge.provision.desired import room_key
from bridge.roles import GRANTABLE_ROLES, STAFF_ROLES, Role
from bridge.rooms_config import Compound
from bridge.store.roster import VerificationRecord

COMMITTEE = frozenset({Role.RESIDENTS_COMMITTEE})
# Who may move a resident out: the committee, and the property manager who hands over keys.
HOUSING_STAFF = frozenset({Role.RESIDENTS_COMMITTEE, Role.PROPERTY_MANAGER})
ROLE_WORDS = {
    "党员": Role.PARTY_MEMBER,
    "志愿者": Role.VOLUNTEER,
    "楼长": Role.BUILDING_CONTACT,
    "party": Role.PARTY_MEMBER,
}


class OnboardingBot(PersonalData, Bot):
    commands: ClassVar[CommandTable] = CommandTable()
    texts: ClassVar[Path | None] = Path(__file__).parent / "texts"

    # ------------------------------------------------------------ lobby

    async def on_membership(self, ctx: EventContext, membership: Membership) -> None:
        if ctx.compound is None or ctx.room_key != "lobby" or membership.membership != "join":
            return
        if membership.previous == "join" or ctx.roles:
            return  # a profile change, or someone Linli already knows
        await ctx.send_alert(
            membership.room_id,
            ctx.text("onboarding.welcome", compound=ctx.compound.config.name),
            to=[membership.user_id],
            purpose="welcome",
        )

    async def _named(self, room_id: str, user_id: str) -> Person:
        """The newcomer as the lobby shows them (their display name there), for a pill."""
        return (await self.services.people(room_id, [user_id])).people[0]

    def _compound(self, ctx: EventContext) -> Compound:
        if ctx.compound is None:
            raise CommandError("error.not_in_compound")
        return ctx.compound

    @commands.command(
        "verify",
        aliases=["认证"],
        args=[Arg("address"), Arg("name", ArgKind.REST)],
        roles=None,
        private=True,  # an address and a name, in a room anyone with the link may join
        hidden_for=STAFF_ROLES | {Role.RESIDENT},
    )
    async def request_verification(self, ctx: EventContext, address: str, name: str) -> None:
        compound = self._compound(ctx)
        roster = self.services.store.roster
        if Role.RESIDENT in ctx.roles:
            raise CommandError("onboarding.already_verified")
        buildings = frozenset(compound.config.buildings) or None
        try:
            household = parse_address(address, buildings)
        except AddressError as e:
            raise CommandError(e.key) from None
        where = str(household)
        owners: list[str] | None = None
        if await roster.roster_size(compound.key):
            owners = await roster.roster_owners(compound.key, *_parts(where))
            if owners is None:
                # Anyone with the join link reads the lobby: a refused address goes privately.
                await self._tell_privately(
                    ctx, ctx.text("onboarding.not_in_roster", household=where), "onboarding.me_sent"
                )
                return
        pending = await roster.pending_request_of(compound.key, ctx.event.sender)
        if pending is not None and pending.source_event_id != ctx.event.event_id:
            # A second request while one waits: the first stands (it may be mid-review).
            raise CommandError("onboarding.already_pending")
        request, _ = await roster.request_verification(
            compound.key,
            ctx.event.sender,
            _parts(where),
            name.strip()[:64],
            ctx.event.event_id,
            ctx.event.room_id,
            self.services.clock.now(),
        )
        committee_room = await self.services.store.rooms.by_key(room_key(compound.key, "committee"))
        if committee_room is not None:
            owner = ctx.text("onboarding.owner_match") if owners and name.strip() in owners else ""
            notice = await ctx.send_notice(
                committee_room.room_id,
                ctx.text(
                    "onboarding.request",
                    id=request.id,
                    user=ctx.event.sender,
                    household=where,
                    name=request.name,
                    owner=owner,
                ),
                purpose="request",
            )
            await self.services.store.people.record_personal_message(
                ctx.event.sender, committee_room.room_id, notice, self.services.clock.now()
            )
        await ctx.reply("onboarding.submitted")

    @commands.command(
        "verify approve",
        aliases=["认证 同意", "同意", "approve"],
        args=[Arg("number", ArgKind.INT)],
        roles=COMMITTEE,
    )
    async def approve(self, ctx: EventContext, number: int) -> None:
        compound = self._compound(ctx)
        request = await self._pending(ctx, compound, number)
        people, roster = self.services.store.people, self.services.store.roster
        now = ctx.received_at
        if request.status == "pending":
            owners = await roster.roster_owners(
                compound.key, request.building, request.unit, request.room
            )
            # Binding first, then the decision: a crash between them leaves the request
            # pending, and the command run again binds (the same household) and decides.
            await people.bind_household(
                compound.key,
                request.user_id,
                request.building,
                request.unit,
                request.room,
                now,
                name=request.name,
                is_owner=bool(owners and request.name in owners),
            )
            await roster.decide(request.id, "approved", ctx.event.sender, now, ctx.event.event_id)
        # Invitations to the compound's rooms: a job, not this room's lane (a whole apply);
        # the newcomer and the committee hear of it once the invitations are out.
        newcomer = await self._named(request.lobby_room_id, request.user_id)
        welcome, html = self.services.catalogue.rich(
            ctx.locale, "onboarding.approved", user=newcomer, compound=compound.config.name
        )
        await self.services.reconcile_soon(
            ctx.event.event_id,
            then=[
                ctx.said(
                    request.lobby_room_id,
                    welcome,
                    purpose="approved",
                    to=[request.user_id],
                    html=html,
                ),
                ctx.reply_said("onboarding.approved_staff", id=number),
            ],
        )

    @commands.command(
        "verify reject",
        aliases=["认证 拒绝", "拒绝", "reject"],
        args=[Arg("number", ArgKind.INT), Arg("reason", ArgKind.REST)],
        roles=COMMITTEE,
    )
    async def reject(self, ctx: EventContext, number: int, reason: str) -> None:
        compound = self._compound(ctx)
        request = await self._pending(ctx, compound, number)
        if request.status == "pending":
            await self.services.store.roster.decide(
                request.id,
                "rejected",
                ctx.event.sender,
                ctx.received_at,
                ctx.event.event_id,
                reason[:500],
            )
        # The lobby is open to anyone with the link: the reason (it may be personal) goes to
        # the applicant alone.
        await ctx.send_notice(
            await self._direct_room(request.user_id),
            ctx.text("onboarding.rejected_reason", reason=reason),
            purpose="rejected_reason",
        )
        newcomer = await self._named(request.lobby_room_id, request.user_id)
        body, html = self.services.catalogue.rich(ctx.locale, "onboarding.rejected", user=newcomer)
        await ctx.send_alert(
            request.lobby_room_id, body, to=[request.user_id], purpose="rejected", html=html
        )
        await ctx.reply("onboarding.rejected_staff", id=number)

    async def _pending(
        self, ctx: EventContext, compound: Compound, number: int
    ) -> VerificationRecord:
        request = await self.services.store.roster.verification(compound.key, number)
        if request is None:
            raise CommandError("onboarding.no_request", id=number)
        if request.decision_event_id == ctx.event.event_id:
            return request  # decided by this very command: run again, it re-sends what is missing
        if request.status != "pending":
            raise CommandError("onboarding.request_decided", id=number)
        if request.user_id == ctx.event.sender:
            raise CommandError("onboarding.not_yourself")
        return request

    # ------------------------------------------------------------ residents and roles

    @commands.command(
        "resident remove",
        aliases=["住户 移除"],
        args=[Arg("user", ArgKind.USER)],
        roles=HOUSING_STAFF,
    )
    async def remove_resident(self, ctx: EventContext, user: str) -> None:
        compound = self._compound(ctx)
        named = await self._named(ctx.event.room_id, user)
        if not await self.services.store.people.unbind(compound.key, user) and ctx.fresh:
            raise CommandError("onboarding.not_resident", user=named)
        await self._erase_elsewhere(user, compound.key)
        await self.services.reconcile_soon(
            ctx.event.event_id, then=[ctx.reply_said("onboarding.removed", user=named)]
        )

    @commands.command(
        "me leave",
        aliases=["我 搬走"],
        args=[CONFIRM, Arg("compound", ArgKind.REST, optional=True)],
        roles=None,  # anywhere (the direct room too): the resident's own compound, checked here
    )
    async def move_out(self, ctx: EventContext, confirm: str | None, compound: str | None) -> None:
        home = await self._home(ctx, compound)
        named = ctx.compound is None  # outside the compound's rooms: say which one
        if confirm is None:  # it takes them out of every resident room: ask first
            if named:
                await ctx.reply("onboarding.leave_confirm_named", compound=home.config.name)
            else:
                await ctx.reply("onboarding.leave_confirm")
            return
        await self._leave(ctx, home)

    async def _home(self, ctx: EventContext, asked: str | None) -> Compound:
        """The compound a resident's own command is about: the one of the room it was typed
        in, else (the direct room) the one they live in, or the one they name of several."""
        resident_only = CommandError(
            "error.not_allowed", roles=ctx.role_names(frozenset({Role.RESIDENT}))
        )
        if ctx.compound is not None:
            if Role.RESIDENT not in ctx.roles:
                raise resident_only
            return ctx.compound
        data = await self.services.store.people.export(ctx.event.sender)
        keys = sorted({h["compound"] for h in data["households"]})
        homes = [c for k in keys if (c := self.services.rooms.compounds.get(k)) is not None]
        if not homes:
            raise resident_only
        if asked is not None:
            wanted = asked.strip().casefold()
            for home in homes:
                known = (home.key, home.config.name, home.config.name_en or "")
                if wanted in {n.casefold() for n in known if n}:
                    return home
        if len(homes) == 1 and asked is None:
            return homes[0]
        names = ctx.text("roles.separator").join(h.config.name for h in homes)
        raise CommandError("onboarding.leave_which", names=names, example=homes[0].config.name)

    async def _leave(self, ctx: EventContext, compound: Compound) -> None:
        await self.services.store.people.unbind(compound.key, ctx.event.sender)
        # Said before the rooms change: the resident is about to leave this one.
        await ctx.reply("onboarding.left")
        await self._erase_elsewhere(ctx.event.sender, compound.key)
        await self.services.reconcile_soon(ctx.event.event_id)

    def _role(self, ctx: EventContext, name: str) -> Role:
        role = ROLE_WORDS.get(name)
        if role is None:
            try:
                role = Role(name)
            except ValueError:
                role = None
        if role is None or role not in GRANTABLE_ROLES:
            names = ctx.text("roles.separator").join(
                ctx.text(f"roles.{r.value}") for r in sorted(GRANTABLE_ROLES)
            )
            raise CommandError("onboarding.role_unknown", name=name, names=names)
        return role

    @commands.command(
        "role grant",
        aliases=["角色 授予"],
        args=[Arg("user", ArgKind.USER), Arg("role")],
        roles=COMMITTEE | {Role.PARTY_BRANCH},
    )
    async def grant_role(self, ctx: EventContext, user: str, role: str) -> None:
        compound = self._compound(ctx)
        granted = self._role(ctx, role)
        assert ctx.role_table is not None
        named = await self._named(ctx.event.room_id, user)
        if user not in ctx.role_table.residents:
            raise CommandError("onboarding.not_resident", user=named)
        name = ctx.text(f"roles.{granted.value}")
        people = self.services.store.people
        if not await people.grant(compound.key, user, granted, ctx.event.sender, ctx.received_at):
            if ctx.fresh:
                raise CommandError("onboarding.role_already", user=named, role=name)
        await self.services.reconcile_soon(
            ctx.event.event_id,
            then=[ctx.reply_said("onboarding.role_granted", user=named, role=name)],
        )

    @commands.command(
        "role revoke",
        aliases=["角色 取消"],
        args=[Arg("user", ArgKind.USER), Arg("role")],
        roles=COMMITTEE | {Role.PARTY_BRANCH},
    )
    async def revoke_role(self, ctx: EventContext, user: str, role: str) -> None:
        compound = self._compound(ctx)
        revoked = self._role(ctx, role)
        name = ctx.text(f"roles.{revoked.value}")
        named = await self._named(ctx.event.room_id, user)
        if not await self.services.store.people.revoke(compound.key, user, revoked) and ctx.fresh:
            raise CommandError("onboarding.role_missing", user=named, role=name)
        await self.services.reconcile_soon(
            ctx.event.event_id,
            then=[ctx.reply_said("onboarding.role_revoked", user=named, role=name)],
        )

    @commands.command("who", aliases=["谁"])
    async def who(self, ctx: EventContext) -> None:
        compound = self._compound(ctx)
        assert ctx.role_table is not None
        lines = [ctx.text("onboarding.who_header", compound=compound.config.name)]
        for role in sorted(STAFF_ROLES):
            users = sorted(u for u, roles in ctx.role_table.staff.items() if role in roles)
            if users:
                lines.append(
                    ctx.text(
                        "onboarding.who_line",
                        role=ctx.text(f"roles.{role.value}"),
                        users=await self.services.people(ctx.event.room_id, users, compound),
                    )
                )
        shown = await self.services.store.people.shown(compound.key, Role.PARTY_MEMBER)
        if shown:
            party = await self.services.people(ctx.event.room_id, shown, compound)
            lines.append(ctx.text("onboarding.who_party", users=party))
        await ctx.reply_text("\n".join(lines), purpose="who")

    @commands.command("whois", aliases=["查"], args=[Arg("user", ArgKind.USER)])
    async def whois(self, ctx: EventContext, user: str) -> None:
        self._compound(ctx)
        assert ctx.role_table is not None
        roles = ctx.role_table.staff.get(user, frozenset()) & STAFF_ROLES
        # Name and ID: the question is often "is this 物业小王 really staff?", and a display
        # name is anyone's to choose; the ID is not.
        named = await self._named(ctx.event.room_id, user)
        shown_id = ctx.text("onboarding.whois_id", id=user) if named.name != user else ""
        if roles:
            await ctx.reply(
                "onboarding.whois_staff", user=named, id=shown_id, roles=ctx.role_names(roles)
            )
        else:
            await ctx.reply("onboarding.whois_not_staff", user=named, id=shown_id)

    @commands.command("me show", aliases=["我 亮身份", "me show-party"], roles=[Role.PARTY_MEMBER])
    async def show_party(self, ctx: EventContext) -> None:
        compound = self._compound(ctx)
        if not await self.services.store.people.show_role(
            compound.key, ctx.event.sender, Role.PARTY_MEMBER, True
        ):
            raise CommandError("onboarding.not_party")
        await ctx.reply("onboarding.shown")


def _parts(where: str) -> tuple[str, str, str]:
    building, unit, room = where.split("-")
    return building, unit, room


# `!me`, `!me export`, `!me forget` (personal.py) after this bot's own commands.
OnboardingBot.commands.specs.extend(PERSONAL.specs)
