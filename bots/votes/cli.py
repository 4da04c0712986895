"""The votes bot's admin verb: `linli audit verify FILE [--sha256 HEX] [--receipt CODE]`
recomputes a published vote's result from its audit file alone (no bridge.yaml, no database:
anyone with the file can run it)."""

from __future__ import annotations

import argparse
import json
import sys

from bots.votes import audit
from bridge.cli_verbs import CliVerb


def _arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", required=True)
    verify = sub.add_parser("verify", help="recompute a vote's result from its audit file")
    verify.add_argument("file", type=argparse.FileType("rb"))
    verify.add_argument("--sha256", help="the hash the hall published with the file")
    verify.add_argument("--receipt", help="a secret ballot's receipt code to look up")


def _audit(args: argparse.Namespace) -> int:
    with args.file:
        return verify_file(args.file.name, args.file.read(), args.sha256, args.receipt)


def verify_file(name: str, raw: bytes, sha256: str | None, receipt: str | None) -> int:
    """Print what the check finds; 0 when the file is intact and its result recomputes."""
    ok = True
    if sha256 is not None:
        if audit.sha256(raw) == sha256.strip().lower():
            print("sha256: matches the published hash")
        else:
            print("sha256: DOES NOT match the published hash: the file was changed")
            ok = False
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        print(f"{name}: not JSON: {e}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print(f"{name}: not a Linli vote audit", file=sys.stderr)
        return 2
    matches, problems = audit.verify(data)
    if matches:
        verdict = "PASSED" if data.get("passed") else "NOT PASSED"
        print(f"result: recomputed from the ballots, it matches ({verdict})")
    else:
        ok = False
        print("result: DOES NOT match the ballots")
        for problem in problems:
            print(f"  {problem}")
    if receipt is not None:
        choice = audit.find_receipt(data, receipt)
        if choice is None:
            print(f"receipt {receipt}: not in this audit")
            ok = False
        else:
            print(f"receipt {receipt}: counted as {choice}")
    return 0 if ok else 1


AUDIT = CliVerb("audit", "check a published vote's audit file", _arguments, None, _audit)
