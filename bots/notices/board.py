"""What each thing does to a notice: create it with its jobs, post it in its rooms, edit it,
withdraw it, pin and unpin it (who it reached is counted in `reach.py`). Every message carries
a transaction ID derived from its cause (the staff command's event ID, `job:<key>` for a
scheduled job, or `webhook:<sender>:<id>`), so work redone posts nothing new; every change goes
through `NoticeStore.change`, once per cause. The jobs themselves fire in `notice_clock.py`.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bots.notices import rules
from bots.notices.jobs import (
    EXPIRE,
    POST,
    RECUR,
    REMIND,
    VISITS,
    NoticeJob,
    Occurrence,
    Reminder,
    notice_key,
    notice_prefix,
)
from bots.notices.reach import ReachBook
from bots.notices.records import NewNotice, NoticeRecord
from bots.notices.settings import NoticeSettings
from bots.notices.store import NoticeStore
from bridge import messages, safe_html
from bridge.bot import Services
from bridge.commands import CommandError
from bridge.matrix import derived_txn_id
from bridge.matrix_errors import NotFound, TooLarge
from bridge.provision.desired import room_key
from bridge.rooms_config import Compound
from bridge.store.jobs import JobSpec

log = logging.getLogger(__name__)

ACK_REACTION = "✅"
# Synapse refuses an event over 64 KiB (its JSON, signatures and envelope too): a notice's
# content (body and HTML) must leave room for them.
MAX_EVENT_BYTES = 65536
MAX_CONTENT_BYTES = MAX_EVENT_BYTES - 4096
# A scheduled notice posted this late (Linli was down) says when it was meant for.
LATE_AFTER = timedelta(minutes=5)


def settings_for(compound: Compound) -> NoticeSettings:
    return compound.section("notices", NoticeSettings)


def interest_groups(compound: Compound) -> dict[str, list[str]]:
    """Each interest group's room key and the names staff may call it by."""
    return {
        key: [n for n in (group.name, group.name_en) if n]
        for key, group in compound.config.interest_groups.items()
    }


def group_name(compound: Compound, key: str) -> str:
    group = compound.config.interest_groups.get(key)
    if group is None:
        return key
    return (group.name_en if compound.locale == "en" else None) or group.name or key


def targets_text(text: Callable[..., str], compound: Compound | None, notice: NoticeRecord) -> str:
    """Whom a notice is for, in words: the whole compound, an interest group, buildings."""
    if notice.targets is None:
        return text("notices.whole_compound")
    if notice.group is not None:
        name = group_name(compound, notice.group) if compound else notice.group
        return text("notices.group", name=name)
    return text("notices.buildings", buildings="、".join(notice.targets))


