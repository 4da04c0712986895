"""A closed formal vote's audit file, and its check: the result recomputed from the file alone.

The file holds the electorate (households and their weights, no names), every counted ballot
(open ballots by voter; secret ones by receipt code, with the area totals they added up to),
paper ballots with who entered them, and the result. `recount` is the one tally both the bot
(at the close) and `linli audit verify` run, so they cannot disagree about the rules.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bots.votes.rules import (
    FORMAL_CHOICES,
    RULES,
    Outcome,
    Rule,
    Totals,
    Weight,
    custom_rule,
    tally_totals,
    totals_of,
)

FORMAT = "linli-vote-audit/1"


def rule_of(rule: dict[str, Any]) -> Rule:
    if rule["name"] == "custom":
        return custom_rule(Fraction(rule["participation"]), Fraction(rule["approval"]))
    return RULES[rule["name"]]


def recount(rule: dict[str, Any], result: dict[str, Any]) -> Outcome:
    """The outcome of the ballots a result (or an audit file) lists; ValueError when they do
    not fit together (a ballot outside the electorate, totals that do not add up)."""
    # Weights in whole units of the roster's smallest decimal (0.01 m²): exact integers, and
    # fast to add for 100,000 households; the outcome's areas are scaled back.
    decimals = {k: Decimal(v) for k, v in result["electorate"].items()}
    places = max((-int(d.as_tuple().exponent) for d in decimals.values()), default=0)
    scale = 10 ** max(places, 0)
    scaled = {k: int(d.scaleb(places)) for k, d in decimals.items()}
    if any(Decimal(scaled[k]) != d.scaleb(places) for k, d in decimals.items()):
        raise ValueError("a weight is not a decimal number")
    electorate: dict[str, Weight] = dict(scaled)
    open_ballots: dict[str, str] = {}
    for ballot in result["ballots"]:
        if ballot["voter"] in open_ballots:
            raise ValueError(f"two ballots for {ballot['voter']}")
        open_ballots[ballot["voter"]] = ballot["choice"]
    counted = totals_of(electorate, open_ballots)
    # "secret" is the vote's lists when it was secret, else the flag `false` (or absent).
    secret = result.get("secret")
    if secret is not None and secret is not False:
        if not isinstance(secret, dict):
            raise ValueError("the secret ballots are not listed")
        counted = counted.plus(_secret_totals(secret, electorate, set(open_ballots), scale))
        paper = secret.get("paper")
        if paper is not None:
            taken = set(open_ballots) | set(secret["participants"])
            counted = counted.plus(_paper_totals(paper, electorate, taken, scale))
    total: Weight = sum(electorate.values())
    outcome = tally_totals(rule_of(rule), len(electorate), total, counted)
    return replace(
        outcome,
        electorate_area=outcome.electorate_area / scale,
        voted_area=outcome.voted_area / scale,
        yes_area=outcome.yes_area / scale,
        no_area=outcome.no_area / scale,
        abstain_area=outcome.abstain_area / scale,
    )


def _secret_totals(
    secret: dict[str, Any], electorate: dict[str, Weight], open_voters: set[str], scale: int
) -> Totals:
    """A secret vote's totals from its receipts and area totals, checked against who took
    part: each participant once, in the electorate, not also on an open ballot, one receipt
    each, and the area totals adding up to the participants' areas."""
    participants = set(secret["participants"])
    if len(participants) != len(secret["participants"]) or participants & open_voters:
        raise ValueError("a secret participant is listed twice")
    if not participants <= electorate.keys():
        raise ValueError("a secret participant outside the electorate")
    if len(participants) != len(secret["receipts"]):
        raise ValueError("secret participants and receipts do not match")
    heads = dict.fromkeys(FORMAL_CHOICES, 0)
    for receipt in secret["receipts"]:
        if receipt["choice"] not in FORMAL_CHOICES:
            raise ValueError(f"unknown choice: {receipt['choice']}")
        heads[receipt["choice"]] += 1
    area: dict[str, Weight] = {}
    for c in FORMAL_CHOICES:
        added = Fraction(secret["area"].get(c, "0")) * scale
        if added.denominator != 1:
            raise ValueError(f"the secret area total of {c} is not a roster area")
        area[c] = added.numerator
    if sum(area.values()) != sum(electorate[p] for p in participants):
        raise ValueError("the secret area totals do not add up to the participants")
    return Totals(heads, area)


