"""Guessing a ticket's category and urgency from the resident's message, in Chinese and English."""

from __future__ import annotations

import pytest

from bots.tickets.categories import (
    DEFAULT_KEYWORDS_EN,
    DEFAULT_KEYWORDS_ZH,
    DEFAULT_URGENT_EN,
    DEFAULT_URGENT_ZH,
    Category,
    guess_category,
    is_urgent,
)


def test_broken_lift_is_a_repair() -> None:
    assert guess_category("@物业 3号楼电梯坏了", DEFAULT_KEYWORDS_ZH) is Category.REPAIR


def test_category_with_most_keywords_wins() -> None:
    # Parking: 停车, 车位, 车库, 道闸 (4) against repair: 坏 (1).
    text = "楼下停车位被占了，车库道闸也坏了"
    assert guess_category(text, DEFAULT_KEYWORDS_ZH) is Category.PARKING


def test_tie_goes_to_the_earlier_category() -> None:
    # 漏水 (repair) and 装修 (noise): one each, repair comes first.
    assert guess_category("楼上装修，我家漏水", DEFAULT_KEYWORDS_ZH) is Category.REPAIR
    # 垃圾 (sanitation) and 半夜 (noise): one each, sanitation comes first.
    assert guess_category("半夜有人倒垃圾", DEFAULT_KEYWORDS_ZH) is Category.SANITATION


def test_message_without_any_keyword_is_other() -> None:
    assert guess_category("请问物业费怎么交？", DEFAULT_KEYWORDS_ZH) is Category.OTHER
    assert guess_category("", DEFAULT_KEYWORDS_ZH) is Category.OTHER


def test_a_word_repeated_counts_once() -> None:
    # 吵 three times is one noise keyword; 垃圾 and 臭 are two sanitation keywords.
    assert guess_category("吵吵吵，垃圾好臭", DEFAULT_KEYWORDS_ZH) is Category.SANITATION


def test_english_keywords_ignore_case() -> None:
    assert guess_category("LOUD music next door", DEFAULT_KEYWORDS_EN) is Category.NOISE


def test_english_keywords_match_whole_words_only() -> None:
    # "car" must not match "carpet", nor "park" match "parkour".
    text = "The carpet in the lobby is dirty, kids do parkour there"
    assert guess_category(text, DEFAULT_KEYWORDS_EN) is Category.SANITATION


def test_english_keyword_next_to_chinese_text_still_matches() -> None:
    assert guess_category("车库的charger坏了", {Category.PARKING: ["charger"]}) is Category.PARKING


def test_table_may_leave_out_categories_or_give_other_keywords() -> None:
    assert guess_category("太吵了", {Category.NOISE: ["吵"]}) is Category.NOISE
    assert guess_category("快递放哪", {Category.OTHER: ["快递"]}) is Category.OTHER


def test_default_tables_name_every_category() -> None:
    assert set(DEFAULT_KEYWORDS_ZH) == set(Category)
    assert set(DEFAULT_KEYWORDS_EN) == set(Category)


def test_category_values_are_stable_strings() -> None:
    assert [c.value for c in Category] == [
        "emergency",
        "repair",
        "sanitation",
        "security",
        "parking",
        "noise",
        "other",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "3栋着火了！",
        "火！",
        "2号电梯困人，快来",
        "厨房燃气味很重",
        "地下室爆管了",
        "楼下火锅店着火了",  # 火锅 is harmless, 着火 is not
        "消防火警响了",  # 火 sits inside 防火, but 火警 does not
        "用灭火器灭火",  # the first 火 is in 灭火器, the second is not
    ],
)
def test_chinese_emergencies_are_urgent(text: str) -> None:
    assert is_urgent(text, DEFAULT_URGENT_ZH)


@pytest.mark.parametrize(
    "text",
    ["今晚小区吃火锅吗", "火车站的班车几点", "防火门坏了", "灭火器过期了", "门禁卡坏了"],
)
def test_harmless_words_with_fire_or_ordinary_requests_are_not_urgent(text: str) -> None:
    assert not is_urgent(text, DEFAULT_URGENT_ZH)


def test_harmless_list_can_be_emptied() -> None:
    assert is_urgent("今晚小区吃火锅吗", DEFAULT_URGENT_ZH, not_urgent=())


@pytest.mark.parametrize(
    "text", ["There is a FIRE in building 3", "gas leak on floor 2", "My neighbour is trapped"]
)
def test_english_emergencies_are_urgent(text: str) -> None:
    assert is_urgent(text, DEFAULT_URGENT_EN)


@pytest.mark.parametrize(
    "text",
    ["Is the fire drill tomorrow?", "The firewall blocks the wifi", "Where do I pay the gas bill"],
)
def test_english_harmless_phrases_are_not_urgent(text: str) -> None:
    assert not is_urgent(text, DEFAULT_URGENT_EN)


@pytest.mark.parametrize(
    "text",
    ["@物业 1号楼电梯坏了，困在里面", "电梯卡住了 我出不来", "老人关在电梯里", "卡在电梯里了"],
)
def test_someone_trapped_is_urgent_however_they_say_it(text: str) -> None:
    assert is_urgent(text, DEFAULT_URGENT_ZH)


@pytest.mark.parametrize(
    "text", ["@物业 电梯困人了", "@物业 1号楼电梯坏了，困在里面", "楼道冒烟了", "有煤气味"]
)
def test_an_emergency_is_filed_as_one_not_as_a_repair(text: str) -> None:
    assert guess_category(text, DEFAULT_KEYWORDS_ZH) is Category.EMERGENCY
