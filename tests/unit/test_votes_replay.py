"""The votes bot run twice for one event (a crash after its change was stored, or the same
event resent): a poll is posted once, an answer counted once, a close announced once. The
bridge runs on a real SQLite store with a recording homeserver client, no network."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from bots import ALL_BOTS
from bots.votes.bot import VoteBot
from bots.votes.jobs import ClosePoll, HandOut
from bots.votes.models import BallotPaper
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig
from bridge.rooms_config import load_rooms_config
from bridge.store.jobs import Job
from tests.recording_client import RecordingClient

MESSAGE = "m.room.message"  # the result notice, not the poll's end event

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
ALICE = "@alice:linli.localhost"
BOB = "@bob:linli.localhost"  # same household as Alice
CAROL = "@carol:linli.localhost"
OBSERVER = "@jiedao_liu:linli.localhost"


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    token = secrets.token_hex(8)
    config = BridgeConfig(
        appservice=AppserviceConfig(as_token=token, hs_token=token),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}/linli.db"),
        receipt_key_file=tmp_path / "receipt.key",
    )
    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    client = RecordingClient(config.bot_user_id)
    running = Bridge(config, rooms, ALL_BOTS, client=client, clock=FakeClock(NOW))
    await running.open()
    people = running.store.people
    await people.bind_household("heping", ALICE, "3", "1", "101", NOW)
    await people.bind_household("heping", BOB, "3", "1", "101", NOW)
    await people.bind_household("heping", CAROL, "3", "1", "102", NOW)
    await running.provisioner.apply()
    yield running
    await running.store.close()


def message(event_id: str, sender: str, body: str, room: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": body},
    }


def response(event_id: str, sender: str, poll: str, answers: list[str], room: str, ts: int = 2):
    return {
        "event_id": event_id,
        "room_id": room,
        "sender": sender,
        "type": "org.matrix.msc3381.poll.response",
        "origin_server_ts": ts,
        "content": {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            "org.matrix.msc3381.poll.response": {"answers": answers},
        },
    }


async def room(bridge: Bridge, key: str) -> str:
    record = await bridge.store.rooms.by_key(f"heping:{key}")
    assert record is not None
    return record.room_id


def recording(bridge: Bridge) -> RecordingClient:
    assert isinstance(bridge.client, RecordingClient)
    return bridge.client


async def test_a_poll_command_handled_twice_posts_one_poll(bridge: Bridge) -> None:
    hall = await room(bridge, "neighbours")
    command = message("$p", ALICE, "!投票 午饭？| 饺子 | 面条", hall)
    await bridge.router.handle(command, NOW, fresh=True)
    await bridge.router.handle(command, NOW, fresh=False)
    starts = [s for s in recording(bridge).sent if s.event_type == "org.matrix.msc3381.poll.start"]
    assert len(starts) == 1
    poll = starts[0].content["org.matrix.msc3381.poll.start"]
    assert [a["org.matrix.msc1767.text"] for a in poll["answers"]] == ["饺子", "面条"]
    assert starts[0].content["org.matrix.msc1767.text"] == "午饭？\n1. 饺子\n2. 面条"
    assert len([b for b in recording(bridge).bodies(hall) if "投票 #1 已发起" in b]) == 1


async def test_an_answer_delivered_twice_counts_once_and_the_close_is_announced_once(
    bridge: Bridge,
) -> None:
    hall = await room(bridge, "neighbours")
    await bridge.router.handle(message("$p", ALICE, "!投票 午饭？| 饺子 | 面条", hall), NOW)
    [start] = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    first = response("$r1", CAROL, start.event_id, ["o1"], hall)
    await bridge.router.handle(first, NOW, fresh=True)
    await bridge.router.handle(first, NOW, fresh=False)
    votes = bridge.bot(VoteBot).votes
    poll = await votes.get("heping", 1)
    assert poll is not None
    assert len(await votes.answers(poll.id)) == 1
    end = message("$e", ALICE, "!投票 结束 1", hall)
    await bridge.router.handle(end, NOW, fresh=True)
    await bridge.router.handle(end, NOW, fresh=False)
    ends = [s for s in recording(bridge).sent if s.event_type == "org.matrix.msc3381.poll.end"]
    assert len(ends) == 1
    assert ends[0].content["m.relates_to"] == {
        "rel_type": "m.reference",
        "event_id": start.event_id,
    }
    results = [b for b in recording(bridge).bodies(hall, MESSAGE) if b.startswith("投票 #1 已结束")]
    assert results == ["投票 #1 已结束：午饭？\n饺子：1 票\n面条：0 票\n共 1 人参与。"]


async def test_a_household_poll_counts_the_households_latest_answer(bridge: Bridge) -> None:
    hall = await room(bridge, "neighbours")
    await bridge.router.handle(
        message("$p", CAROL, "!投票 装门禁吗？| 装 | 不装 | 每户一票 | 截止 1小时", hall), NOW
    )
    [start] = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    await bridge.router.handle(response("$a", ALICE, start.event_id, ["o1"], hall, ts=10), NOW)
    await bridge.router.handle(response("$b", BOB, start.event_id, ["o2"], hall, ts=20), NOW)
    await bridge.router.handle(response("$c", CAROL, start.event_id, ["o1"], hall, ts=30), NOW)
    clock = bridge.services.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(hours=1))
    assert await bridge.scheduler.run_due() == 1
    assert await bridge.scheduler.run_due() == 0
    results = [b for b in recording(bridge).bodies(hall, MESSAGE) if b.startswith("投票 #1 已结束")]
    assert results == ["投票 #1 已结束：装门禁吗？\n装：1 票\n不装：1 票\n共 2 户参与。"]
    # An answer after the close is refused, and counts nothing.
    await bridge.router.handle(response("$d", BOB, start.event_id, ["o1"], hall, ts=40), NOW)
    assert recording(bridge).bodies(hall)[-1] == "投票 #1 已经结束，这次选择没有计入。"


async def test_bad_answers_and_strangers_are_refused_and_change_no_count(bridge: Bridge) -> None:
    hall = await room(bridge, "neighbours")
    await bridge.router.handle(
        message("$p", CAROL, "!投票 装门禁吗？| 装 | 不装 | 每户一票", hall), NOW
    )
    [start] = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    await bridge.router.handle(response("$x", ALICE, start.event_id, ["o9"], hall), NOW)
    assert recording(bridge).bodies(hall)[-1] == "投票 #1 没有这个选项，这次选择没有计入。"
    malformed = response("$m", ALICE, start.event_id, [], hall)
    malformed["content"]["org.matrix.msc3381.poll.response"]["answers"] = "o1"  # not a list
    await bridge.router.handle(malformed, NOW)
    assert recording(bridge).bodies(hall)[-1] == "投票 #1 没有这个选项，这次选择没有计入。"
    assert len(recording(bridge).bodies(hall)) == 4  # poll, opened, and two refusals
    await bridge.router.handle(response("$y", "@stranger:x", start.event_id, ["o1"], hall), NOW)
    assert "只有认证过的住户可以投" in recording(bridge).bodies(hall)[-1]
    poll = await bridge.bot(VoteBot).votes.get("heping", 1)
    assert poll is not None and await bridge.bot(VoteBot).votes.answers(poll.id) == []


async def test_a_bad_poll_command_is_answered_and_posts_nothing(bridge: Bridge) -> None:
    hall = await room(bridge, "neighbours")
    await bridge.router.handle(message("$p", CAROL, "!投票 只有问题", hall), NOW)
    assert recording(bridge).bodies(hall)[-1].startswith("至少要有两个选项")
    assert not [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    await bridge.router.handle(message("$q", CAROL, "!投票 结束 7", hall), NOW)
    assert recording(bridge).bodies(hall)[-1] == "没有找到投票 #7。"


async def test_a_closing_job_fired_again_after_a_crash_announces_once(bridge: Bridge) -> None:
    hall = await room(bridge, "neighbours")
    await bridge.router.handle(
        message("$p", CAROL, "!投票 装吗？| 装 | 不装 | 截止 1小时", hall), NOW
    )
    bot = bridge.bot(VoteBot)
    poll = await bot.votes.get("heping", 1)
    assert poll is not None
    [job] = await bridge.store.jobs.due(NOW + timedelta(hours=1))
    payload = ClosePoll(poll=poll.id)
    await bot.closer.close_when_due(job, payload)
    await bot.closer.close_when_due(job, payload)  # the crash came before the job was marked done
    sent = recording(bridge).sent
    assert len([s for s in sent if s.event_type == "org.matrix.msc3381.poll.end"]) == 1
    assert (
        len([b for b in recording(bridge).bodies(hall, MESSAGE) if b.startswith("投票 #1 已结束")])
        == 1
    )


async def test_households_that_have_not_answered_get_one_reminder_with_the_turnout(
    bridge: Bridge,
) -> None:
    hall = await room(bridge, "neighbours")
    await bridge.router.handle(
        message("$p", CAROL, "!投票 装门禁吗？| 装 | 不装 | 每户一票 | 截止 2小时 | 提醒", hall),
        NOW,
    )
    [start] = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    await bridge.router.handle(response("$a", ALICE, start.event_id, ["o1"], hall), NOW)
    await bridge.router.handle(message("$t", CAROL, "!投票 进度 1", hall), NOW)
    assert recording(bridge).bodies(hall)[-1] == "#1 目前参与：1/2 户（50.00%）"
    clock = bridge.services.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(hours=1))  # halfway to a close two hours away
    assert await bridge.scheduler.run_due() == 1
    reminders = [b for b in recording(bridge).bodies() if b.startswith("提醒：#1")]
    # Alice's household answered (Bob lives there too); only Carol's household hears it.
    assert reminders == [
        "提醒：#1「装门禁吗？」将于 11月23日 12:00 截止，您（您家）还没有投票。\n"
        "#1 目前参与：1/2 户（50.00%）"
    ]
    [dm] = {s.room_id for s in recording(bridge).sent if s.body.startswith("提醒：#1")}
    assert dm == await bridge.store.people.direct_room(CAROL)
    await bridge.router.handle(message("$q", CAROL, "!投票 只有问题 | a | b | 提醒", hall), NOW)
    assert recording(bridge).bodies(hall)[-1].startswith("要提醒，请同时写截止时间")


async def test_the_demo_seeds_a_roster_with_owners_once(bridge: Bridge) -> None:
    """The demo's roster and owners (its polls are typed by the committee member's own account
    through the homeserver: seen in `linli demo`, tests/integration/test_demo_rerun.py)."""
    from bridge.demo import DEMO_RESIDENTS

    server = bridge.config.homeserver.server_name
    residents = {f"@{r[0]}:{server}": r for r in DEMO_RESIDENTS}
    for user_id, (_, compound, building, unit, room) in residents.items():
        await bridge.store.people.bind_household(compound, user_id, building, unit, room, NOW)
    passwords = dict.fromkeys(residents, "pw")  # no committee password: no commands sent
    bot = bridge.bot(VoteBot)
    await bot.seed_demo(passwords)
    assert await bridge.store.roster.roster_size("heping") == 11
    owners = [v.user_id for v in await bot.electorate.voters("heping") if v.is_owner]
    assert sorted(owners) == sorted(u for u, r in residents.items() if r[1] == "heping")
    await bot.erase_personal(f"@li_si:{server}", None)
    await bridge.store.people.forget(f"@li_si:{server}")
    await bot.seed_demo(passwords)  # a rerun binds no one again
    owners_again = [v.user_id for v in await bot.electorate.voters("heping") if v.is_owner]
    assert owners_again == [f"@zhang_san:{server}"]


async def test_a_forgotten_voter_is_no_longer_named_and_still_counts_once(bridge: Bridge) -> None:
    hall = await room(bridge, "neighbours")
    await bridge.router.handle(message("$p", CAROL, "!投票 午饭？| 饺子 | 面条", hall), NOW)
    [start] = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    await bridge.router.handle(response("$a", ALICE, start.event_id, ["o1"], hall, ts=1), NOW)
    await bridge.router.handle(response("$b", ALICE, start.event_id, ["o2"], hall, ts=2), NOW)
    bot = bridge.bot(VoteBot)
    exported = await bot.export_personal(ALICE)
    assert [a["poll"] for a in exported["poll_answers"]] == [1, 1]
    await bot.erase_personal(ALICE, "heping")
    assert await bot.votes.answers_of(ALICE) == []
    await bridge.router.handle(message("$e", CAROL, "!投票 结束 1", hall), NOW)
    assert recording(bridge).bodies(hall)[-1].endswith("饺子：0 票\n面条：1 票\n共 1 人参与。")


COMMITTEE = "@yewei_zhao:linli.localhost"


def forget_transactions(bridge: Bridge) -> None:
    """The homeserver forgets its transaction IDs (about 30 minutes after each send)."""
    recording(bridge)._by_txn.clear()


async def test_a_formal_close_replayed_past_the_transaction_cache_posts_nothing_again(
    bridge: Bridge,
) -> None:
    hall = await room(bridge, "hall")
    await bridge.router.handle(
        message("$v", COMMITTEE, "!表决 修路 | 简单多数 | 每户一票", hall), NOW
    )
    [start] = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    await bridge.router.handle(response("$r", ALICE, start.event_id, ["yes"], hall), NOW)
    end = message("$end", COMMITTEE, "!投票 结束 1", hall)
    await bridge.router.handle(end, NOW, fresh=True)
    posted = len(recording(bridge).sent)
    assert [b for b in recording(bridge).bodies(hall) if "SHA-256" in b]  # the whole close

    forget_transactions(bridge)
    await bridge.router.handle(end, NOW, fresh=False)  # the inbox runs it again, much later

    assert len(recording(bridge).sent) == posted


async def test_an_answer_to_a_ballot_paper_linli_lost_track_of_is_answered(bridge: Bridge) -> None:
    hall = await room(bridge, "hall")
    await bridge.router.handle(
        message("$v", COMMITTEE, "!表决 修路 | 简单多数 | 每户一票 | 不记名", hall), NOW
    )
    assert await bridge.scheduler.run_due() == 1  # the ballot papers
    dm = await bridge.store.people.direct_room(CAROL)
    assert dm is not None

    def papers() -> list[str]:
        return [
            s.event_id
            for s in recording(bridge).sent
            if s.room_id == dm and s.event_type.endswith("poll.start")
        ]

    [lost] = papers()
    # A crash after posting the papers and before storing them, the job run again past the
    # homeserver's transaction cache: each voter gets a second paper.
    async with bridge.store.db.transaction() as session:
        await session.execute(delete(BallotPaper))
    forget_transactions(bridge)
    bot = bridge.bot(VoteBot)
    poll = await bot.votes.get("heping", 1)
    assert poll is not None
    job = Job(0, f"vote:{poll.id}:papers", "votes.hand_out", NOW, {"poll": poll.id}, 0)
    await bot.secret.hand_out_ballot_papers(job, HandOut(poll=poll.id))
    [_, paper] = papers()

    # An answer to the lost paper is told to use the new one; the new one takes the ballot.
    await bridge.router.handle(response("$old", CAROL, lost, ["yes"], dm), NOW)
    assert "最新" in recording(bridge).bodies(dm)[-1]
    await bridge.router.handle(response("$new", CAROL, paper, ["yes"], dm), NOW)
    assert "回执码" in recording(bridge).bodies(dm)[-1]


async def test_staff_cannot_overturn_a_households_vote_nor_a_household_its_paper_ballot(
    bridge: Bridge,
) -> None:
    hall = await room(bridge, "hall")
    await bridge.router.handle(
        message("$v", COMMITTEE, "!表决 修路 | 简单多数 | 每户一票", hall), NOW
    )
    [start] = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    await bridge.router.handle(response("$r", CAROL, start.event_id, ["no"], hall), NOW)
    # A paper ballot for Carol's household after her online one: refused, with the reason.
    await bridge.router.handle(message("$p1", COMMITTEE, "!投票 纸质 1 3-1-102 同意", hall), NOW)
    assert "已在线上投了表决 #1" in recording(bridge).bodies(hall)[-1]
    # Alice's household on paper first: her answer afterwards is refused and does not count.
    await bridge.router.handle(message("$p2", COMMITTEE, "!投票 纸质 1 3-1-101 同意", hall), NOW)
    assert recording(bridge).bodies(hall)[-1].startswith("已登记 3-1-101")
    await bridge.router.handle(response("$a", ALICE, start.event_id, ["no"], hall), NOW)
    assert "已经交了纸质票" in recording(bridge).bodies(hall)[-1]
    poll = await bridge.bot(VoteBot).votes.get("heping", 1)
    assert poll is not None
    assert [a.voter for a in await bridge.bot(VoteBot).votes.answers(poll.id)] == [CAROL]


async def test_a_long_paper_import_is_refused_whole_with_a_short_answer(bridge: Bridge) -> None:
    hall = await room(bridge, "hall")
    await bridge.router.handle(
        message("$v", COMMITTEE, "!表决 修路 | 简单多数 | 每户一票", hall), NOW
    )
    # 6,000 lines: over the limit, nothing imported, the limit named in lines.
    lines = "\n".join(["3-1-101,同意"] + ["3-1-102,反对"] * 5999)
    await bridge.router.handle(message("$big", COMMITTEE, f"!投票 纸质导入 1\n{lines}", hall), NOW)
    assert recording(bridge).bodies(hall)[-1] == (
        "表决 #1：文件超过 5000 行，一张都没有登记。请分成几个文件发送。"
    )
    # 3,000 bad lines and a good one: nothing imported; the first 10 named, the rest counted.
    bad = "\n".join(["3-1-101,同意"] + ["abc,同意"] * 3000)
    await bridge.router.handle(message("$bad", COMMITTEE, f"!投票 纸质导入 1\n{bad}", hall), NOW)
    answer = recording(bridge).bodies(hall)[-1].split("\n")
    assert (
        answer[0] == "表决 #1：文件里有 3000 行有问题，一张都没有登记。请改好后重新发送整个文件。"
    )
    assert len(answer) == 12 and answer[-1] == "……还有 2990 行有问题。"
    poll = await bridge.bot(VoteBot).votes.get("heping", 1)
    assert poll is not None and await bridge.bot(VoteBot).ballots.papers(poll.id) == []


async def test_a_close_that_fails_tells_the_committee_why_and_can_be_retried(
    bridge: Bridge,
) -> None:
    from sqlalchemy import update

    from bots.votes.models import SecretTotal

    hall = await room(bridge, "hall")
    await bridge.router.handle(
        message("$v", COMMITTEE, "!表决 修路 | 简单多数 | 每户一票 | 不记名", hall), NOW
    )
    assert await bridge.scheduler.run_due() == 1  # the ballot papers
    dm = await bridge.store.people.direct_room(CAROL)
    [paper] = [
        s.event_id
        for s in recording(bridge).sent
        if s.room_id == dm and s.event_type.endswith("poll.start")
    ]
    await bridge.router.handle(response("$b", CAROL, paper, ["yes"], dm), NOW)
    async with bridge.store.db.transaction() as session:  # a total that no longer adds up
        await session.execute(update(SecretTotal).values(heads=5))

    await bridge.router.handle(message("$end", COMMITTEE, "!投票 结束 1", hall), NOW)

    committee_room = await room(bridge, "committee")
    [told] = recording(bridge).bodies(committee_room)
    assert told.startswith("表决 #1 没能结束：不记名票的合计和投票人对不上。")
    assert "没能结束：不记名票的合计和投票人对不上" in recording(bridge).bodies(hall)[-1]
    poll = await bridge.bot(VoteBot).votes.get("heping", 1)
    assert poll is not None and poll.is_open
    async with bridge.store.db.transaction() as session:  # mended
        await session.execute(update(SecretTotal).values(heads=1))
    await bridge.router.handle(message("$again", COMMITTEE, "!投票 结束 1", hall), NOW)
    assert any(b.startswith("表决 #1 结果") for b in recording(bridge).bodies(hall))


async def test_a_votes_jobs_run_in_their_compounds_lane(bridge: Bridge) -> None:
    """Ballot papers, reminders and the close wait only for their own compound's jobs
    (bridge/scheduler.py lanes), never for another compound's fan-out."""
    hall = await room(bridge, "hall")
    await bridge.router.handle(
        message("$v", COMMITTEE, "!表决 修路 | 简单多数 | 每户一票 | 不记名", hall), NOW
    )
    poll = await bridge.bot(VoteBot).votes.get("heping", 1)
    assert poll is not None
    for kind in ("votes.close", "votes.hand_out", "votes.remind"):
        job = Job(0, f"vote:{poll.id}:{kind}", kind, NOW, {"poll": poll.id}, 0)
        assert await bridge.scheduler.lanes_of[kind](job) == "compound:heping"