def _paper_totals(
    paper: dict[str, Any], electorate: dict[str, Weight], taken: set[str], scale: int
) -> Totals:
    """A secret vote's paper ballots, published as totals and participants only: each
    participant once, in the electorate, not also online, and the totals adding up to them."""
    voters = [p["voter"] for p in paper["participants"]]
    if len(set(voters)) != len(voters) or set(voters) & taken:
        raise ValueError("a paper participant is listed twice")
    if not set(voters) <= electorate.keys():
        raise ValueError("a paper participant outside the electorate")
    heads = dict.fromkeys(FORMAL_CHOICES, 0)
    area: dict[str, Weight] = dict.fromkeys(FORMAL_CHOICES, 0)
    for choice, total in paper["totals"].items():
        if choice not in FORMAL_CHOICES:
            raise ValueError(f"unknown choice: {choice}")
        added = Fraction(total["area"]) * scale
        if added.denominator != 1:
            raise ValueError(f"the paper area total of {choice} is not a roster area")
        heads[choice], area[choice] = int(total["heads"]), added.numerator
    if sum(heads.values()) != len(voters):
        raise ValueError("the paper totals do not add up to the paper participants")
    if sum(area.values()) != sum(electorate[v] for v in voters):
        raise ValueError("the paper area totals do not add up to the participants")
    return Totals(heads, area)


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """An outcome as plain JSON, exact shares as "p/q" text."""
    return {k: str(v) if isinstance(v, Fraction) else v for k, v in asdict(outcome).items()}


def audit_file(poll: Any, compound_name: str, material: Any) -> bytes:
    """The audit file of a closed formal vote (a PollRecord, and its lists as
    `tally_store.AuditMaterial`), as published in the hall."""
    lists: dict[str, Any] = {"electorate": material.electorate, "ballots": material.ballots}
    if material.secret is not None:
        lists["secret"] = material.secret
    data = {
        "format": FORMAT,
        "compound": poll.compound,
        "compound_name": compound_name,
        "vote": poll.number,
        "question": poll.question,
        "rule": poll.rule,
        "eligibility": poll.eligibility,
        "secret": poll.secret,
        "opened_at": poll.opened_at.isoformat(),
        "closed_at": poll.closed_at.isoformat() if poll.closed_at else None,
        "duplicates": "a household's first ballot counts (online or paper) and a later one is "
        "refused; a paper ballot counts once a second committee member confirmed it",
        **poll.result,
        **lists,
    }
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(data: dict[str, Any]) -> tuple[bool, list[str]]:
    """Recompute an audit file's result: (matches, what differs or is wrong)."""
    if data.get("format") != FORMAT:
        return False, [f"not a Linli vote audit ({FORMAT})"]
    try:
        outcome = recount(data["rule"], data)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, ArithmeticError) as e:
        return False, [f"the ballots do not add up: {e}"]
    recomputed = outcome_json(outcome)
    stated = data.get("outcome", {})
    problems = [
        f"{k}: file says {stated.get(k)!r}, ballots give {v!r}"
        for k, v in recomputed.items()
        if stated.get(k) != v
    ]
    if data.get("passed") != outcome.passed:
        problems.append(f"passed: file says {data.get('passed')!r}, ballots give {outcome.passed}")
    return not problems, problems


def find_receipt(data: dict[str, Any], receipt: str) -> str | None:
    """The choice counted under a receipt code, or None."""
    wanted = receipt.strip().upper()
    for item in data.get("secret", {}).get("receipts", []):
        if item["receipt"] == wanted:
            return str(item["choice"])
    return None