class NoticeBoard:
    def __init__(self, services: Services, notices: NoticeStore) -> None:
        self.services = services
        self.notices = notices
        # Rooms that carry notices: their events are kept in order (for read receipts).
        self.rooms_with_posts: set[str] | None = None
        self._reader_registered = False
        # Who each notice reached (receipts, the targeted residents, the answer and its chart).
        self.reach = ReachBook(services, notices, self.origin_ts)
        # Set by the clock: arms the regular read-back of receipts once a notice is posted.
        self.on_posted: Callable[[], Awaitable[None]] | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.config.timezone)

    def local(self, compound: Compound, when: datetime) -> str:
        fmt = self.services.text(compound, "notices.time_format")
        return when.astimezone(self.tz).strftime(fmt)

    def compound_of(self, notice: NoticeRecord) -> Compound | None:
        return self.services.rooms.compounds.get(notice.compound)

    async def send(
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
            if notice.expires_at is None:
                return [self.occurrence(notice.id, due)]
            end = EXPIRE.spec(
                notice_key(notice.id, "expire"), notice.expires_at, NoticeJob(notice=notice.id)
            )
            return [self.occurrence(notice.id, due), end] if due < notice.expires_at else [end]
        return self.jobs_of_posted(notice, settings)

    def occurrence(self, series: int, due: datetime) -> JobSpec:
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
        # An interest group is joined by choice: its members are reminded, but no 楼长 is sent
        # to their doors.
        if times and notice.group is None:
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
        """Room keys a notice goes to: announcements, then each targeted building's room; a
        notice to an interest group goes to that group's room only."""
        if notice.group is not None:
            return [notice.group]
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
        late = (
            self.services.text(compound, "notices.late", time=self.local(compound, late_from))
            if late_from
            else ""
        )
        return self.render(compound, notice.number, notice.text, notice.urgent, late)

    def render(
        self, compound: Compound, number: int, text: str, urgent: bool, late: str = ""
    ) -> dict[str, Any]:
        t = self.services.text
        head = t(compound, "notices.head_urgent" if urgent else "notices.head", number=number)
        foot = t(compound, "notices.foot", number=number)
        room = "@room " if urgent else ""
        body = f"{room}{head}{late}\n{text}\n\n{foot}"
        # The author's Markdown, cut to the spec's safe subset (bridge/safe_html.py).
        rendered = safe_html.markdown_html(text)
        formatted = (
            f"<p>{room}<strong>{html.escape(head)}</strong>{html.escape(late)}</p>"
            f"{rendered}<p><em>{html.escape(foot)}</em></p>"
        )
        # Mentions explicit (bridge/messages.py): "@room" or a name typed in the text pings
        # nobody; an urgent notice must reach every phone in the room, so it alerts the room.
        if urgent:
            return messages.alert(body, room=True, html=formatted)
        return messages.notice(body, html=formatted)

    def check_size(self, compound: Compound, text: str, urgent: bool) -> None:
        """A notice the homeserver would refuse (its event, body and HTML together, over
        Synapse's 64 KiB) is refused before it is stored, with the limit in the answer."""
        content = self.render(compound, 10**6, text, urgent, "（" + "0" * 40 + "）")
        size = len(json.dumps(content, ensure_ascii=False).encode())
        if size > MAX_CONTENT_BYTES:
            raise CommandError(
                "notices.too_large",
                kb=(size + 1023) // 1024,
                limit=MAX_EVENT_BYTES // 1024,
            )

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
            names.append(self.room_name(compound, key))
            post = done.get(room)
            if post is None:
                try:
                    event_id = await self.send(room, content, base, f"post:{room}")
                except TooLarge as e:
                    # Never recorded as posted what no room holds (the size was checked
                    # before it was stored; a homeserver with a lower limit refuses it here).
                    await self.notices.change(
                        notice.id,
                        cause=base,
                        action="refused",
                        at=self.services.clock.now(),
                        actor=None,
                        cancel=[notice_prefix(notice.id)],
                        status="cancelled",
                    )
                    raise CommandError("notices.too_large", kb=64, limit=64) from e
                ts = await self.origin_ts(room, event_id)
                await self.notices.add_post(notice.id, room, event_id, ts)
                await self._reader_joins(room, compound)
                if self.rooms_with_posts is not None:
                    self.rooms_with_posts.add(room)
                # Offered once, with the post: the same reaction again is refused (400).
                await self.send(
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
        if self.on_posted is not None:
            await self.on_posted()
        return names

    def room_name(self, compound: Compound, key: str) -> str:
        if key == "announcements":
            return self.services.text(compound, "notices.room_announcements")
        if key.startswith("building_"):
            building = key.removeprefix("building_")
            return self.services.text(compound, "notices.room_building", building=building)
        return group_name(compound, key)

    @property
    def reader(self) -> str:
        """Linli's user that reads receipts through /sync: the appservice's own user may not
        sync (Synapse refuses it, matrix-doc issue 1144), a user of its namespace may."""
        config = self.services.config
        return f"@{config.bots.namespace_prefix}_reach:{config.homeserver.server_name}"

    async def _reader_joins(self, room_id: str, compound: Compound) -> None:
        """The reader is in every room that carries a notice, so it can catch up receipts. It
        joins with a name that says what it is (it never speaks, at power level 0)."""
        client, reader = self.services.client, self.reader
        try:
            member = await client.get_state(room_id, "m.room.member", reader)
        except NotFound:
            member = {}
        if member.get("membership") == "join":
            return
        if not self._reader_registered:
            await client.register_user(reader[1:].split(":", 1)[0])
            name = self.services.text(compound, "notices.reader_name")
            await client.set_displayname(reader, name)
            self._reader_registered = True
        if member.get("membership") != "invite":
            await client.invite(room_id, reader)
        await client.join(room_id, as_user=reader)

    async def origin_ts(self, room_id: str, event_id: str) -> int:
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
            await self.send(
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
