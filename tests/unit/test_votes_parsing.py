"""What people type to start a poll, and what clients send to answer one."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bots.votes.parsing import PollTextError, parse_closing, parse_poll, poll_response
from bridge.events import OtherEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def test_a_poll_has_a_question_options_and_flags_in_either_bar() -> None:
    poll = parse_poll("周六几点扫除？| 8点 ｜ 9点 | 多选 | 每户一票 | 截止 2小时", NOW, SHANGHAI)
    assert poll.question == "周六几点扫除？"
    assert poll.options == ("8点", "9点")
    assert poll.multiple and poll.per_household
    assert poll.closes_at == datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("| a | b", "votes.no_question"),
        ("问题 | 只有一个", "votes.too_few_options"),
        ("问题 | a | a", "votes.duplicate_option"),
        ("问题 | a | b | 截止 明天", "votes.bad_closing"),
        ("问题 | a | b | 截止 100天", "votes.bad_closing"),
    ],
)
def test_a_bad_poll_says_why(text: str, key: str) -> None:
    with pytest.raises(PollTextError) as caught:
        parse_poll(text, NOW, SHANGHAI)
    assert caught.value.key == key


def test_closing_times_read_as_durations_clock_times_and_dates() -> None:
    assert parse_closing("30分钟", NOW, SHANGHAI) == datetime(2026, 11, 23, 10, 30, tzinfo=SHANGHAI)
    assert parse_closing("3d", NOW, SHANGHAI) == datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
    assert parse_closing("18:00", NOW, SHANGHAI) == datetime(2026, 11, 23, 18, tzinfo=SHANGHAI)
    assert parse_closing("9:00", NOW, SHANGHAI) == datetime(2026, 11, 24, 9, tzinfo=SHANGHAI)
    assert parse_closing("11-25 18:00", NOW, SHANGHAI) == datetime(
        2026, 11, 25, 18, tzinfo=SHANGHAI
    )
    with pytest.raises(PollTextError):
        parse_closing("11-20 18:00", NOW, SHANGHAI)  # in the past
    with pytest.raises(PollTextError):
        parse_closing("2-30 18:00", NOW, SHANGHAI)  # no such day


def response(event_type: str, content: dict[str, object]) -> OtherEvent:
    return OtherEvent("$r", "!room", "@a:x", event_type, 1, content=content)


REF = {"rel_type": "m.reference", "event_id": "$poll"}


def test_responses_are_read_under_the_unstable_and_stable_names() -> None:
    element = response(
        "org.matrix.msc3381.poll.response",
        {"m.relates_to": REF, "org.matrix.msc3381.poll.response": {"answers": ["o1"]}},
    )
    stable = response(
        "m.poll.response", {"m.relates_to": REF, "m.poll.response": {"answers": ["o2"]}}
    )
    selections = response("m.poll.response", {"m.relates_to": REF, "m.selections": ["o1", "o2"]})
    assert poll_response(element) is not None and poll_response(element).answers == ("o1",)  # type: ignore[union-attr]
    assert poll_response(stable).answers == ("o2",)  # type: ignore[union-attr]
    assert poll_response(selections).answers == ("o1", "o2")  # type: ignore[union-attr]
    assert poll_response(selections).poll_event_id == "$poll"  # type: ignore[union-attr]


def test_other_events_and_broken_responses_are_not_responses() -> None:
    assert poll_response(response("m.room.topic", {"topic": "x"})) is None
    assert (
        poll_response(response("m.poll.response", {"m.poll.response": {"answers": ["o1"]}})) is None
    )


@pytest.mark.parametrize(
    "text",
    ["问题 | 是 | 是\u200b", "问题 | A | Ａ", "问题 | yes | YES", "问题 | 好 的 | 好  的"],
)
def test_options_that_look_the_same_are_one_option(text: str) -> None:
    with pytest.raises(PollTextError) as caught:
        parse_poll(text, NOW, SHANGHAI)
    assert caught.value.key == "votes.duplicate_option"


@pytest.mark.parametrize(
    "text", ["问题 | a | b | 截止 ", "问题 | a | b | 截止", "问题 | a | b | closes"]
)
def test_a_close_with_no_time_is_refused(text: str) -> None:
    with pytest.raises(PollTextError) as caught:
        parse_poll(text, NOW, SHANGHAI)
    assert caught.value.key == "votes.closing_missing"


def test_a_response_whose_answers_are_not_a_list_is_a_bad_answer_not_nothing() -> None:
    event = OtherEvent(
        "$r",
        "!room",
        "@a:x",
        "org.matrix.msc3381.poll.response",
        1,
        content={
            "m.relates_to": {"rel_type": "m.reference", "event_id": "$poll"},
            "org.matrix.msc3381.poll.response": {"answers": "o1"},
        },
    )
    response = poll_response(event)
    assert response is not None and response.answers == ()


def test_every_votes_command_has_its_usage_and_summary_in_both_languages() -> None:
    from bots.votes.bot import VoteBot
    from bridge.i18n import default_catalogue

    assert VoteBot.texts is not None
    catalogue = default_catalogue((VoteBot.texts,))
    for spec in VoteBot.commands.specs:
        for locale in ("zh", "en"):
            for part in ("usage", "summary"):
                assert catalogue.text(locale, f"{spec.key}.{part}"), spec.key
