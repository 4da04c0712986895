"""The votes bot's pure rules: latest answer wins, quick tallies, and the Civil Code art. 278
double thresholds in exact arithmetic, at their edges (≥ for "以上", > for "过半数")."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from bots.votes.formal_terms import parse_formal_terms
from bots.votes.parsing import PollTextError
from bots.votes.rules import (
    MAJOR,
    ORDINARY,
    SIMPLE,
    Answer,
    custom_rule,
    formal_tally,
    latest_answers,
    parse_share,
    percent,
    quick_tally,
)


def answer(voter: str, choice: str, ts: int, household: str | None = None, seq: int = 0) -> Answer:
    return Answer(voter, household, (choice,), ts, seq)


def test_the_latest_answer_of_each_voter_wins_and_ties_go_to_the_later_arrival() -> None:
    counted = latest_answers(
        [
            answer("@a", "o1", 10, seq=1),
            answer("@a", "o2", 20, seq=2),
            answer("@b", "o1", 5, seq=3),
            answer("@b", "o2", 5, seq=4),
        ],
        per_household=False,
    )
    assert {k: a.choices for k, a in counted.items()} == {"@a": ("o2",), "@b": ("o2",)}


def test_two_members_of_one_household_count_once_in_a_household_poll() -> None:
    answers = [answer("@a", "o1", 10, "3-2-1101", 1), answer("@b", "o2", 20, "3-2-1101", 2)]
    assert [a.choices for a in latest_answers(answers, per_household=True).values()] == [("o2",)]
    assert len(latest_answers(answers, per_household=False)) == 2


def test_a_multiple_choice_answer_counts_for_each_option_chosen() -> None:
    counted = [Answer("@a", None, ("o1", "o3"), 1, 1), Answer("@b", None, ("o3",), 1, 2)]
    assert quick_tally(["o1", "o2", "o3"], counted) == {"o1": 1, "o2": 0, "o3": 2}


def owners(n: int, area: int = 100) -> dict[str, Fraction]:
    return {f"1-1-{i}": Fraction(area) for i in range(n)}


def ballots(yes: int, no: int = 0, abstain: int = 0) -> dict[str, str]:
    choices = ["yes"] * yes + ["no"] * no + ["abstain"] * abstain
    return {f"1-1-{i}": c for i, c in enumerate(choices)}


def test_participation_of_exactly_two_thirds_is_enough() -> None:
    # 6 of 9 owners and 600 of 900 m²: exactly 2/3 of each ("三分之二以上" includes 2/3).
    outcome = formal_tally(ORDINARY, owners(9), ballots(6))
    assert outcome.participation_heads_met and outcome.participation_area_met
    assert outcome.passed


def test_participation_just_below_two_thirds_fails_even_if_all_agree() -> None:
    electorate = owners(9)
    electorate["1-1-8"] = Fraction(10001, 100)  # 900.01 m² in all: 600/900.01 < 2/3
    outcome = formal_tally(ORDINARY, electorate, ballots(6))
    assert outcome.participation_heads_met is True
    assert outcome.participation_area_met is False
    assert not outcome.passed


def test_approval_of_exactly_half_is_not_more_than_half() -> None:
    # "过半数": exactly half of the participants is not enough, by head or by area.
    outcome = formal_tally(ORDINARY, owners(8), ballots(yes=3, no=3))
    assert outcome.participation_heads_met  # 6/8 ≥ 2/3
    assert outcome.approval_heads_met is False and outcome.approval_area_met is False
    assert not outcome.passed
    one_more = formal_tally(ORDINARY, owners(8), ballots(yes=4, no=3))
    assert one_more.passed


def test_half_by_head_but_more_by_area_still_fails_the_double_threshold() -> None:
    electorate = {"a": Fraction(200), "b": Fraction(50), "c": Fraction(50)}
    outcome = formal_tally(ORDINARY, electorate, {"a": "yes", "b": "no"})
    assert outcome.approval_area_met is True  # 200 of 250 m²
    assert outcome.approval_heads_met is False  # 1 of 2: not more than half
    assert not outcome.passed


def test_approval_of_exactly_three_quarters_passes_a_major_matter() -> None:
    outcome = formal_tally(MAJOR, owners(8), ballots(yes=6, no=2))
    assert outcome.approval_heads_met and outcome.approval_area_met
    assert outcome.passed


def test_approval_just_below_three_quarters_fails_a_major_matter_by_area() -> None:
    electorate = owners(8)
    electorate["1-1-7"] = Fraction(10001, 100)  # the "no" voter's area tips it below 3/4
    outcome = formal_tally(MAJOR, electorate, ballots(yes=6, no=2))
    assert outcome.approval_heads_met is True
    assert outcome.yes_area == 600 and outcome.voted_area == Fraction(80001, 100)
    assert outcome.approval_area_met is False
    assert not outcome.passed


def test_abstentions_take_part_but_do_not_agree() -> None:
    outcome = formal_tally(ORDINARY, owners(3), ballots(yes=1, abstain=1, no=0))
    assert outcome.voted_heads == 2 and outcome.participation_heads_met  # 2/3
    assert outcome.approval_heads_met is False  # 1 of 2


def test_a_simple_majority_has_no_participation_threshold() -> None:
    outcome = formal_tally(SIMPLE, owners(100, 1), ballots(yes=2, no=1))
    assert outcome.participation_heads_met is None and outcome.passed


def test_nobody_voting_passes_nothing() -> None:
    assert not formal_tally(SIMPLE, owners(3), {}).passed


def test_a_ballot_from_outside_the_electorate_is_a_bug() -> None:
    with pytest.raises(ValueError):
        formal_tally(SIMPLE, owners(1), {"someone else": "yes"})


def test_custom_thresholds_are_at_least_and_read_exactly() -> None:
    rule = custom_rule(parse_share("50%"), parse_share("2/3"))
    assert formal_tally(rule, owners(4), ballots(yes=2)).passed
    assert not formal_tally(rule, owners(6), ballots(yes=2, no=2)).passed
    assert parse_share("0.75") == Fraction(3, 4)
    with pytest.raises(ValueError):
        parse_share("3/2")


def test_percentages_are_rounded_for_reading_only() -> None:
    assert percent(Fraction(2), Fraction(3)) == "66.67%"
    assert percent(Fraction(0), Fraction(0)) == "0.00%"


def test_the_result_chart_has_a_bar_per_threshold_and_is_a_png() -> None:
    from bots.votes.result_chart import FALLBACK, bars, result_chart_png

    outcome = formal_tally(MAJOR, owners(8), ballots(yes=6, no=2))
    rows = bars(MAJOR, outcome, weighted=True)
    assert [(label, share) for label, share, _ in rows] == [
        ("participation_heads", Fraction(1)),
        ("participation_area", Fraction(1)),
        ("approval_heads", Fraction(3, 4)),
        ("approval_area", Fraction(3, 4)),
    ]
    assert result_chart_png(FALLBACK, MAJOR, outcome, True).startswith(b"\x89PNG")


def test_the_result_chart_draws_its_labels_in_the_compounds_language() -> None:
    import warnings
    from pathlib import Path

    from bots.votes.result_chart import FALLBACK, result_chart
    from bridge.i18n import Catalogue

    texts = Catalogue.load(bot_texts=[Path(__file__).parents[2] / "bots" / "votes" / "texts"])
    words = {key: texts.text("zh", f"votes.chart_{key}", number=3) for key in FALLBACK}
    outcome = formal_tally(MAJOR, owners(8), ballots(yes=6, no=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of each glyph its font lacks
        figure = result_chart(words, MAJOR, outcome, weighted=True)
        figure.canvas.draw()
    axes = figure.axes[0]
    assert axes.get_title() == "表决 #3 结果"
    assert [t.get_text() for t in axes.get_yticklabels()] == [
        "同意面积",
        "同意人数",
        "参与面积",
        "参与人数",
    ]
    assert axes.get_xlabel() == "%（黑线为门槛）"
    assert all("CJK" in t.get_fontname() for t in axes.get_yticklabels())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("议题 | 自定义 0 0 | 业主", "votes.zero_share"),
        ("议题 | 自定义 2/3 0% | 业主", "votes.zero_share"),
        ("议题 | 自定义 1e-5 1e-5 | 业主", "votes.bad_share"),
        ("议题 | 自定义 0x1 1/2 | 业主", "votes.bad_share"),
        ("议题 | 一般 | 每户一票", "votes.art278_owners_only"),
        ("议题 | 重大 | 住户", "votes.art278_owners_only"),
    ],
)
def test_custom_thresholds_need_a_floor_and_art_278_rules_need_owners(text: str, key: str) -> None:
    with pytest.raises(PollTextError) as caught:
        parse_formal_terms(text, NOW, SHANGHAI)
    assert caught.value.key == key


SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
