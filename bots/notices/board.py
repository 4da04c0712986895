"""What each thing does to a notice: post it in its rooms (now, or when its job fires), edit
it, cancel it, pin and unpin it, remind the residents who have not acknowledged it, and hand
the 楼长 their visit lists. Every message carries a transaction ID derived from its cause (the
staff command's event ID, or `job:<key>` for a scheduled job), so work redone posts nothing
new; every change goes through `NoticeStore.change`, once per cause.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import uuid4
from zoneinfo import ZoneInfo

import markdown

from bots.notices import rules
from bots.notices.jobs import (
    CATCH_UP,
    EXPIRE,
    POST,
    RECUR,
    REMIND,
    VISITS,
    CatchUp,
    NoticeJob,
    Occurrence,
    Reminder,
    notice_key,
)
from bots.notices.rules import Household, Reach
from bots.notices.settings import NoticeSettings
from bots.notices.store import NewNotice, NoticeRecord, NoticeStore
from bridge import messages
from bridge.bot import Services
from bridge.events import Receipt, parse_receipts
from bridge.matrix import NotFound, derived_txn_id
from bridge.provision.desired import room_key
from bridge.roles import Role
from bridge.rooms_config import Compound
from bridge.store.jobs import Job, JobSpec

log = logging.getLogger(__name__)

ACK_REACTION = "✅"
# A scheduled notice posted this late (Linli was down) says when it was meant for.
LATE_AFTER = timedelta(minutes=5)


def settings_for(compound: Compound) -> NoticeSettings:
    return compound.section("notices", NoticeSettings)


class NoticeBoard:
    def __init__(self, services: Services, notices: NoticeStore) -> None:
        self.services = services
        self.notices = notices
        # Rooms that carry notices: their events are kept in order (for read receipts).
        self.rooms_with_posts: set[str] | None = None
        self._reader_registered = False
        # (notice, reader) pairs this process has stored: a repeated receipt writes nothing.
        self._reads: set[tuple[int, str]] = set()
        scheduler = services.scheduler
        scheduler.register_kind(POST, self._post_due)
        scheduler.register_kind(RECUR, self._recur)
        scheduler.register_kind(REMIND, self._remind)
        scheduler.register_kind(VISITS, self._visits)
        scheduler.register_kind(EXPIRE, self._expire)
        scheduler.register_kind(CATCH_UP, self._catch_up)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    def local(self, compound: Compound, when: datetime) -> str:
        fmt = self.services.text(compound, "notices.time_format")
        return when.astimezone(self.tz).strftime(fmt)

    def compound_of(self, notice: NoticeRecord) -> Compound | None:
        return self.services.rooms.compounds.get(notice.compound)

    async def _send(
        self, room_id: str, content: dict[str, Any], base: str, purpose: str, **kw: Any
    ) -> str:
        return await self.services.client.send(
            room_id, content, derived_txn_id(base, purpose), **kw
        )

    # ------------------------------------------------------------ creating

    def jobs_of_new(self, notice: NoticeRecord, settings: NoticeSettings) -> list[JobSpec]:
        """A new notice's clock: its posting time, or its next occurrence, or (posted now)
        its reminders, visit lists and expiry."""
        if notice.status == "scheduled":
            assert notice.post_at is not None
            return [
                POST.spec(
                    notice_key(notice.id, "post"), notice.post_at, NoticeJob(notice=notice.id)
                )
            ]
        if notice.status == "recurring":
            assert notice.cron is not None
            due = rules.next_cron(notice.cron, notice.created_at, self.tz)
            return [self._occurrence(notice.id, due)]
        return self.jobs_of_posted(notice, settings)

    def _occurrence(self, series: int, due: datetime) -> JobSpec:
        key = notice_key(series, "recur", int(due.timestamp()))
        return RECUR.spec(key, due, Occurrence(notice=series, due=due))

    def jobs_of_posted(self, notice: NoticeRecord, settings: NoticeSettings) -> list[JobSpec]:
        assert notice.posted_at is not None
        times = rules.reminder_times(
            notice.posted_at,
            settings.reminders,
            notice.expires_at,
            urgent_every=settings.urgent_every if notice.urgent else None,
        )
        jobs = [
            REMIND.spec(
                notice_key(notice.id, "remind", n),
                at,
                Reminder(notice=notice.id, round=n, last=n == len(times)),
            )
            for n, at in enumerate(times, start=1)
        ]
        if times:
            jobs.append(
                VISITS.spec(
                    notice_key(notice.id, "visits"),
                    times[-1] + settings.visit_list_after,
                    NoticeJob(notice=notice.id),
                )
            )
        if notice.expires_at is not None:
            jobs.append(
                EXPIRE.spec(
                    notice_key(notice.id, "expire"), notice.expires_at, NoticeJob(notice=notice.id)
                )
            )
        return jobs

    def expiry(
        self, settings: NoticeSettings, urgent: bool, start: datetime, given: datetime | None
    ) -> datetime:
        if given is not None:
            return given
        return start + (settings.urgent_expiry if urgent else settings.default_expiry)

    async def create(self, new: NewNotice, compound: Compound) -> tuple[NoticeRecord, bool]:
        settings = settings_for(compound)
        created = await self.notices.create(new, lambda n: self.jobs_of_new(n, settings))
        if created.made_now:
            self.services.scheduler.wake.set()
        return created.notice, created.made_now

    # ------------------------------------------------------------ posting

    def rooms_for(self, notice: NoticeRecord) -> list[str]:
        """Room keys a notice goes to: announcements, then each targeted building's room."""
        compound = self.compound_of(notice)
        buildings = (
            notice.targets
            if notice.targets is not None
            else (list(compound.config.buildings) if compound else [])
        )
        return ["announcements", *(f"building_{b}" for b in buildings)]

    def content(
        self, notice: NoticeRecord, compound: Compound, *, late_from: datetime | None = None
    ) -> dict[str, Any]:
        """The notice as residents see it: plain body, HTML rendered from its Markdown, an
        @room mention when urgent, and how to acknowledge it."""
        t = self.services.text
        head = t(
            compound,
            "notices.head_urgent" if notice.urgent else "notices.head",
            number=notice.number,
        )
        late = (
            t(compound, "notices.late", time=self.local(compound, late_from)) if late_from else ""
        )
        foot = t(compound, "notices.foot", number=notice.number)
        room = "@room " if notice.urgent else ""
        body = f"{room}{head}{late}\n{notice.text}\n\n{foot}"
        rendered = markdown.markdown(html.escape(notice.text, quote=False))
        formatted = (
            f"<p>{room}<strong>{html.escape(head)}</strong>{html.escape(late)}</p>"
            f"{rendered}<p><em>{html.escape(foot)}</em></p>"
        )
        return messages.notice(body, html=formatted, room_mention=notice.urgent)

    async def publish(
        self, notice: NoticeRecord, base: str, *, late_from: datetime | None = None
    ) -> list[str]:
        """Post the notice in each of its rooms (those it is not in yet), offer ✅ under it, pin
        it when urgent. Returns the names of the rooms it is in."""
        compound = self.compound_of(notice)
        if compound is None:
            return []
        done = {p.room_id: p for p in await self.notices.posts(notice.id)}
        names = []
        content = self.content(notice, compound, late_from=late_from)
        for key in self.rooms_for(notice):
            record = await self.services.store.rooms.by_key(room_key(compound.key, key))
            if record is None:
                log.warning("notice %s: no room %s in %s", notice.id, key, compound.key)
                continue
            room = record.room_id
            names.append(
                self.services.text(
                    compound,
                    "notices.room_" + ("announcements" if key == "announcements" else "building"),
                    building=key.removeprefix("building_"),
                )
            )
            post = done.get(room)
            if post is None:
                event_id = await self._send(room, content, base, f"post:{room}")
                ts = await self._origin_ts(room, event_id)
                await self.notices.add_post(notice.id, room, event_id, ts)
                await self._reader_joins(room)
                if self.rooms_with_posts is not None:
                    self.rooms_with_posts.add(room)
                # Offered once, with the post: the same reaction again is refused (400).
                await self._send(
                    room,
                    messages.reaction(event_id, ACK_REACTION),
                    base,
                    f"ack:{room}",
                    event_type="m.reaction",
                )
            else:
                event_id = post.event_id
            if notice.urgent and (post is None or not post.pinned):
                await self._pin(room, event_id, pin=True)
                await self.notices.set_pinned(notice.id, room, True)
        return names

    @property
    def reader(self) -> str:
        """Linli's user that reads receipts through /sync: the appservice's own user may not
        sync (Synapse refuses it, matrix-doc issue 1144), a user of its namespace may."""
        config = self.services.config
        return f"@{config.bots.namespace_prefix}_reach:{config.homeserver.server_name}"

    async def _reader_joins(self, room_id: str) -> None:
        """The reader is in every room that carries a notice, so it can catch up receipts."""
        client, reader = self.services.client, self.reader
        try:
            member = await client.get_state(room_id, "m.room.member", reader)
        except NotFound:
            member = {}
        if member.get("membership") == "join":
            return
        if not self._reader_registered:
            await client.register_user(reader[1:].split(":", 1)[0])
            self._reader_registered = True
        if member.get("membership") != "invite":
            await client.invite(room_id, reader)
        await client.join(room_id, as_user=reader)

    async def _origin_ts(self, room_id: str, event_id: str) -> int:
        """The homeserver's timestamp of an event (compared with later events' own)."""
        path = (
            f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}"
        )
        try:
            event = await self.services.client.request("GET", path)
        except NotFound:
            return 0
        ts = event.get("origin_server_ts")
        return ts if isinstance(ts, int) else 0

    async def _pin(self, room_id: str, event_id: str, *, pin: bool) -> None:
        client = self.services.client
        try:
            state = await client.get_state(room_id, "m.room.pinned_events")
        except NotFound:
            state = {}
        pinned = [e for e in state.get("pinned", []) if isinstance(e, str)]
        if pin and event_id not in pinned:
            pinned.append(event_id)
        elif not pin and event_id in pinned:
            pinned.remove(event_id)
        else:
            return
        await client.put_state(room_id, "m.room.pinned_events", {"pinned": pinned})

    # ------------------------------------------------------------ editing, cancelling

    async def edit(self, notice: NoticeRecord, base: str) -> int:
        """Replace the notice in every room it was posted in (m.replace); returns how many."""
        compound = self.compound_of(notice)
        assert compound is not None
        new = self.content(notice, compound)
        posts = await self.notices.posts(notice.id)
        for post in posts:
            await self._send(
                post.room_id, messages.edit(post.event_id, new), base, f"edit:{post.room_id}"
            )
        return len(posts)

    async def withdraw(self, notice: NoticeRecord, base: str, reason: str) -> None:
        """A cancelled notice is redacted from its rooms and unpinned."""
        for post in await self.notices.posts(notice.id):
            if post.pinned:
                await self._pin(post.room_id, post.event_id, pin=False)
                await self.notices.set_pinned(notice.id, post.room_id, False)
            await self.services.client.redact(
                post.room_id, post.event_id, reason, derived_txn_id(base, f"redact:{post.room_id}")
            )

    async def unpin(self, notice: NoticeRecord) -> int:
        n = 0
        for post in await self.notices.posts(notice.id):
            if post.pinned:
                await self._pin(post.room_id, post.event_id, pin=False)
                await self.notices.set_pinned(notice.id, post.room_id, False)
                n += 1
        return n

    # ------------------------------------------------------------ reach

    async def targeted(self, notice: NoticeRecord) -> dict[str, Household]:
        residents = await self.services.store.people.residents(notice.compound)
        return rules.targeted_residents(
            ((r.user_id, Household(r.building, r.unit, r.room)) for r in residents),
            notice.targets,
        )

    async def reach_of(self, notice: NoticeRecord) -> Reach:
        rows = await self.notices.reach_rows(notice.id)
        return rules.reach(await self.targeted(notice), rows.read, rows.acknowledged, rows.told)

    def reach_text(self, compound: Compound, notice: NoticeRecord, found: Reach) -> str:
        t = self.services.text
        lines = [
            t(
                compound,
                "notices.reach_head",
                number=notice.number,
                households=found.households,
                reached=found.reached,
                pct=rules.percent(found.reached, found.households),
                residents=found.residents,
                read=found.read,
                acknowledged=found.acknowledged,
                told=found.told,
            )
        ]
        for b in found.buildings:
            lines.append(
                t(
                    compound,
                    "notices.reach_building",
                    building=b.building,
                    households=b.households,
                    reached=b.reached,
                    pct=rules.percent(b.reached, b.households),
                    read=b.read,
                    acknowledged=b.acknowledged,
                    told=b.told,
                )
            )
        if found.unreached:
            shown = found.unreached[:60]
            more = len(found.unreached) - len(shown)
            lines.append(
                t(compound, "notices.reach_unreached", households="、".join(shown))
                + (t(compound, "notices.reach_more", n=more) if more else "")
            )
        elif found.households:
            lines.append(t(compound, "notices.reach_all"))
        else:
            lines.append(t(compound, "notices.reach_nobody"))
        lines.append(t(compound, "notices.reach_lower_bound"))
        return "\n".join(lines)

    async def count_read(self, receipt: Receipt, at: datetime) -> int:
        """A read receipt: counted against the room's order, or (an event Linli did not see)
        against the homeserver's timestamps. What this process recorded already is not
        written again (a resident's client sends a receipt for every message it shows)."""
        notices = await self.notices.notices_read_by(receipt.room_id, receipt.event_id)
        if notices is None:
            ts = await self._origin_ts(receipt.room_id, receipt.event_id)
            notices = await self.notices.notices_read_until(receipt.room_id, ts) if ts else []
        new = [n for n in notices if (n, receipt.user_id) not in self._reads]
        if new:
            await self.notices.add_reads(receipt.user_id, new, at)
            self._reads.update((n, receipt.user_id) for n in new)
        return len(notices)

    def forget_reader(self, user_id: str) -> None:
        self._reads = {pair for pair in self._reads if pair[1] != user_id}

    # ------------------------------------------------------------ jobs

    async def _catch_up(self, job: Job, payload: CatchUp) -> None:
        """Receipts are ephemeral: the homeserver does not push again those sent while Linli
        was down. The bot's own /sync gives each room's latest receipt per user (spec:
        "Receipts", m.receipt in a room's ephemeral events); count them."""
        now = self.services.clock.now()
        rooms = await self.notices.rooms_of_current(now - timedelta(days=payload.days))
        if not rooms:
            return
        sync_filter = {
            "room": {
                "rooms": sorted(rooms),
                "timeline": {"limit": 1},
                "state": {"types": []},
                "ephemeral": {"types": ["m.receipt"]},
                "account_data": {"types": []},
            },
            "presence": {"types": []},
            "account_data": {"types": []},
        }
        page = await self.services.client.request(
            "GET",
            "/_matrix/client/v3/sync",
            query={"filter": json.dumps(sync_filter), "timeout": "0"},
            as_user=self.reader,
        )
        joined = page.get("rooms", {}).get("join", {})
        counted = 0
        for room_id, room in joined.items() if isinstance(joined, dict) else []:
            for event in room.get("ephemeral", {}).get("events", []):
                if not isinstance(event, dict):
                    continue
                for receipt in parse_receipts({**event, "room_id": room_id}):
                    if receipt.receipt_type != "m.read":
                        continue
                    if self.services.config.is_linli_user(receipt.user_id):
                        continue
                    counted += await self.count_read(receipt, now)
        log.info("notices: caught up receipts in %d rooms (%d counted)", len(joined), counted)

    async def catch_up_soon(self) -> None:
        now = self.services.clock.now()
        await self.services.scheduler.schedule_kind(
            f"notices:catch_up:{uuid4().hex}", CATCH_UP, now, CatchUp()
        )

    async def _post_due(self, job: Job, payload: NoticeJob) -> None:
        """A scheduled notice's time: post it (stating its time if Linli was down then)."""
        notice = await self.notices.by_id(payload.notice)
        if notice is None or notice.status not in ("scheduled", "posted"):
            return
        compound = self.compound_of(notice)
        if compound is None:
            return
        now = self.services.clock.now()
        if notice.expires_at is not None and now >= notice.expires_at:
            await self.notices.change(
                notice.id,
                cause=f"job:{job.key}",
                action="expired",
                at=now,
                actor=None,
                status="expired",
            )
            return
        settings = settings_for(compound)
        notice, _ = await self.notices.change(
            notice.id,
            cause=f"job:{job.key}",
            action="posted",
            at=now,
            actor=None,
            status="posted",
            posted_at=now,
            jobs=lambda n: self.jobs_of_posted(n, settings),
        )
        late = job.due_at if now - job.due_at > LATE_AFTER else None
        names = await self.publish(notice, f"job:{job.key}", late_from=late)
        await self._tell_staff(
            notice, compound, f"job:{job.key}", "notices.posted_scheduled", names
        )

    async def _recur(self, job: Job, payload: Occurrence) -> None:
        """A recurring notice's time: a notice of its own (made once per occurrence), posted,
        and the next occurrence scheduled with it."""
        series = await self.notices.by_id(payload.notice)
        if series is None or series.status != "recurring" or series.cron is None:
            return
        compound = self.compound_of(series)
        if compound is None:
            return
        settings = settings_for(compound)
        now = self.services.clock.now()
        base = f"job:{job.key}"
        # Missed occurrences while down are not all sent: this one, then the next to come.
        following = rules.next_cron(series.cron, max(payload.due, now), self.tz)
        child = NewNotice(
            compound=series.compound,
            cause=base,
            author=series.author,
            origin=series.origin,
            staff_room_id=series.staff_room_id,
            text=series.text,
            targets=series.targets,
            urgent=series.urgent,
            status="posted",
            created_at=now,
            post_at=payload.due,
            cron=None,
            expires_at=self.expiry(settings, series.urgent, now, None),
            series_id=series.id,
            posted_at=now,
        )
        occurrence = self._occurrence(series.id, following)
        created = await self.notices.create(
            child, lambda n: [*self.jobs_of_posted(n, settings), occurrence]
        )
        self.services.scheduler.wake.set()
        notice = created.notice
        late = payload.due if now - payload.due > LATE_AFTER else None
        names = await self.publish(notice, base, late_from=late)
        await self._tell_staff(
            notice, compound, base, "notices.posted_recurring", names, series=series.number
        )

    async def _tell_staff(
        self,
        notice: NoticeRecord,
        compound: Compound,
        base: str,
        key: str,
        names: list[str],
        **args: Any,
    ) -> None:
        if notice.staff_room_id is None:
            return
        body = self.services.text(
            compound, key, number=notice.number, rooms="、".join(names), **args
        )
        await self._send(notice.staff_room_id, messages.notice(body), base, "told_staff")

    async def _remind(self, job: Job, payload: Reminder) -> None:
        """Each targeted resident who has not acknowledged gets a direct message."""
        notice = await self.notices.by_id(payload.notice)
        if notice is None or notice.status != "posted":
            return
        compound = self.compound_of(notice)
        if compound is None:
            return
        targeted = await self.targeted(notice)
        acked = await self.notices.acknowledged_by(notice.id, targeted)
        rows = await self.notices.reach_rows(notice.id)
        base = f"job:{job.key}"
        for user in sorted(set(targeted) - acked):
            if targeted[user].label in rows.told:
                continue
            room = await self.services.direct_room(user)
            body = self.services.text(
                compound, "notices.reminder", number=notice.number, text=_short(notice.text)
            )
            await self._send(room, messages.notice(body), base, f"remind:{user}")

    async def _visits(self, job: Job, payload: NoticeJob) -> None:
        """After the last reminder: each building's 楼长 gets its unreached households."""
        notice = await self.notices.by_id(payload.notice)
        if notice is None or notice.status != "posted":
            return
        compound = self.compound_of(notice)
        if compound is None:
            return
        found = await self.reach_of(notice)
        table = await self.services.roles.table(compound)
        contacts: dict[str, list[str]] = {}
        for user, building in table.residents.items():
            if Role.BUILDING_CONTACT in table.roles_of(user):
                contacts.setdefault(building, []).append(user)
        base = f"job:{job.key}"
        for b in found.buildings:
            if not b.unreached:
                continue
            for contact in sorted(contacts.get(b.building, [])):
                room = await self.services.direct_room(contact)
                body = self.services.text(
                    compound,
                    "notices.visit_list",
                    number=notice.number,
                    building=b.building,
                    text=_short(notice.text),
                    households="\n".join(b.unreached),
                )
                await self._send(room, messages.notice(body), base, f"visits:{contact}")

    async def _expire(self, job: Job, payload: NoticeJob) -> None:
        notice = await self.notices.by_id(payload.notice)
        if notice is None or notice.status != "posted":
            return
        await self.notices.change(
            notice.id,
            cause=f"job:{job.key}",
            action="expired",
            at=self.services.clock.now(),
            actor=None,
            cancel=[notice_key(notice.id, "remind") + ":", notice_key(notice.id, "visits")],
            status="expired",
        )
        await self.unpin(notice)


def _short(text: str, limit: int = 60) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
