"""A closed poll's result: frozen once as plain JSON (exact shares as "p/q" strings), and put
into words from that frozen form, so a replayed close says exactly what the first one said."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from decimal import Decimal
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
)
from bots.votes.store import Material, PollRecord, Voter

Text = Callable[..., str]


def electorate_of(
    poll: PollRecord, voters: Sequence[Voter], areas: dict[str, Decimal]
) -> dict[str, Decimal]:
    """Who may vote and with which weight, as the roster and residents stand at the close."""
    if poll.eligibility == "owners":
        return dict(areas)
    one = Decimal(1)
    if poll.eligibility == "households":
        return {v.household: one for v in voters}
    return {v.user_id: one for v in voters}


def freeze(
    poll: PollRecord, material: Material, voters: Sequence[Voter], areas: dict[str, Decimal]
) -> dict[str, Any]:
    """The result of a closing poll as plain JSON: quick polls their counts; formal votes the
    electorate, every counted ballot (open: by voter; secret: by receipt), paper ballots with
    who entered them, and the verdict."""
    counted = latest_answers(material.answers, poll.per_household)
    if poll.kind == "quick":
        return {
            "counts": quick_tally(poll.option_ids, counted.values()),
            "voters": len(counted),
        }
    assert poll.rule is not None
    electorate = electorate_of(poll, voters, areas)
    papers = [p for p in material.papers if p.household in electorate]
    ballots = [
        {"voter": key, "choice": a.choices[0], "source": "online"}
        for key, a in sorted(counted.items())
        if key in electorate
    ]
    # One household, online and on paper: the paper ballot counts (staff entered it from the
    # signed form, later than any online answer could be checked).
    on_paper = {p.household for p in papers}
    ballots = [b for b in ballots if b["voter"] not in on_paper] + [
        {"voter": p.household, "choice": p.choice, "source": "paper", "entered_by": p.entered_by}
        for p in papers
    ]
    result: dict[str, Any] = {
        "electorate": {k: str(v) for k, v in sorted(electorate.items())},
        "ballots": sorted(ballots, key=lambda b: str(b["voter"])),
    }
    if material.secret is not None:
        secret = material.secret
        result["secret"] = {
            "participants": secret.participants,
            "receipts": [{"receipt": r, "choice": c} for r, c in secret.receipts],
            "area": {c: str(a) for c, a in sorted(secret.area.items())},
        }
    outcome = audit.recount(poll.rule, result)
    result["outcome"] = {
        k: str(v) if isinstance(v, Fraction) else v for k, v in asdict(outcome).items()
    }
    result["passed"] = outcome.passed
    return result


def outcome_of(result: dict[str, Any]) -> Outcome:
    values: dict[str, Any] = {
        k: Fraction(v) if k.endswith("_area") else v for k, v in result["outcome"].items()
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
    lines = [
        text(
            "votes.participation_heads",
            part=o.voted_heads,
            whole=o.electorate_heads,
            percent=percent(Fraction(o.voted_heads), Fraction(o.electorate_heads)),
            check=_check(text, rule.participation_heads, o.participation_heads_met),
        )
    ]
    if weighted:
        lines.append(
            text(
                "votes.participation_area",
                part=area_text(o.voted_area),
                whole=area_text(o.electorate_area),
                percent=percent(o.voted_area, o.electorate_area),
                check=_check(text, rule.participation_area, o.participation_area_met),
            )
        )
    lines.append(
        text(
            "votes.approval_heads",
            part=o.yes_heads,
            whole=o.voted_heads,
            percent=percent(Fraction(o.yes_heads), Fraction(o.voted_heads)),
            check=_check(text, rule.approval_heads, o.approval_heads_met),
        )
    )
    if weighted:
        lines.append(
            text(
                "votes.approval_area",
                part=area_text(o.yes_area),
                whole=area_text(o.voted_area),
                percent=percent(o.yes_area, o.voted_area),
                check=_check(text, rule.approval_area, o.approval_area_met),
            )
        )
    lines.append(text("votes.counts", yes=o.yes_heads, no=o.no_heads, abstain=o.abstain_heads))
    if weighted:
        lines.append(
            text(
                "votes.counts_area",
                yes=area_text(o.yes_area),
                no=area_text(o.no_area),
                abstain=area_text(o.abstain_area),
            )
        )
    return text(
        "votes.result_formal",
        number=poll.number,
        question=poll.question,
        rule=rule_text(text, poll.rule),
        lines="\n".join(lines),
        verdict=text("votes.passed" if o.passed else "votes.failed"),
    )
