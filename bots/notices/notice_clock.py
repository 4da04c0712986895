"""A notice's clock: posting at its time, each occurrence of a recurring notice, reminders to
the residents who have not acknowledged, the 楼长's visit lists, expiry (and unpinning), and
reading back receipts missed while Linli was down. Every step is a scheduler job keyed by notice
and step, so it fires once, also across restarts; its messages carry transaction IDs derived
from `job:<key>`, and its change is stored once per job key.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from bots.notices import rules
from bots.notices.board import LATE_AFTER, NoticeBoard, settings_for
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
from bots.notices.records import NewNotice, NoticeRecord
from bridge import messages
from bridge.bot import Services
from bridge.events import parse_receipts
from bridge.roles import Role
from bridge.rooms_config import Compound
from bridge.store.jobs import Job

log = logging.getLogger(__name__)

# While a notice is open, receipts are read back through /sync this often (and after every
# start and refused transaction); more often on a Synapse that drops receipts in bursts.
RECONCILE_EVERY = timedelta(minutes=10)
RECONCILE_EVERY_LOSSY = timedelta(minutes=1)
# Direct-message reminders sent by one job; the rest follow in jobs of their own.
REMIND_BATCH = 100


class NoticeClock:
    def __init__(self, services: Services, board: NoticeBoard) -> None:
        self.services = services
        self.board = board
        self.notices = board.notices
        # False on a Synapse known to drop receipts in bursts (asked at start).
        self.receipts_complete = True
        scheduler = services.scheduler
        # Each notice's jobs run in its compound's lane (bridge/scheduler.py).
        self._compounds: dict[int, str] = {}
        scheduler.register_kind(POST, self._post_due, lane=self._lane)
        scheduler.register_kind(RECUR, self._recur, lane=self._lane)
        scheduler.register_kind(REMIND, self._remind, lane=self._lane)
        scheduler.register_kind(VISITS, self._visits, lane=self._lane)
        scheduler.register_kind(EXPIRE, self._expire, lane=self._lane)
        scheduler.register_kind(CATCH_UP, self._catch_up)
        board.on_posted = self.reconcile_later

    async def _lane(self, payload: NoticeJob | Occurrence | Reminder) -> str | None:
        compound = self._compounds.get(payload.notice)
        if compound is None:
            notice = await self.notices.by_id(payload.notice)
            if notice is None:
                return None
            compound = self._compounds[payload.notice] = notice.compound
        return compound

    async def _catch_up(self, job: Job, payload: CatchUp) -> None:
        """Receipts are ephemeral: the homeserver does not push again those sent while Linli
        was down, or in a transaction it refused. The reader's /sync gives each room's latest
        receipt per user (spec: "Receipts", m.receipt in a room's ephemeral events), and a
        receipt counts for every notice at or before its event in the room's order (Linli's
        order of the room, or the homeserver's timestamps for an event it never saw), so a
        later receipt still counts for the notice above it. Counted once, like any other."""
        now = self.services.clock.now()
        rooms = await self.notices.rooms_of_current(now - timedelta(days=payload.days))
        if rooms:
            await self._read_back(sorted(rooms), now)
        if await self.notices.any_open():
            await self.reconcile_later()

    async def _read_back(self, rooms: list[str], now: datetime) -> None:
        # Synapse answers an identical initial /sync from its response cache for a while
        # (sync_response_cache_duration, 2 minutes): a catch-up soon after the last one would
        # read the old receipts. A filter no two catch-ups share makes every request a new one.
        sync_filter = {
            "room": {
                "rooms": rooms,
                "timeline": {"limit": 1},
                "state": {"types": []},
                "ephemeral": {"types": ["m.receipt"], "not_types": [f"cn.linli.{uuid4().hex}"]},
                "account_data": {"types": []},
            },
            "presence": {"types": []},
            "account_data": {"types": []},
        }
        page = await self.services.client.request(
            "GET",
            "/_matrix/client/v3/sync",
            query={"filter": json.dumps(sync_filter), "timeout": "0"},
            as_user=self.board.reader,
        )
        joined = page.get("rooms", {}).get("join", {})
        counted = 0
        for room_id, room in joined.items() if isinstance(joined, dict) else []:
            for event in room.get("ephemeral", {}).get("events", []):
                if not isinstance(event, dict):
                    continue
                for receipt in parse_receipts({**event, "room_id": room_id}):
                    # Private receipts never count (the reader sees only its own anyway).
                    if receipt.receipt_type != "m.read":
                        continue
                    if self.services.config.is_linli_user(receipt.user_id):
                        continue
                    counted += await self.board.reach.count_read(receipt, now)
        log.info("notices: caught up receipts in %d rooms (%d counted)", len(joined), counted)

    @property
    def reconcile_every(self) -> timedelta:
        return RECONCILE_EVERY if self.receipts_complete else RECONCILE_EVERY_LOSSY

    async def reconcile_later(self) -> None:
        """The next regular catch-up while a notice is open: at the next multiple of the
        interval, keyed by it, so however many chains a restart or a notice starts, one job
        runs per interval."""
        every = self.reconcile_every.total_seconds()
        due_s = (int(self.services.clock.now().timestamp() // every) + 1) * every
        due = datetime.fromtimestamp(due_s, UTC)
        await self.services.scheduler.schedule_kind(
            f"notices:reconcile:{int(due_s)}", CATCH_UP, due, CatchUp()
        )

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
        compound = self.board.compound_of(notice)
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
            jobs=lambda n: self.board.jobs_of_posted(n, settings),
        )
        late = job.due_at if now - job.due_at > LATE_AFTER else None
        names = await self.board.publish(notice, f"job:{job.key}", late_from=late)
        await self._tell_staff(
            notice, compound, f"job:{job.key}", "notices.posted_scheduled", names
        )

    async def _recur(self, job: Job, payload: Occurrence) -> None:
        """A recurring notice's time: a notice of its own (made once per occurrence), posted,
        and the next occurrence scheduled with it."""
        series = await self.notices.by_id(payload.notice)
        if series is None or series.status != "recurring" or series.cron is None:
            return
        compound = self.board.compound_of(series)
        if compound is None:
            return
        settings = settings_for(compound)
        now = self.services.clock.now()
        base = f"job:{job.key}"
        end = series.expires_at  # the end of the series, if it has one
        if end is not None and payload.due >= end:
            return
        # Missed occurrences while down are not all sent: this one, then the next to come.
        following = rules.next_cron(series.cron, max(payload.due, now), self.board.tz)
        expiry = self.board.expiry(settings, series.urgent, now, None)
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
            expires_at=expiry if end is None else min(expiry, max(end, now)),
            series_id=series.id,
            posted_at=now,
        )
        more = [self.board.occurrence(series.id, following)]
        if end is not None and following >= end:
            more = []
        created = await self.notices.create(
            child, lambda n: [*self.board.jobs_of_posted(n, settings), *more]
        )
        self.services.scheduler.wake.set()
        notice = created.notice
        late = payload.due if now - payload.due > LATE_AFTER else None
        names = await self.board.publish(notice, base, late_from=late)
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
        await self.board.send(notice.staff_room_id, messages.notice(body), base, "told_staff")

    async def _remind(self, job: Job, payload: Reminder) -> None:
        """Each targeted resident who has not acknowledged gets a direct message, a batch at a
        time: the rest is a job of its own, so the compound's lane (and the job's time budget)
        is never held by thousands of direct messages at once."""
        notice = await self.notices.by_id(payload.notice)
        if notice is None or notice.status != "posted":
            return
        compound = self.board.compound_of(notice)
        if compound is None:
            return
        targeted = await self.board.reach.targeted(notice)
        acked = await self.notices.acknowledged_by(notice.id, targeted)
        rows = await self.notices.reach_rows(notice.id)
        # The round's key, whichever batch: a batch done again sends nothing new.
        base = f"job:{notice_key(notice.id, 'remind', payload.round)}"
        waiting = [
            user
            for user in sorted(set(targeted) - acked)
            if targeted[user].label not in rows.told
            and (payload.after is None or user > payload.after)
        ]
        batch, rest = waiting[:REMIND_BATCH], waiting[REMIND_BATCH:]
        body = self.services.text(
            compound, "notices.reminder", number=notice.number, text=_short(notice.text)
        )
        for user in batch:
            room = await self.services.direct_room(user)
            # A reminder by direct message must reach the phone (bridge/messages.py).
            await self.board.send(room, messages.alert(body, to=[user]), base, f"remind:{user}")
        if rest:
            following = payload.model_copy(update={"after": batch[-1]})
            key = notice_key(notice.id, "remind", payload.round, "after", batch[-1])
            await self.services.scheduler.schedule_kind(
                key, REMIND, self.services.clock.now(), following
            )

    async def _visits(self, job: Job, payload: NoticeJob) -> None:
        """After the last reminder: each building's 楼长 gets its unreached households."""
        notice = await self.notices.by_id(payload.notice)
        if notice is None or notice.status != "posted":
            return
        compound = self.board.compound_of(notice)
        if compound is None:
            return
        found = await self.board.reach.reach_of(notice)
        table = await self.services.roles.table(compound)
        contacts: dict[str, list[str]] = {}
        for user, building in table.residents.items():
            if Role.BUILDING_CONTACT in table.roles_of(user):
                contacts.setdefault(building, []).append(user)
        base = f"job:{job.key}"

        def no_account(household: str) -> str:
            return self.services.text(compound, "notices.visit_no_account", household=household)

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
                    households="\n".join(
                        [
                            *(
                                self.services.text(
                                    compound, "notices.visit_no_account", household=h
                                )
                                for h in b.unreached_offline
                            ),
                            *b.unreached_online,
                        ]
                    ),
                )
                content = messages.alert(body, to=[contact])  # work for the 楼长: it rings
                await self.board.send(room, content, base, f"visits:{contact}")

    async def _expire(self, job: Job, payload: NoticeJob) -> None:
        """A posted notice's expiry (its reminders stop, its pin goes), or a series' end."""
        notice = await self.notices.by_id(payload.notice)
        if notice is None or notice.status not in ("posted", "recurring"):
            return
        series = notice.status == "recurring"
        await self.notices.change(
            notice.id,
            cause=f"job:{job.key}",
            action="expired",
            at=self.services.clock.now(),
            actor=None,
            cancel=(
                [notice_key(notice.id, "recur") + ":"]
                if series
                else [notice_key(notice.id, "remind") + ":", notice_key(notice.id, "visits")]
            ),
            status="expired",
        )
        if not series:
            await self.board.unpin(notice)


def _short(text: str, limit: int = 60) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
