"""A closed formal vote's audit file (format `linli-vote-audit/2.1`, docs/audit-format.md): the
rule in full, the electorate (households or people, their weights and head shares, no names),
every counted ballot (open ballots by voter with their event; secret ones by receipt code, with
their totals; paper ballots with who entered and who confirmed them), and the result. It is
checked by `audit_verify.py`, a second implementation that shares no code with the bot's count.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from fractions import Fraction
from typing import Any

from bots.votes import audit_verify
from bots.votes.rules import (
    FORMAL_CHOICES,
    RULES,
    Comparison,
    Outcome,
    Rule,
    Threshold,
    custom_rule,
)

FORMAT = audit_verify.FORMAT


def rule_of(rule: dict[str, Any]) -> Rule:
    if rule["name"] == "custom":
        return custom_rule(Fraction(rule["participation"]), Fraction(rule["approval"]))
    return RULES[rule["name"]]


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """An outcome as plain JSON, exact shares as "p/q" text."""

    def plain(key: str, value: Any) -> Any:
        if isinstance(value, Fraction):
            if key.endswith("_heads") and value.denominator == 1:
                return value.numerator  # whole persons, as before owners' shares existed
            return str(value)
        return value

    return {k: plain(k, v) for k, v in asdict(outcome).items()}


HEADS = {
    "owners": "owners (SPC interpretation on building ownership, art. 9): one part one person, a "
    "buyer of several parts one person, the developer's unsold parts one person; each of an "
    "owner's k parts carries 1/k of a head (its `head`); area is per part (its `weight`, the "
    "roster's floor area)",
    "households": "households with a verified resident: one head per household, weight 1",
    "residents": "verified residents: one head per person, weight 1",
}


def _threshold(threshold: Threshold | None) -> dict[str, str] | None:
    if threshold is None:
        return None
    comparison = ">=" if threshold.comparison is Comparison.AT_LEAST else ">"
    return {"share": str(threshold.share), "comparison": comparison}


def rule_json(rule: dict[str, Any], eligibility: str) -> dict[str, Any]:
    """The rule in full, as an outsider needs it to recount: each threshold as an exact share
    with ≥ or >, by head and by area; which choices count toward participation and approval."""
    r = rule_of(rule)
    return {
        "name": r.name,
        "art_278": r.name in ("ordinary", "major"),
        "participation": {
            "heads": _threshold(r.participation_heads),
            "area": _threshold(r.participation_area),
        },
        "approval": {"heads": _threshold(r.approval_heads), "area": _threshold(r.approval_area)},
        # Participation: of the whole electorate; approval: of those who took part.
        "participation_counts": list(FORMAL_CHOICES),
        "approval_counts": ["yes"],
        "heads": HEADS[eligibility],
        "latest": "an online ballot is its voter's (or household's) latest answer, by "
        "origin_server_ts, then arrival",
        "first_ballot": "a household's first ballot counts (online or paper, by the household or "
        "by its proxy) and a later one is refused; a paper ballot counts once a second "
        "committee member confirmed it; a proxy votes once a committee member confirmed it",
    }


def audit_file(poll: Any, compound_name: str, material: Any) -> bytes:
    """The audit file of a closed formal vote (a PollRecord, and its lists as
    `audit_store.AuditMaterial`), as published in the hall: docs/audit-format.md."""
    assert poll.rule is not None and poll.result is not None
    data = {
        "format": FORMAT,
        "compound": poll.compound,
        "compound_name": compound_name,
        "vote": poll.number,
        "question": poll.question,
        "eligibility": poll.eligibility,
        "secret": poll.secret,
        "opened_at": poll.opened_at.isoformat(),
        "closed_at": poll.closed_at.isoformat() if poll.closed_at else None,
        "rule": rule_json(poll.rule, poll.eligibility),
        "electorate": material.electorate,
        "ballots": material.ballots,
        "secret_ballots": material.secret,
        "outcome": poll.result["outcome"],
        "passed": poll.result["passed"],
        "counted": poll.result["counted"],
        "parts": poll.result.get("parts", {}),
    }
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(data: dict[str, Any]) -> tuple[bool, list[str]]:
    """Recount an audit file with the independent verifier (audit_verify.py, which shares no
    code with the bot's count): (matches, what differs or is wrong)."""
    problems = audit_verify.verify(data)
    return not problems, problems


def find_receipt(data: dict[str, Any], receipt: str) -> str | None:
    """The choice counted under a receipt code, or None."""
    wanted = receipt.strip().upper()
    for item in (data.get("secret_ballots") or {}).get("receipts", []):
        if item["receipt"] == wanted:
            return str(item["choice"])
    return None
