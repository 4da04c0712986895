"""The crash scenario: residents, staff and newcomers use Linli through a real Synapse while
Linli, a process of its own, is killed with SIGKILL at random moments and started again; then
everything is counted from the residents' side and from Linli's database.

Run by tests/integration/test_crash.py (20 kills, the session's Synapse) and by
`python -m bench crash` (100 kills, a Synapse of its own). The random choices come from one
seeded generator; the moments themselves depend on the machine's timing, as crashes do.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.integration.crash_community import CommunityDriver
from tests.integration.crash_votes import VoteDriver
from tests.integration.grid_receiver import GridReceiver
from tests.integration.linli_process import LinliProcess
from tests.integration.matrix_client import ResidentClient
from tests.integration.room_watch import Event, RoomWatch, history

# Every mention is urgent ("坏了"), so its clock runs around the day in minutes: the deadlines
# fall due during the run. No reminder before a 1-minute first response (it would be due at
# the opening); one a minute before the 2-minute resolution; at each missed deadline a work
# order to the grid platform, one per ticket, and a notice in the ticket's thread.
TICKET_SETTINGS = """  tickets:
    max_open_per_resident: 1000
    urgent_keywords: ["坏了"]
    urgent_targets: {first_response: 1m, resolution: 2m}
    remind_before: 1m
    escalation:
      - {after: 0m, to: webhook, name: grid}
    weekly_report: null
  buildings:"""

COMMITTEE = "juwei_chen"
STAFF = "wuye_wang"
NUMBER = re.compile(r"工单 #(\d+)")
REQUEST = re.compile(r"认证申请 #(\d+)：")
OFFERED_KEYS = ["✅", "1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"]


@dataclass
class CrashSettings:
    kills: int = 20
    seed: int = 20261123
    residents: int = 3  # verified before the run
    applicants: int = 6  # verified during it
    # After each start: killed during start-up with this chance, else this long after it is up.
    startup_kill_share: float = 0.15
    life: tuple[float, float] = (0.3, 3.0)
    mention_gap: tuple[float, float] = (0.5, 2.0)  # after the answer to a resident's last
    # Each resident's first tickets, and later ones by chance, are left to their clock: their
    # reminders and escalations fall due while Linli is still being killed.
    alone_per_resident: int = 1
    alone_share: float = 0.0
    answer_timeout: float = 45.0  # for one answer, Linli down or not: then the driver moves on
    quiet_timeout: float = 240.0


@dataclass
class Mention:
    event_id: str
    reporter: ResidentClient
    alone: bool
    path: str  # "ack+done" or "done"; "alone": staff never touch it
    confirm_by: str  # "reaction" or "command"


@dataclass
class Command:
    event_id: str
    kind: str  # ack, done, confirm_reaction, confirm_command, verify, approve
    number: int | None
    user: str


@dataclass
class Report:
    kills: int = 0
    starts: int = 0
    mentions: int = 0
    tickets: int = 0
    replies: int = 0
    reply_seconds: list[float] = field(default_factory=list)
    commands: Counter[str] = field(default_factory=Counter)
    untouched: int = 0
    reminders: int = 0
    escalation_notices: int = 0
    work_orders: int = 0
    webhook_posts: int = 0
    redeliveries: int = 0
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    seconds: float = 0.0
    killing_seconds: float = 0.0
    quiet_seconds: float = 0.0
    ballots: str = ""
    gaps: int = 0  # transactions refused once because the homeserver skipped one (txn_gaps.py)
    signups: str = ""

    @property
    def problems(self) -> list[str]:
        return self.duplicates + self.missing + self.other

    def lines(self) -> list[str]:
        commands = ", ".join(f"{kind} {n}" for kind, n in sorted(self.commands.items()))
        out = [
            f"crash run: {self.kills} kills, {self.starts} starts, {self.seconds:.0f} s"
            f" ({self.killing_seconds:.0f} s killing, then {self.quiet_seconds:.0f} s until quiet)",
            f"  mentions {self.mentions}, tickets {self.tickets}, opening replies {self.replies}"
            f" (after {_spread(self.reply_seconds)})",
            f"  commands (with the set-up's verifications): {commands}",
            f"  tickets left to their clock {self.untouched}: reminders {self.reminders},"
            f" escalation notices {self.escalation_notices} (all tickets)",
            f"  work orders {self.work_orders} (webhook POSTs {self.webhook_posts},"
            f" same delivery again {self.redeliveries})",
            self.ballots,
            f"  transactions refused for a gap in the homeserver's numbering {self.gaps}",
            self.signups,
            f"  duplicates found {len(self.duplicates)}, missing {len(self.missing)},"
            f" other problems {len(self.other)}",
        ]
        out += [f"    duplicate: {p}" for p in self.duplicates]
        out += [f"    missing: {p}" for p in self.missing]
        out += [f"    problem: {p}" for p in self.other]
        return out


def _spread(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    ordered = sorted(seconds)
    median = ordered[len(ordered) // 2]
    return f"median {median:.1f} s, max {ordered[-1]:.1f} s"


def _relation(event: Event) -> dict[str, Any]:
    relation = event.get("content", {}).get("m.relates_to") or {}
    return relation if isinstance(relation, dict) else {}


def thread_root(event: Event) -> str | None:
    relation = _relation(event)
    return str(relation["event_id"]) if relation.get("rel_type") == "m.thread" else None


def in_reply_to(event: Event) -> str | None:
    reply = _relation(event).get("m.in_reply_to") or {}
    return reply.get("event_id") if isinstance(reply, dict) else None


def body(event: Event) -> str:
    return str(event.get("content", {}).get("body", ""))


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class CrashRun:
    def __init__(
        self,
        linli: LinliProcess,
        grid: GridReceiver,
        settings: CrashSettings,
        new_user: Callable[[], Awaitable[ResidentClient]],
        login: Callable[[str], Awaitable[ResidentClient]],
    ) -> None:
        self.linli = linli
        self.grid = grid
        self.settings = settings
        self.new_user = new_user
        self.login = login
        self.rng = random.Random(settings.seed)
        self.bot = linli.bot_user_id
        self.mentions: list[Mention] = []
        self.commands: list[Command] = []
        self.residents: list[ResidentClient] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._watches: list[RoomWatch] = []
        self._stop_mentions = asyncio.Event()
        self._sent_at: dict[str, int] = {}

    # ------------------------------------------------------------ before the run

    async def setup(self) -> None:
        self.linli.edit_compound("heping", "  buildings:", TICKET_SETTINGS)
        await self.linli.start()
        self.committee = await self.login(COMMITTEE)
        self.staff = await self.login(STAFF)
        self.committee_room = await self.committee.join(self.linli.alias("heping-committee"))
        self.lobby = await self.committee.join(self.linli.alias("heping-lobby"))
        self.neighbours = await self.staff.join(self.linli.alias("heping-neighbours"))
        self.committee_watch = RoomWatch(self.committee, [self.committee_room, self.lobby])
        self.staff_watch = RoomWatch(self.staff, [self.neighbours])
        for watch in (self.committee_watch, self.staff_watch):
            await watch.start()
            self._watches.append(watch)
        for i in range(self.settings.residents):
            resident = await self.new_user()
            await self._verify(resident, f"3-2-{1101 + i}", f"住户{i}")
            await resident.join(self.neighbours)
            self.residents.append(resident)
        # A household vote open in the hall through the kills (crash_votes.py).
        self.votes = VoteDriver(self.linli, self.committee, self.staff, self.rng)
        households = [f"3-2-{1101 + i}" for i in range(self.settings.residents)]
        await self.votes.setup(self.residents, households)
        # An activity's 接龙 in building 3's room through the kills (crash_community.py).
        self.community = CommunityDriver(self.linli, self.staff, self.rng)
        await self.community.setup([*self.residents, self.staff])

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for watch in self._watches:
            await watch.close()
        if hasattr(self, "votes"):
            await self.votes.close()
        if hasattr(self, "community"):
            await self.community.close()

    # ------------------------------------------------------------ the run

    async def run(self) -> Report:
        loop = asyncio.get_running_loop()
        started = loop.time()
        killing = asyncio.create_task(self._kill_loop())
        drivers = (
            [asyncio.create_task(self._resident(r)) for r in self.residents]
            + [
                asyncio.create_task(self._applicants()),
                asyncio.create_task(self._paper_clerk()),
            ]
            + [
                asyncio.create_task(self.community.tapper(p, self._stop_mentions))
                for p in self.community.people
            ]
        )
        try:
            await killing
            killed = loop.time()
            await asyncio.gather(*drivers)
            # Each waits for its answers with a timeout of its own.
            await asyncio.gather(*self._tasks)
            await self._wait_quiet()
            await self.votes.close_vote(self.settings.answer_timeout)
            await self._wait_quiet()  # the result's chart and audit file too
        finally:
            for task in [killing, *drivers]:
                task.cancel()
        report = await self.check()
        report.seconds = loop.time() - started
        report.killing_seconds = killed - started
        report.quiet_seconds = loop.time() - killed
        return report

    async def _kill_loop(self) -> None:
        """At least `kills` kills, and on until the tickets' clocks have run out (every
        reminder and escalation fired): those fire under fire too."""
        s = self.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.quiet_timeout
        k = 0
        while k < s.kills or (self._clock_busy(alone_only=True) and loop.time() < deadline):
            if self.rng.random() < s.startup_kill_share:
                await asyncio.sleep(self.rng.uniform(0.0, 2.0))  # a moment in start-up
            else:
                await self.linli.wait_ready()
                await asyncio.sleep(self.rng.uniform(*s.life))
            await self.linli.kill()
            k += 1
            if k >= s.kills * 3 // 4:
                self._stop_mentions.set()  # the rest of the kills hit commands and clocks
            await self.linli.spawn()
        await self.linli.wait_ready()

    async def _resident(self, resident: ResidentClient) -> None:
        """Mentions, each after the answer to the last (or its timeout): what the residents ask
        follows what Linli can answer, on a fast machine or a slow one."""
        s = self.settings
        n = 0
        while not self._stop_mentions.is_set():
            await asyncio.sleep(self.rng.uniform(*s.mention_gap))  # pacing, not waiting
            alone = n < s.alone_per_resident or self.rng.random() < s.alone_share
            mention = Mention(
                "",
                resident,
                alone,
                "alone" if alone else self.rng.choice(["ack+done", "done"]),
                self.rng.choice(["reaction", "command"]),
            )
            text = f"@物业 3号楼电梯坏了（{resident.user_id[1:].split(':')[0]} 第{n}次）"
            mention.event_id = await resident.send_text(self.neighbours, text)
            self.mentions.append(mention)
            await self.votes.answer(resident)  # and a (changed) answer to the vote
            n += 1
            if not alone:
                self._tasks.append(asyncio.create_task(self._work_on(mention)))
            await self.staff_watch.wait_for(
                self.neighbours,
                lambda e, m=mention: self._from_bot(e) and in_reply_to(e) == m.event_id,
                s.answer_timeout,
            )

    async def _paper_clerk(self) -> None:
        """Staff enter (and correct) a household's paper ballot, each after the last's answer."""
        while not self._stop_mentions.is_set():
            await asyncio.sleep(self.rng.uniform(*self.settings.mention_gap))  # pacing
            await self.votes.enter_paper(self.settings.answer_timeout)

    async def _applicants(self) -> None:
        """Newcomers one after the other, each verified (or timed out) before the next."""
        for i in range(self.settings.applicants):
            if self._stop_mentions.is_set():
                return
            await asyncio.sleep(self.rng.uniform(*self.settings.mention_gap))  # pacing
            await self._verify(await self.new_user(), f"1-1-{201 + i}", f"新邻居{i}")

    async def _verify(self, user: ResidentClient, address: str, name: str) -> None:
        timeout = self.settings.answer_timeout
        await user.join(self.lobby)
        request = await user.send_text(self.lobby, f"!认证 {address} {name}")
        self.commands.append(Command(request, "verify", None, user.user_id))
        notice = await self.committee_watch.wait_for(
            self.committee_room,
            lambda e: self._from_bot(e) and user.user_id in body(e) and "认证申请 #" in body(e),
            timeout,
        )
        if notice is None:
            return
        match = REQUEST.search(body(notice))
        assert match is not None, body(notice)
        number = int(match.group(1))
        approve = await self.committee.send_text(self.committee_room, f"!认证 同意 {number}")
        self.commands.append(Command(approve, "approve", number, user.user_id))
        await self.committee_watch.wait_for(
            self.lobby,
            lambda e: (
                self._from_bot(e)
                and "认证通过" in body(e)
                and user.user_id in e["content"].get("m.mentions", {}).get("user_ids", [])
            ),
            timeout,
        )

    async def _work_on(self, mention: Mention) -> None:
        """What the staff and the reporter do with a ticket: take it up, finish it, confirm."""
        timeout = self.settings.answer_timeout
        watch, room = self.staff_watch, self.neighbours
        reply = await watch.wait_for(
            room,
            lambda e: self._from_bot(e) and in_reply_to(e) == mention.event_id,
            timeout,
        )
        match = NUMBER.search(body(reply)) if reply is not None else None
        if match is None:
            return
        number = int(match.group(1))
        if mention.path == "ack+done":
            ack = await self.staff.send_text(room, f"!工单 受理 {number}")
            self.commands.append(Command(ack, "ack", number, self.staff.user_id))
            await watch.wait_for(
                room, lambda e: self._from_bot(e) and in_reply_to(e) == ack, timeout
            )
        done = await self.staff.send_text(room, f"!工单 完成 {number} 已修好")
        self.commands.append(Command(done, "done", number, self.staff.user_id))
        question = await watch.wait_for(
            room,
            lambda e: self._from_bot(e) and in_reply_to(e) == done and "请确认" in body(e),
            timeout,
        )
        if question is None:
            return
        reporter = mention.reporter
        if mention.confirm_by == "reaction":
            confirm = await reporter.react(room, question["event_id"], "✅")
            self.commands.append(Command(confirm, "confirm_reaction", number, reporter.user_id))
        else:
            confirm = await reporter.send_text(room, f"!工单 确认 {number}")
            self.commands.append(Command(confirm, "confirm_command", number, reporter.user_id))
        await watch.wait_for(
            room, lambda e: self._from_bot(e) and in_reply_to(e) == confirm, timeout
        )

    def _inbox_status(self, event_id: str) -> str:
        """Where the event got to in Linli: what tells a lost delivery from a lost answer."""
        rows = self.linli.query(
            "SELECT status, attempts, error FROM inbox_events WHERE event_id=?", (event_id,)
        )
        if not rows:
            return f"{event_id} never reached Linli's inbox"
        status, attempts, error = rows[0]
        return f"{event_id} in the inbox: {status}, {attempts} failed attempts, {error}"

    def _from_bot(self, event: Event) -> bool:
        return event.get("sender") == self.bot and event.get("type") == "m.room.message"

    async def _wait_quiet(self) -> None:
        """Until Linli has nothing left to do: everything sent has reached it (the homeserver
        delivers one transaction at a time, in order, so a command sent now being in Linli's
        inbox means every earlier event is there too), its inbox is handled, every reminder
        and escalation of the tickets has fired and every work order is delivered."""
        marker = await self.committee.send_text(self.committee_room, "!帮助")
        await self.linli.wait_handled(marker, self.settings.quiet_timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.quiet_timeout
        # Polling Linli's database: from outside there is nothing else to wait on.
        while self._busy() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)

    def _busy(self) -> list[str]:
        return (
            [
                f"inbox event {seq}"
                for (seq,) in self.linli.query(
                    "SELECT seq FROM inbox_events WHERE status='pending'"
                )
            ]
            + self._clock_busy()
            + self.community.busy()
        )

    def _clock_busy(self, *, alone_only: bool = False) -> list[str]:
        """Reminders, escalations and deliveries still to come (they all fall due within two
        minutes of a ticket's opening; an auto-close waits three days and is not counted);
        `alone_only`: those of the tickets nobody touches, which the kills wait for."""
        alone = {m.event_id for m in self.mentions if m.alone}
        ids = {
            str(ticket_id)
            for ticket_id, source in self.linli.query("SELECT id, source_event_id FROM tickets")
            if source in alone
        }
        return [
            f"job {key}"
            for (key,) in self.linli.query(
                "SELECT key FROM scheduled_jobs WHERE status='pending' AND kind IN"
                " ('ticket.remind', 'ticket.escalate', 'webhook.deliver')"
            )
            if not alone_only or key.split(":")[1] in ids or key.startswith("webhook:")
        ]

    # ------------------------------------------------------------ counting

    async def check(self) -> Report:
        r = Report(kills=self.linli.kills, starts=self.linli.starts, mentions=len(self.mentions))
        r.untouched = sum(m.alone for m in self.mentions)
        r.commands = Counter(c.kind for c in self.commands)
        r.gaps = self.linli.log_text().count("skips one not received")
        r.other += [f"Linli still busy after the run: {b}" for b in self._busy()[:10]]
        reader = self.residents[0]  # the residents' side: what a neighbour's client shows
        neighbours = await history(reader, self.neighbours)
        committee_room = await history(self.committee, self.committee_room)
        lobby = await history(self.committee, self.lobby)
        from_bot = [e for e in neighbours if self._from_bot(e)]
        answers: dict[str, list[Event]] = {}
        for e in from_bot:
            answers.setdefault(in_reply_to(e) or "", []).append(e)

        self._sent_at = {e["event_id"]: e["origin_server_ts"] for e in neighbours}
        tickets = {
            row[1]: row
            for row in self.linli.query(
                "SELECT id, source_event_id, number, reply_event_id, status, close_reason,"
                " confirm_event_id FROM tickets"
            )
        }
        r.tickets = len(tickets)
        by_number = {row[2]: row for row in tickets.values()}
        if len(tickets) != len(self.mentions):
            r.other.append(f"{len(tickets)} tickets for {len(self.mentions)} mentions")
        self._check_openings(r, tickets, answers)
        self._check_commands(r, by_number, answers, neighbours)
        self._check_clock(r, tickets, from_bot)
        self._check_work_orders(r, by_number)
        self._check_verifications(r, committee_room, lobby)
        top_level = [body(e) for e in from_bot if not _relation(e)]
        r.other += [f"unexpected answer in the neighbours' room: {b!r}" for b in top_level]
        failed = self.linli.query("SELECT event_id, error FROM inbox_events WHERE status='failed'")
        r.other += [f"inbox event {event_id} failed: {error}" for event_id, error in failed]
        votes = await self.votes.check()
        r.ballots = votes.line()
        r.other += votes.problems
        signups = await self.community.check()
        r.signups = signups.line()
        r.other += signups.problems
        return r

    def _check_openings(
        self, r: Report, tickets: dict[str, tuple[Any, ...]], answers: dict[str, list[Event]]
    ) -> None:
        for m in self.mentions:
            ticket = tickets.get(m.event_id)
            replies = [e for e in answers.get(m.event_id, []) if thread_root(e) == m.event_id]
            r.replies += len(replies)
            sent = self._sent_at.get(m.event_id)
            if replies and sent is not None:
                r.reply_seconds.append((replies[0]["origin_server_ts"] - sent) / 1000)
            if ticket is None:
                r.missing.append(f"no ticket for mention {m.event_id}")
            if not replies:
                r.missing.append(f"no reply to mention {m.event_id}")
            elif len(replies) > 1:
                r.duplicates.append(
                    f"{len(replies)} replies to mention {m.event_id}: "
                    + " | ".join(body(e) for e in replies)
                )
            if ticket is not None and replies:
                number = NUMBER.search(body(replies[0]))
                if ticket[3] != replies[0]["event_id"] or (
                    number is None or int(number.group(1)) != ticket[2]
                ):
                    r.other.append(
                        f"ticket #{ticket[2]} (reply {ticket[3]}) does not match the reply"
                        f" residents see ({replies[0]['event_id']}: {body(replies[0])!r})"
                    )

    def _check_commands(
        self,
        r: Report,
        by_number: dict[int, tuple[Any, ...]],
        answers: dict[str, list[Event]],
        neighbours: list[Event],
    ) -> None:
        expected = {
            "ack": "已受理",
            "done": "请确认",
            "confirm_reaction": "已关闭",
            "confirm_command": "已关闭",
        }
        for c in self.commands:
            if c.kind not in expected:
                continue
            said = answers.get(c.event_id, [])
            right = [e for e in said if expected[c.kind] in body(e)]
            if not right:
                r.missing.append(
                    f"{c.kind} #{c.number}: no {expected[c.kind]!r} answer"
                    + (f" (said {[body(e) for e in said]})" if said else "")
                    + f" ({self._inbox_status(c.event_id)})"
                )
            elif len(said) > 1:
                r.duplicates.append(f"{c.kind} #{c.number}: {len(said)} answers")
            ticket = by_number.get(c.number or 0)
            if ticket is None:
                continue
            if c.kind == "done" and right and ticket[6] != right[0]["event_id"]:
                r.other.append(f"ticket #{c.number} does not know its confirmation question")
            if c.kind == "done" and right:
                offered = Counter(
                    e["content"]["m.relates_to"]["key"]
                    for e in neighbours
                    if e.get("sender") == self.bot
                    and e.get("type") == "m.reaction"
                    and _relation(e).get("event_id") == right[0]["event_id"]
                )
                if sorted(offered) != sorted(OFFERED_KEYS) or max(offered.values()) > 1:
                    r.other.append(f"ticket #{c.number}: reactions offered {dict(offered)}")
            if c.kind.startswith("confirm") and (ticket[4], ticket[5]) != ("closed", "confirmed"):
                r.other.append(f"ticket #{c.number} confirmed but {ticket[4]}/{ticket[5]}")

    def _check_clock(
        self, r: Report, tickets: dict[str, tuple[Any, ...]], from_bot: list[Event]
    ) -> None:
        """Reminders and escalation notices: at most one of each per ticket and deadline, and
        exactly one for a ticket nobody touched; each notice matches Linli's record of it."""
        escalated: dict[int, Counter[str]] = {}
        for ticket_id, detail in self.linli.query(
            "SELECT ticket_id, detail FROM ticket_log WHERE action='escalated'"
        ):
            escalated.setdefault(ticket_id, Counter())[json.loads(detail)["which"]] += 1
        for m in self.mentions:
            ticket = tickets.get(m.event_id)
            if ticket is None:
                continue
            thread = [e for e in from_bot if thread_root(e) == m.event_id]
            reminders = [e for e in thread if body(e).startswith("提醒")]
            notices = [e for e in thread if "网格化管理平台" in body(e)]
            r.reminders += len(reminders)
            r.escalation_notices += len(notices)
            logged = escalated.get(ticket[0], Counter())
            if len(reminders) > 1:
                r.duplicates.append(f"ticket #{ticket[2]}: {len(reminders)} reminders")
            if len(notices) > 2:
                r.duplicates.append(f"ticket #{ticket[2]}: {len(notices)} escalation notices")
            if any(n > 1 for n in logged.values()):
                r.duplicates.append(f"ticket #{ticket[2]}: escalation logged {dict(logged)}")
            if len(notices) != len(logged):
                r.other.append(
                    f"ticket #{ticket[2]}: {len(notices)} escalation notices, logged {dict(logged)}"
                )
            if m.alone and (len(reminders), len(notices)) != (1, 2):
                r.missing.append(
                    f"untouched ticket #{ticket[2]}: {len(reminders)} reminders and"
                    f" {len(notices)} escalation notices (expected 1 and 2)"
                )
        now = datetime.now(UTC)
        for key, status, due_at in self.linli.query(
            "SELECT key, status, due_at FROM scheduled_jobs WHERE key LIKE 'ticket:%'"
        ):
            if status == "failed" or (status == "pending" and _utc(due_at) < now):
                r.other.append(f"job {key} is {status} (due {due_at})")

    def _check_work_orders(self, r: Report, by_number: dict[int, tuple[Any, ...]]) -> None:
        """Each work order reaches the grid, once as the grid counts (it may hear the same
        delivery again after a crash between its answer and Linli's record of it: at least
        once, with the delivery's ID to recognise it)."""
        outbox = self.linli.query("SELECT id, key, status FROM webhook_outbox")
        r.work_orders = len(outbox)
        received: dict[str, list[Any]] = {}
        for got in self.grid.received:
            received.setdefault(got.delivery, []).append(got)
            if not got.signed:
                r.other.append(f"work order {got.delivery} badly signed")
        r.webhook_posts = len(self.grid.received)
        r.redeliveries = sum(len(v) - 1 for v in received.values())
        for entry_id, key, status in outbox:
            if status != "delivered":
                r.missing.append(f"work order {key} is {status}")
            if str(entry_id) not in received:
                r.missing.append(f"work order {key} never reached the grid")
        references = Counter(got[0].body.get("reference") for got in received.values() if got)
        r.duplicates += [f"{n} work orders for {ref}" for ref, n in references.items() if n > 1]
        unknown = set(received) - {str(row[0]) for row in outbox}
        r.other += [f"grid got delivery {d}, not in Linli's outbox" for d in sorted(unknown)]
        alone = {m.event_id for m in self.mentions if m.alone}
        for number, ticket in by_number.items():
            if ticket[1] in alone and f"linli:heping:{number}" not in references:
                r.missing.append(f"no work order for untouched ticket #{number}")

    def _check_verifications(
        self, r: Report, committee_room: list[Event], lobby: list[Event]
    ) -> None:
        requests = {
            row[3]: row
            for row in self.linli.query(
                "SELECT id, user_id, status, source_event_id FROM verification_requests"
            )
        }
        residents = {row[0] for row in self.linli.query("SELECT user_id FROM residents")}
        staff_said = [body(e) for e in committee_room if self._from_bot(e)]
        lobby_said = [body(e) for e in lobby if self._from_bot(e)]
        verifies = [c for c in self.commands if c.kind == "verify"]
        for c in verifies:
            if c.event_id not in requests:
                r.missing.append(f"no verification request for {c.user}'s {c.event_id}")
            shown = [b for b in staff_said if b.startswith("认证申请 #") and c.user in b]
            if len(shown) != 1:
                (r.missing if not shown else r.duplicates).append(
                    f"{len(shown)} requests shown to the committee for {c.user}"
                )
        for c in verifies:
            welcomed = [
                e
                for e in lobby
                if self._from_bot(e)
                and body(e).startswith("欢迎来到")
                and c.user in e["content"].get("m.mentions", {}).get("user_ids", [])
            ]
            if len(welcomed) != 1:
                (r.missing if not welcomed else r.duplicates).append(
                    f"{len(welcomed)} welcomes for {c.user} in the lobby"
                )
        received = sum(b.startswith("已收到认证申请") for b in lobby_said)
        if received != len(verifies):
            (r.missing if received < len(verifies) else r.duplicates).append(
                f"{received} acknowledgements in the lobby for {len(verifies)} requests"
            )
        for c in (c for c in self.commands if c.kind == "approve"):
            approved = [
                e
                for e in lobby
                if self._from_bot(e)
                and "认证通过" in body(e)
                and c.user in e["content"].get("m.mentions", {}).get("user_ids", [])
            ]
            told = [b for b in staff_said if b == f"认证申请 #{c.number} 已同意。"]
            for what, found in (("approval notice", approved), ("committee answer", told)):
                if len(found) != 1:
                    (r.missing if not found else r.duplicates).append(
                        f"request #{c.number}: {len(found)} {what}s"
                    )
            status = [row[2] for row in requests.values() if row[0] == c.number]
            if status != ["approved"] or c.user not in residents:
                r.other.append(
                    f"request #{c.number}: status {status}, resident: {c.user in residents}"
                )
        r.other += [f"committee told: {b!r}" for b in staff_said if "已经处理过了" in b]
