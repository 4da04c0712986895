"""The terms of a formal vote as the committee types them (`议题 | 规则 | 资格 [| 不记名]
[| 截止 3天]`), and the words for rules, eligibility and choices, in Chinese and English. Pure:
the time and zone are passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bots.votes.parsing import PollTextError, parse_closing
from bots.votes.rules import parse_share

SECRET_WORDS = ("不记名", "无记名", "secret")
RULE_WORDS = {
    "简单多数": "simple",
    "simple": "simple",
    "一般": "ordinary",
    "一般事项": "ordinary",
    "ordinary": "ordinary",
    "重大": "major",
    "重大事项": "major",
    "major": "major",
}
ELIGIBILITY_WORDS = {
    "住户": "residents",
    "residents": "residents",
    "每户一票": "households",
    "按户": "households",
    "households": "households",
    "业主": "owners",
    "owners": "owners",
}
CHOICE_WORDS = {
    "同意": "yes",
    "赞成": "yes",
    "yes": "yes",
    "反对": "no",
    "no": "no",
    "弃权": "abstain",
    "abstain": "abstain",
}


@dataclass(frozen=True)
class FormalTerms:
    question: str
    rule: dict[str, Any]  # {"name"} or {"name": "custom", "participation", "approval"}
    eligibility: str  # residents / households / owners
    closes_at: datetime | None
    secret: bool


def parse_formal_terms(text: str, now: datetime, tz: ZoneInfo) -> FormalTerms:
    """The subject, the rule, who may vote, the close, and whether the ballot is secret;
    PollTextError (with the key of the message that says why) otherwise."""
    parts = [p.strip() for p in text.replace("｜", "|").split("|")]
    if len(parts) < 3 or len(parts) > 5 or not parts[0]:
        raise PollTextError("votes.bad_formal")
    question, rule_text, who = parts[0], parts[1].split(), parts[2].casefold()
    if not rule_text:
        raise PollTextError("votes.bad_formal")
    name = RULE_WORDS.get(rule_text[0].casefold())
    if name is not None and len(rule_text) == 1:
        rule: dict[str, Any] = {"name": name}
    elif rule_text[0].casefold() in ("自定义", "custom") and len(rule_text) == 3:
        shares = []
        for word in rule_text[1:]:
            try:
                shares.append(parse_share(word))
            except (ValueError, ZeroDivisionError, ArithmeticError):
                raise PollTextError("votes.bad_share", text=word) from None
            if shares[-1] == 0:
                raise PollTextError("votes.zero_share", text=word)
        rule = {"name": "custom", "participation": str(shares[0]), "approval": str(shares[1])}
    else:
        raise PollTextError("votes.bad_formal")
    eligibility = ELIGIBILITY_WORDS.get(who)
    if eligibility is None:
        raise PollTextError("votes.bad_formal")
    if rule["name"] in ("ordinary", "major") and eligibility != "owners":
        # Art. 278's thresholds are of owners, by head and by area: a vote of residents or of
        # households is not an art. 278 decision, and is not dressed up as one.
        raise PollTextError("votes.art278_owners_only")
    closes_at, secret = None, False
    for extra in parts[3:]:
        words = extra.split(None, 1)
        if extra.casefold() in SECRET_WORDS:
            secret = True
        elif len(words) == 2 and words[0].casefold() in ("截止", "closes", "close", "until"):
            closes_at = parse_closing(words[1], now, tz)
        else:
            raise PollTextError("votes.bad_formal")
    return FormalTerms(question, rule, eligibility, closes_at, secret)
