"""A closed poll's result: frozen once as plain JSON (exact shares as "p/q" strings), and put
into words from that frozen form, so a replayed close says exactly what the first one said."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from bots.votes import audit
from bots.votes.rules import (
    Comparison,
    Outcome,
    Threshold,
    area_text,
    latest_answers,
    percent,
    quick_tally,
    tally_totals,
)
from bots.votes.store import Material, PollRecord

Text = Callable[..., str]


def freeze(poll: PollRecord, material: Material) -> dict[str, Any]:
    """The result of a closing poll as plain JSON: a quick poll its counts; a formal vote its
    outcome and how many ballots counted from where (the lists are in the vote's count tables,
    and in its audit file)."""
    if poll.kind == "quick":
        counted = latest_answers(material.answers, poll.per_household)
        return {
            "counts": quick_tally(poll.option_ids, counted.values()),
            "voters": len(counted),
        }
    assert poll.rule is not None and material.formal is not None
    count = material.formal
    outcome = tally_totals(
        audit.rule_of(poll.rule), count.electorate_heads, count.electorate_area, count.totals
    )
    return {
        "outcome": audit.outcome_json(outcome),
        "passed": outcome.passed,
        "counted": {"online": count.online, "paper": count.paper, "secret": count.secret},
        # Both figures: persons (owners, the rule's heads) above, parts (households) here.
        "parts": {"electorate": count.electorate_parts, "voted": count.voted_parts},
    }


def _exact_key(key: str, value: Any) -> bool:
    return key.endswith("_area") or (key.endswith("_heads") and isinstance(value, str))


def outcome_of(result: dict[str, Any]) -> Outcome:
    values: dict[str, Any] = {
        k: Fraction(v)
        if k.endswith("_area") or (isinstance(v, str) and k.endswith("_heads"))
        else v
        for k, v in result["outcome"].items()
    }
    return Outcome(**values)


def rule_text(text: Text, rule: dict[str, Any]) -> str:
    if rule["name"] == "custom":
        return text(
            "votes.rule_custom",
            participation=_share(Fraction(rule["participation"])),
            approval=_share(Fraction(rule["approval"])),
        )
    return text(f"votes.rule_{rule['name']}")


def _amount(value: Fraction | int, key: str) -> str:
    if key.endswith("_area"):
        return area_text(Fraction(value))
    if isinstance(value, Fraction) and value.denominator != 1:
        return area_text(value)  # owners' shares: two decimals, for reading
    return str(value)


def heads_text(value: Fraction) -> str:
    """Owners' heads for reading: whole numbers as they are, shares to two decimals."""
    return _amount(value, "heads")


def _share(value: Fraction) -> str:
    return str(value) if value.denominator != 1 else str(value.numerator)


def _check(text: Text, threshold: Threshold | None, met: bool | None) -> str:
    if threshold is None or met is None:
        return ""
    word = "votes.at_least" if threshold.comparison is Comparison.AT_LEAST else "votes.more_than"
    bound = text(word, share=_share(threshold.share))
    return text("votes.check_met" if met else "votes.check_missed", threshold=bound)


def result_text(text: Text, poll: PollRecord) -> str:
    assert poll.result is not None
    if poll.kind == "quick":
        counts = poll.result["counts"]
        listed = "\n".join(
            text("votes.result_line", option=o["text"], count=counts.get(o["id"], 0))
            for o in poll.options
        )
        unit = "votes.unit_households" if poll.per_household else "votes.unit_people"
        return text(
            "votes.result_quick",
            number=poll.number,
            question=poll.question,
            lines=listed,
            voters=poll.result["voters"],
            unit=text(unit),
        )
    assert poll.rule is not None
    rule = audit.rule_of(poll.rule)
    o = outcome_of(poll.result)
    weighted = poll.eligibility == "owners"
    # (figure, part, whole, threshold, met) by head, then by area for owners' votes.
    figures: list[tuple[str, Fraction | int, Fraction | int, Threshold | None, bool | None]] = [
        (
            "participation_heads",
            o.voted_heads,
            o.electorate_heads,
            rule.participation_heads,
            o.participation_heads_met,
        ),
        (
            "participation_area",
            o.voted_area,
            o.electorate_area,
            rule.participation_area,
            o.participation_area_met,
        ),
        ("approval_heads", o.yes_heads, o.voted_heads, rule.approval_heads, o.approval_heads_met),
        ("approval_area", o.yes_area, o.voted_area, rule.approval_area, o.approval_area_met),
    ]
    lines = [
        text(
            f"votes.{key}",
            part=_amount(part, key),
            whole=_amount(whole, key),
            percent=percent(Fraction(part), Fraction(whole)),
            check=_check(text, threshold, met),
        )
        for key, part, whole, threshold, met in figures
        if weighted or key.endswith("_heads")
    ]
    lines.append(
        text(
            "votes.counts",
            yes=_amount(o.yes_heads, "heads"),
            no=_amount(o.no_heads, "heads"),
            abstain=_amount(o.abstain_heads, "heads"),
        )
    )
    if weighted:
        areas = {
            c: area_text(a)
            for c, a in (("yes", o.yes_area), ("no", o.no_area), ("abstain", o.abstain_area))
        }
        lines.append(text("votes.counts_area", **areas))
        parts = poll.result.get("parts")
        if parts is not None:
            lines.append(text("votes.parts", voted=parts["voted"], electorate=parts["electorate"]))
    counted = poll.result.get("counted", {})
    if counted.get("paper"):
        rule_key = "votes.paper_rule_secret" if poll.secret else "votes.paper_rule_open"
        lines.append(text(rule_key, paper=counted["paper"]))
    return text(
        "votes.result_formal",
        number=poll.number,
        question=poll.question,
        rule=rule_text(text, poll.rule),
        lines="\n".join(lines),
        verdict=text("votes.passed" if o.passed else "votes.failed"),
    )
