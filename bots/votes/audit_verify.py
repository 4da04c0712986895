"""An independent check of a vote's audit file (format `linli-vote-audit/2.1`, and 2, which it
extends; docs/audit-format.md): the result recomputed from the file alone, by the rule the file
states.

Self-contained on purpose: it imports nothing of Linli (not the rules, not the tally), only
Python's standard library, so it can be copied out and run by anyone, and it is a second
implementation of the counting the bot does: where the two disagree, one of them is wrong. The
document and docs/audit-format.schema.json are the contract; this follows them.

    python audit_verify.py vote-heping-3-audit.json [sha256]
"""

from __future__ import annotations

import hashlib
import json
import sys
from decimal import Decimal
from fractions import Fraction
from typing import Any

FORMAT = "linli-vote-audit/2.1"
# Files of an earlier minor version read the same (2.1 only added optional fields).
READS = ("linli-vote-audit/2", FORMAT)
CHOICES = ("yes", "no", "abstain")


class Invalid(ValueError):
    """The file does not hold together (said in the message)."""


def exact(text: Any) -> Fraction:
    """A number as the file writes it: decimal text ("80.50"), a fraction ("1/3") or an int."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise Invalid(f"not a number: {text!r}")
    if isinstance(text, int):
        return Fraction(text)
    return Fraction(text) if "/" in text else Fraction(Decimal(text))


def _met(threshold: dict[str, Any] | None, part: Fraction, whole: Fraction) -> bool | None:
    if threshold is None:
        return None
    if whole == 0:
        return False  # nothing of nothing reaches no threshold
    share, ratio = exact(threshold["share"]), part / whole
    if threshold["comparison"] == ">=":
        return ratio >= share
    if threshold["comparison"] == ">":
        return ratio > share
    raise Invalid(f"unknown comparison {threshold['comparison']!r}")


def _totals(
    listed: dict[str, Any], voters: list[str], electorate: dict[str, tuple[Fraction, Fraction]]
) -> tuple[dict[str, Fraction], dict[str, Fraction]]:
    """Totals published without their voters (secret ballots, a secret vote's paper ballots),
    checked against who took part: as many ballots, heads and area as those voters carry."""
    heads = dict.fromkeys(CHOICES, Fraction(0))
    area = dict.fromkeys(CHOICES, Fraction(0))
    ballots = 0
    for choice, total in listed.items():
        if choice not in CHOICES:
            raise Invalid(f"unknown choice {choice!r}")
        heads[choice], area[choice] = exact(total["heads"]), exact(total["area"])
        ballots += int(total["ballots"])
    if ballots != len(voters):
        raise Invalid(f"{ballots} ballots in the totals for {len(voters)} participants")
    if sum(heads.values()) != sum(electorate[v][1] for v in voters):
        raise Invalid("the totals' heads are not the participants' heads")
    if sum(area.values()) != sum(electorate[v][0] for v in voters):
        raise Invalid("the totals' area is not the participants' area")
    return heads, area


def _check_proxy(ballot: dict[str, Any]) -> None:
    """A ballot given by a proxy (2.1): online, with who the proxy is and which committee
    member confirmed the proxy, someone other than the proxy."""
    if "proxy" not in ballot and "proxy_confirmed_by" not in ballot:
        return
    proxy, confirmed_by = ballot.get("proxy"), ballot.get("proxy_confirmed_by")
    if not isinstance(proxy, str) or not isinstance(confirmed_by, str):
        raise Invalid(f"the proxy ballot of {ballot['voter']} lacks its proxy or confirmation")
    if ballot.get("source") != "online":
        raise Invalid(f"the proxy ballot of {ballot['voter']} is not an online ballot")
    if confirmed_by == proxy:
        raise Invalid(f"the proxy of {ballot['voter']} confirmed their own proxy")


def recount(data: dict[str, Any]) -> dict[str, Any]:
    """The outcome the file's ballots give under the file's rule (Invalid when they do not fit
    together: a ballot outside the electorate, a voter counted twice, totals that do not add up)."""
    if data.get("format") not in READS:
        raise Invalid(f"not a {FORMAT} file")
    electorate: dict[str, tuple[Fraction, Fraction]] = {}
    for elector in data["electorate"]:
        if elector["voter"] in electorate:
            raise Invalid(f"{elector['voter']} is twice in the electorate")
        electorate[elector["voter"]] = (exact(elector["weight"]), exact(elector["head"]))
    heads = dict.fromkeys(CHOICES, Fraction(0))
    area = dict.fromkeys(CHOICES, Fraction(0))
    taken: set[str] = set()

    def take(voter: str) -> None:
        if voter not in electorate:
            raise Invalid(f"a ballot of {voter}, who is not in the electorate")
        if voter in taken:
            raise Invalid(f"{voter} is counted twice")
        taken.add(voter)

    for ballot in data["ballots"]:
        take(ballot["voter"])
        if ballot["choice"] not in CHOICES:
            raise Invalid(f"unknown choice {ballot['choice']!r}")
        _check_proxy(ballot)
        weight, head = electorate[ballot["voter"]]
        heads[ballot["choice"]] += head
        area[ballot["choice"]] += weight
    secret = data.get("secret_ballots")
    if secret is not None:
        groups = [(secret["participants"], secret["totals"])]
        if secret.get("paper") is not None:
            paper = secret["paper"]
            groups.append(([p["voter"] for p in paper["participants"]], paper["totals"]))
        receipts = {c: 0 for c in CHOICES}
        for item in secret["receipts"]:
            if item["choice"] not in CHOICES:
                raise Invalid(f"unknown choice {item['choice']!r}")
            receipts[item["choice"]] += 1
        online = {c: int(t["ballots"]) for c, t in secret["totals"].items()}
        if any(receipts[c] != online.get(c, 0) for c in CHOICES):
            raise Invalid("the receipts do not match the secret totals")
        for voters, listed in groups:
            for voter in voters:
                take(voter)
            more_heads, more_area = _totals(listed, voters, electorate)
            for c in CHOICES:
                heads[c] += more_heads[c]
                area[c] += more_area[c]
    rule = data["rule"]
    counts, agrees = rule["participation_counts"], rule["approval_counts"]
    whole_heads = sum((h for _, h in electorate.values()), Fraction(0))
    whole_area = sum((w for w, _ in electorate.values()), Fraction(0))
    voted_heads = sum((heads[c] for c in counts), Fraction(0))
    voted_area = sum((area[c] for c in counts), Fraction(0))
    yes_heads = sum((heads[c] for c in agrees), Fraction(0))
    yes_area = sum((area[c] for c in agrees), Fraction(0))
    checks = {
        "participation_heads_met": _met(rule["participation"]["heads"], voted_heads, whole_heads),
        "participation_area_met": _met(rule["participation"]["area"], voted_area, whole_area),
        "approval_heads_met": _met(rule["approval"]["heads"], yes_heads, voted_heads),
        "approval_area_met": _met(rule["approval"]["area"], yes_area, voted_area),
    }
    return {
        "electorate_heads": whole_heads,
        "electorate_area": whole_area,
        "voted_heads": voted_heads,
        "voted_area": voted_area,
        **{f"{c}_heads": heads[c] for c in CHOICES},
        **{f"{c}_area": area[c] for c in CHOICES},
        **checks,
        "passed": all(v is not False for v in checks.values()),
    }


def verify(data: dict[str, Any]) -> list[str]:
    """What differs between the file's stated result and its recount (empty: it matches)."""
    try:
        recounted = recount(data)
    except (Invalid, KeyError, TypeError, ValueError, ArithmeticError) as e:
        return [f"the ballots do not add up: {e}"]
    stated = {**data.get("outcome", {}), "passed": data.get("passed")}
    problems = []
    for key, value in recounted.items():
        said = stated.get(key)
        if isinstance(value, Fraction):
            try:
                same = said is not None and exact(said) == value
            except (Invalid, ValueError, ArithmeticError):
                same = False
        else:
            same = said == value
        if not same:
            problems.append(f"{key}: the file says {said!r}, its ballots give {value}")
    return problems


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: audit_verify.py FILE [SHA256]", file=sys.stderr)
        return 2
    with open(argv[0], "rb") as f:
        raw = f.read()
    problems = verify(json.loads(raw))
    if len(argv) > 1 and hashlib.sha256(raw).hexdigest() != argv[1].strip().lower():
        problems.append("the file's SHA-256 is not the one given")
    print("\n".join(problems) or "the result matches its ballots")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
