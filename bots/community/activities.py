"""What each thing does to an activity: posting its card in the chosen rooms, signing up and
leaving (the one who moves up told by direct message), the live list edited in place
(coalesced: one edit per burst, from a scheduled job), the reminder before it starts and
check-in. Every change goes through the stores once per cause; every message carries a
transaction ID derived from its cause and purpose."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from bots.community import rules
from bots.community.activity_card import ActivityCards
from bots.community.jobs import FINISH, REFRESH, REMIND, ActivityJob, Reminder, activity_key
from bots.community.personal_store import PersonalStore
from bots.community.rules import PARTICIPANT, VOLUNTEER, Entry, Kind, Places
from bots.community.settings import CommunitySettings, settings_for
from bots.community.signup_store import SignUpStore
from bots.community.store import ActivityRecord, ActivityStore, Joined, Left, NewActivity
from bridge import messages, naming
from bridge.bot import EventContext, Services
from bridge.commands import CommandError
from bridge.matrix import derived_txn_id
from bridge.matrix_errors import MatrixError
from bridge.roles import Role
from bridge.rooms_config import Compound, RoomDef
from bridge.store.jobs import Job, JobSpec

log = logging.getLogger(__name__)

# Residents' rooms never carry activities: the lobby is for newcomers, announcements are
# read-only for residents (they could not tap 🙋 there).
NOT_FOR_ACTIVITIES = frozenset({"lobby", "announcements"})
# Direct-message reminders sent by one job; the rest follow in jobs of their own.
REMIND_BATCH = 100


def activity_rooms(compound: Compound) -> list[RoomDef]:
    """The rooms of a compound where residents can see an activity and tap under it."""
    return [
        room
        for room in compound.rooms
        if room.key not in NOT_FOR_ACTIVITIES
        and (Role.RESIDENT in room.member_roles or room.access != "invite")
        and (room.post_roles is None or Role.RESIDENT in room.post_roles)
    ]


class ActivityDesk(ActivityCards):
    def __init__(self, services: Services, refresh_delay: timedelta) -> None:
        super().__init__(services)
        db, clock = services.store.db, services.clock
        self.activities = ActivityStore(db, clock, refresh_delay)
        self.signups = SignUpStore(db, clock, refresh_delay)
        self.personal = PersonalStore(db, clock, refresh_delay)
        services.scheduler.register_kind(REFRESH, self._refresh, lane=self._lane)
        services.scheduler.register_kind(REMIND, self._remind, lane=self._lane)
        services.scheduler.register_kind(FINISH, self._finish, lane=self._lane)

    async def _lane(self, payload: ActivityJob | Reminder) -> str:
        return payload.compound

    # ------------------------------------------------------------ posting

    async def target_rooms(self, ctx: EventContext, names: tuple[str, ...]) -> list[RoomDef]:
        """The rooms an activity goes to: those named (by name or key), else the room the
        command came from when residents can tap there, else the neighbours' room."""
        assert ctx.compound is not None
        usable = activity_rooms(ctx.compound)
        if not names:
            here = [r for r in usable if r.key == ctx.room_key]
            if here:
                return here
            neighbours = [r for r in usable if r.key == "neighbours"]
            if not neighbours:
                raise CommandError("community.not_here")
            return neighbours
        chosen: list[RoomDef] = []
        for name in names:
            wanted = name.strip().lower()
            found = [
                r
                for r in usable
                if wanted in {r.key.lower(), r.name.lower(), (r.name_en or "").lower()}
            ]
            if not found:
                known = "、".join(r.name for r in usable)
                raise CommandError("community.unknown_room", name=name[:20], names=known)
            if found[0] not in chosen:
                chosen.append(found[0])
        return chosen

    async def create(
        self, ctx: EventContext, request: rules.ActivityRequest, rooms: list[RoomDef]
    ) -> tuple[ActivityRecord, list[str]]:
        """Store the activity (once per command), post its card in each room with the 🙋
        (and 🙌) to tap, tell the organiser the check-in code privately."""
        assert ctx.compound is not None
        compound = ctx.compound
        settings = settings_for(compound)
        new = NewActivity(
            compound=compound.key,
            cause=ctx.event.event_id,
            organizer=ctx.event.sender,
            title=request.title,
            place=request.place,
            starts_at=request.starts_at,
            minutes=request.minutes,
            deadline=request.deadline,
            capacity=request.capacity,
            volunteers=request.volunteers,
            checkin_code=f"{secrets.randbelow(10_000):04d}",
            created_at=ctx.received_at,
        )
        activity, _ = await self.activities.create(new, lambda a: self._jobs(a, settings))
        content = await self.card(activity, compound)
        names = []
        for room in rooms:
            record = await self.services.store.rooms.by_key(f"{compound.key}:{room.key}")
            if record is None:
                continue
            event_id = await ctx.send(record.room_id, content, f"activity:{room.key}")
            await self.activities.add_post(activity.id, record.room_id, event_id)
            for key in (rules.JOIN_KEY, rules.VOLUNTEER_KEY)[: 2 if activity.volunteers else 1]:
                await ctx.send(
                    record.room_id,
                    messages.reaction(event_id, key),
                    f"offer:{room.key}:{key}",
                    event_type="m.reaction",
                )
            names.append(room.name)
        dm = await self.services.direct_room(ctx.event.sender, here=ctx.event.room_id)
        code = self.text(
            compound,
            "community.code_dm",
            number=activity.number,
            title=activity.title,
            code=activity.checkin_code,
        )
        await ctx.send(dm, messages.notice(code), "code")
        return activity, names

    def _jobs(self, activity: ActivityRecord, settings: CommunitySettings) -> list[JobSpec]:
        """The card edited when sign-up closes and when it is over; the reminder."""
        this = ActivityJob(activity=activity.id, compound=activity.compound)
        ends_at = activity.starts_at + timedelta(minutes=activity.minutes)
        jobs = [
            REFRESH.spec(activity_key(activity.id, "deadline"), activity.deadline, this),
            FINISH.spec(activity_key(activity.id, "finish"), ends_at, this),
        ]
        remind_at = activity.starts_at - settings.reminder_before
        if remind_at > activity.created_at:
            payload = Reminder(activity=activity.id, compound=activity.compound)
            jobs.append(REMIND.spec(activity_key(activity.id, "remind"), remind_at, payload))
        return jobs

    async def _finish(self, job: Job, payload: ActivityJob) -> None:
        """Over: the card says so (check-in stays open to staff and the code)."""
        activity = await self.activities.by_id(payload.activity)
        if activity is None or activity.status != "open":
            return
        await self.activities.close(
            activity.id,
            cause=f"job:{job.key}",
            at=self.services.clock.now(),
            actor=None,
            status="done",
        )
        await self._refresh(job, payload)

    # ------------------------------------------------------------ the card

    async def card(self, activity: ActivityRecord, compound: Compound) -> dict[str, Any]:
        places = await self.places(activity, compound)
        return messages.notice(self.card_text(activity, compound, places))

    async def places(self, activity: ActivityRecord, compound: Compound) -> Places:
        rows = await self.signups.entries(activity.id)
        shown = await self.personal.show_as(compound.key)
        table = await self.services.roles.table(compound)
        building_label = self.text(compound, "community.building_label")
        unnamed = self.text(compound, "community.unnamed")
        entries = [
            Entry(
                r.user_id,
                r.kind,
                r.seq,
                rules.label_for(
                    shown.get(r.user_id),
                    r.name,
                    table.residents.get(r.user_id),
                    building_label,
                    unnamed,
                ),
                r.note,
                r.checked_in,
            )
            for r in rows
        ]
        return rules.split_places(entries, activity.capacity, activity.volunteers)

    async def _refresh(self, job: Job, payload: ActivityJob) -> None:
        """Edit the live list in every room to what the store holds now (the edits of a burst
        coalesced into this one); the next is scheduled if sign-ups came meanwhile."""
        activity = await self.activities.by_id(payload.activity)
        compound = self.services.rooms.compounds.get(payload.compound)
        if activity is None or compound is None or activity.status == "cancelled":
            return  # a cancelled activity's cards are gone
        content = await self.card(activity, compound)
        for room_id, event_id in await self.activities.posts(activity.id):
            await self.services.client.send(
                room_id,
                messages.edit(event_id, content),
                derived_txn_id(f"job:{job.key}", f"edit:{room_id}"),
            )
        await self.signups.list_shown(activity.id, activity.seq)

    async def catch_up(self) -> None:
        """After a crash between a sign-up and its edit's job: lists behind get one now."""
        for activity in await self.signups.stale_lists():
            if not activity.refresh_due:
                await self.signups.refresh_soon(activity)
        self.services.scheduler.wake.set()

    # ------------------------------------------------------------ signing up, leaving

    async def sign_up(
        self,
        ctx: EventContext,
        activity: ActivityRecord,
        kind: Kind,
        note: str = "",
        reaction_event_id: str | None = None,
    ) -> Joined:
        user = ctx.event.sender
        person = await naming.person(self.services.client, ctx.event.room_id, user)
        joined = await self.signups.sign_up(
            activity,
            user,
            kind,
            cause=ctx.event.event_id,
            at=ctx.received_at,
            name=rules.clean_name(person.name, user),
            note=note,
            reaction_event_id=reaction_event_id,
        )
        self.services.scheduler.wake.set()
        return joined

    async def leave(
        self, ctx: EventContext, activity: ActivityRecord, user: str, kinds: tuple[Kind, ...]
    ) -> Left:
        left = await self.signups.leave(
            activity, user, kinds, cause=ctx.event.event_id, at=ctx.received_at
        )
        self.services.scheduler.wake.set()
        compound = self.services.rooms.compounds.get(activity.compound)
        for promoted in left.promoted:
            # The one who moves up must hear it now: a direct message that rings (an alert).
            body = self.text(
                compound,
                "community.moved_up",
                number=activity.number,
                title=activity.title,
                time=self.local(compound, activity.starts_at) if compound else "",
                place=activity.place or "-",
            )
            room = await self.services.direct_room(promoted)
            await ctx.send(room, messages.alert(body, to=[promoted]), f"moved_up:{promoted}")
        return left

    async def position(self, activity: ActivityRecord, user: str, kind: Kind) -> tuple[bool, int]:
        compound = self.services.rooms.compounds[activity.compound]
        places = await self.places(activity, compound)
        return places.place_of(user, kind) or (False, 0)

    # ------------------------------------------------------------ reminders, cancelling

    async def _remind(self, job: Job, payload: Reminder) -> None:
        """A direct message (an alert) to everyone with a place, a batch per job."""
        activity = await self.activities.by_id(payload.activity)
        compound = self.services.rooms.compounds.get(payload.compound)
        if activity is None or compound is None or activity.status != "open":
            return
        places = await self.places(activity, compound)
        people = sorted(
            u for u in places.confirmed_ids() if payload.after is None or u > payload.after
        )
        body = self.text(
            compound,
            "community.reminder",
            number=activity.number,
            title=activity.title,
            time=self.local(compound, activity.starts_at),
            place=activity.place or "-",
        )
        for user in people[:REMIND_BATCH]:
            room = await self.services.direct_room(user)
            await self.services.client.send(
                room,
                messages.alert(body, to=[user]),
                derived_txn_id(f"job:{job.key}", f"remind:{user}"),
            )
        if len(people) > REMIND_BATCH:
            last = people[REMIND_BATCH - 1]
            await self.services.scheduler.schedule_kind(
                f"{job.key}:after:{last}",
                REMIND,
                self.services.clock.now(),
                Reminder(activity=activity.id, compound=activity.compound, after=last),
            )

    async def cancel(self, ctx: EventContext, activity: ActivityRecord) -> None:
        """Close it (its jobs cancelled), take its cards down, tell those with a place."""
        compound = self.services.rooms.compounds[activity.compound]
        closed, _ = await self.activities.close(
            activity.id,
            cause=ctx.event.event_id,
            at=ctx.received_at,
            actor=ctx.event.sender,
            status="cancelled",
        )
        places = await self.places(closed, compound)
        for room_id, event_id in await self.activities.posts(activity.id):
            try:
                await self.services.client.redact(
                    room_id,
                    event_id,
                    ctx.text("community.line_cancelled"),
                    ctx.txn(f"redact:{event_id}"),
                )
            except MatrixError as e:
                log.warning("cannot redact activity post %s: %s", event_id, type(e).__name__)
        body = self.text(
            compound, "community.cancelled_dm", number=activity.number, title=activity.title
        )
        for user in sorted(places.confirmed_ids() | {e.user_id for e in places.waiting}):
            if user == ctx.event.sender:
                continue
            room = await self.services.direct_room(user)
            # They may be on their way: it rings, like the reminder.
            await ctx.send(room, messages.alert(body, to=[user]), f"cancelled:{user}")


__all__ = ["PARTICIPANT", "VOLUNTEER", "ActivityDesk", "activity_rooms"]