async def test_ballot_papers_go_out_in_batches_each_voter_once(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret vote's papers are handed out a batch per job (the compound's lane is free in
    between); a batch run again gives no voter a second paper."""
    monkeypatch.setattr("bots.votes.secret.PAPER_BATCH", 2)
    hall = await room(bridge, "hall")
    await bridge.router.handle(
        message("$v", COMMITTEE, "!表决 修路 | 简单多数 | 每户一票 | 不记名", hall), NOW
    )

    def papers() -> list[str]:
        return [s.room_id for s in recording(bridge).sent if s.event_type.endswith("poll.start")]

    hall_polls = len(papers())
    # Two jobs: the first batch of two, which schedules the rest as a job of its own.
    assert await bridge.scheduler.run_due() == 2
    assert len(papers()) - hall_polls == 3
    assert await bridge.scheduler.run_due() == 0
    poll = await bridge.bot(VoteBot).votes.get("heping", 1)
    assert poll is not None
    forget_transactions(bridge)  # past the homeserver's cache: the first batch again
    job = Job(0, f"vote:{poll.id}:papers", "votes.hand_out", NOW, {"poll": poll.id}, 0)
    await bridge.bot(VoteBot).secret.hand_out_ballot_papers(job, HandOut(poll=poll.id))
    assert len(papers()) - hall_polls == 3


async def test_a_poll_posted_then_crashed_before_its_event_was_recorded_is_not_posted_again(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll's row is stored before it is posted, and the post logged once made: a replay
    after the homeserver forgot the transaction ID (about 30 minutes) finds it, and posts
    neither the poll nor its announcement again."""
    hall = await room(bridge, "hall")
    votes = bridge.bot(VoteBot).votes
    real = votes.set_start_event

    async def crash(poll_id: int, start_event_id: str) -> Any:
        raise RuntimeError("killed after posting the poll")

    monkeypatch.setattr(votes, "set_start_event", crash)
    command = message("$v", "@yewei_zhao:linli.localhost", "!表决 修路 | 简单多数 | 每户一票", hall)
    with pytest.raises(RuntimeError):
        await bridge.router.handle(command, NOW, fresh=True)
    monkeypatch.setattr(votes, "set_start_event", real)
    recording(bridge)._by_txn.clear()  # past the homeserver's transaction cache
    await bridge.router.handle(command, NOW, fresh=False)
    recording(bridge)._by_txn.clear()
    await bridge.router.handle(command, NOW, fresh=False)
    starts = [s for s in recording(bridge).sent if s.event_type.endswith("poll.start")]
    assert len(starts) == 1
    poll = await votes.get("heping", 1)
    assert poll is not None and poll.start_event_id == starts[0].event_id
    assert len([b for b in recording(bridge).bodies(hall) if b.startswith("表决 #1 已发起")]) == 1
    # An answer to the poll is taken (the poll is found by its posted event).
    await bridge.router.handle(response("$a", CAROL, starts[0].event_id, ["yes"], hall), NOW)
    assert len(await votes.answers(poll.id)) == 1
