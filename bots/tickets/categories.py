"""What a ticket is about and whether it is urgent, guessed from the resident's words.

Keyword tables are data so a compound can override them in its config; matching is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum


class Category(StrEnum):
    # Declaration order breaks ties in guess_category(): a message about a leaking pipe that
    # also keeps people awake is a repair first; someone trapped in a broken lift is an
    # emergency first.
    EMERGENCY = "emergency"
    REPAIR = "repair"
    SANITATION = "sanitation"
    SECURITY = "security"
    PARKING = "parking"
    NOISE = "noise"
    OTHER = "other"


# Entries within a category should not contain one another ("偷" and "小偷"), or one word
# would count twice.
DEFAULT_KEYWORDS_ZH: Mapping[Category, tuple[str, ...]] = {
    Category.EMERGENCY: (
        "困人", "被困", "困在", "关在电梯", "卡在电梯", "出不来", "着火", "起火", "冒烟",
        "燃气泄漏", "煤气味", "燃气味", "触电", "救命", "晕倒", "摔倒",
    ),
    Category.REPAIR: (
        "坏", "维修", "修理", "报修", "漏水", "渗水", "水管", "下水道", "马桶", "电梯",
        "停电", "跳闸", "灯不亮", "路灯", "停水", "没水", "水压", "门禁", "暖气", "插座",
        "裂缝", "墙皮",
    ),
    Category.SANITATION: (
        "垃圾", "清洁", "保洁", "卫生", "异味", "臭", "脏", "打扫", "蟑螂", "老鼠", "蚊子",
        "狗屎", "粪便", "落叶", "清运",
    ),
    Category.SECURITY: (
        "保安", "门卫", "陌生人", "可疑", "偷", "盗", "监控", "闯入", "打架", "火灾", "消防",
        "安全",
    ),
    Category.PARKING: (
        "停车", "车位", "挪车", "车库", "充电桩", "违停", "乱停", "道闸", "车牌", "堵住",
    ),
    Category.NOISE: (
        "噪音", "吵", "扰民", "广场舞", "狗叫", "施工", "电钻", "装修", "音乐", "半夜",
    ),
    Category.OTHER: (),
}  # fmt: skip

# English keywords match whole words (see _found), so inflections are listed explicitly.
DEFAULT_KEYWORDS_EN: Mapping[Category, tuple[str, ...]] = {
    Category.EMERGENCY: (
        "trapped", "stuck in the lift", "stuck in the elevator", "on fire", "smoke coming",
        "gas leak", "smell of gas", "electric shock", "fainted", "collapsed",
    ),
    Category.REPAIR: (
        "broken", "repair", "fix", "leak", "leaks", "leaking", "pipe", "pipes", "toilet",
        "clogged", "elevator", "lift", "light", "lights", "power", "heating", "not working",
    ),
    Category.SANITATION: (
        "garbage", "trash", "rubbish", "litter", "dirty", "smell", "smells", "stinks",
        "cleaning", "cockroach", "cockroaches", "rats", "mice", "pests", "dog poop",
    ),
    Category.SECURITY: (
        "security", "guard", "stranger", "suspicious", "theft", "stolen", "thief", "burglary",
        "break-in", "cctv", "camera", "fight", "unsafe",
    ),
    Category.PARKING: (
        "parking", "parked", "park", "car", "cars", "garage", "charger", "charging", "blocked",
        "plate",
    ),
    Category.NOISE: (
        "noise", "noisy", "loud", "music", "barking", "drilling", "renovation", "party",
        "late at night",
    ),
    Category.OTHER: (),
}  # fmt: skip

# "火" on its own is kept (a resident in a hurry types "火!"), but an occurrence that is part
# of a harmless word below does not count: a cheap list, not a parser, of what residents
# commonly write in a compound chat (hotpot, trains, a fire door to repair, an extinguisher
# past its date). Longer urgent words such as "着火" or "火灾" still count inside them.
# "上火" is left out on purpose: "楼上火很大" (a big fire upstairs) contains it.
# Someone trapped rarely writes "电梯困人": "电梯坏了，困在里面" and "出不来" count too (found by
# a live test of the demo, where such a ticket got next morning's deadline).
DEFAULT_URGENT_ZH: tuple[str, ...] = (
    "漏水", "火", "着火", "起火", "火灾", "火警", "冒烟", "电梯困人", "困人", "被困", "困在",
    "关在电梯", "卡在电梯", "出不来", "燃气", "煤气", "爆管", "水管爆", "停电", "触电", "救命",
)  # fmt: skip

# No bare "smoke" or "help": "people smoke in the stairwell" and "can you help with parking"
# are everyday requests.
DEFAULT_URGENT_EN: tuple[str, ...] = (
    "fire", "on fire", "gas", "gas leak", "burst pipe", "flood", "flooding", "water leak",
    "trapped", "stuck in the lift", "stuck in the elevator", "power cut", "power outage",
    "blackout", "electric shock",
)  # fmt: skip

DEFAULT_NOT_URGENT: tuple[str, ...] = (
    "火锅", "火车", "火腿", "火鸡", "火龙果", "火箭", "火柴", "打火机", "发火", "恼火",
    "火气", "火爆", "红火", "火热", "烟火气", "防火", "灭火器", "火候",
    "fire drill", "fire door", "fire exit", "fire extinguisher", "gas bill", "gas meter",
)  # fmt: skip


def _pattern(keyword: str) -> str:
    """A regex for `keyword` in case-folded text.

    Chinese has no spaces, so a Chinese keyword matches anywhere. An ASCII keyword must stand
    as whole words, so "fire" does not match "firewall"; the lookarounds are ASCII-only because
    re's \\b counts Chinese characters as word characters and "电梯fire" would not match.
    """
    needle = re.escape(keyword.casefold())
    if not keyword.isascii():
        return needle
    return rf"(?<![a-z0-9]){needle}(?![a-z0-9])"


def _spans(folded_text: str, keyword: str) -> list[tuple[int, int]]:
    if not keyword:
        return []
    return [m.span() for m in re.finditer(_pattern(keyword), folded_text)]


def guess_category(text: str, keywords: Mapping[Category, Sequence[str]]) -> Category:
    """The category with the most distinct keywords in `text`; ties go to the earlier
    category in `Category` order; no keyword at all gives OTHER. Any emergency word makes it
    an emergency, however many repair words come with it ("电梯坏了，困在里面")."""
    folded = text.casefold()
    if any(_spans(folded, word) for word in keywords.get(Category.EMERGENCY, ())):
        return Category.EMERGENCY
    best, best_hits = Category.OTHER, 0
    for category in Category:
        # Distinct keywords, not occurrences: "吵吵吵" is one complaint about noise.
        hits = sum(1 for word in set(keywords.get(category, ())) if _spans(folded, word))
        if hits > best_hits:
            best, best_hits = category, hits
    return best


def is_urgent(
    text: str,
    urgent_keywords: Sequence[str],
    not_urgent: Sequence[str] = DEFAULT_NOT_URGENT,
) -> bool:
    """Whether `text` names an emergency: some urgent keyword occurs outside every harmless
    word of `not_urgent` ("火" in "火锅" does not count; "着火" in "火锅店着火了" does)."""
    folded = text.casefold()
    harmless = [span for phrase in not_urgent for span in _spans(folded, phrase)]
    return any(
        not any(h_start <= start and end <= h_end for h_start, h_end in harmless)
        for word in urgent_keywords
        for start, end in _spans(folded, word)
    )
