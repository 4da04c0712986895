"""Paper ballot lines, and the audit file's recount: the same tally the bot runs, from the file
alone, catching a changed ballot or result."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from bots.votes import audit
from bots.votes.cli import verify_file
from bots.votes.formal_terms import CHOICE_WORDS
from bots.votes.paper import PaperRow, parse_household, parse_paper_csv

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "docs" / "audit-format.schema.json").read_text(encoding="utf-8"))
VERIFIER = ROOT / "bots" / "votes" / "audit_verify.py"


def test_paper_csv_reports_each_bad_line_by_number_and_keeps_the_good_ones() -> None:
    rows, errors = parse_paper_csv(
        "户号,选择\n3-2-1101,同意\n\n3－2－1102，反对\n3-2,同意\n3-2-1103,也许\n3-2-1101,反对\na,b,c\n",
        CHOICE_WORDS,
    )
    assert rows == [PaperRow(2, "3-2-1101", "yes"), PaperRow(4, "3-2-1102", "no")]
    assert errors == [
        (5, "votes.csv_household"),
        (6, "votes.csv_choice"),
        (7, "votes.csv_repeated"),
        (8, "votes.csv_columns"),
    ]
    assert parse_household("０3-02-1101") == "3-2-1101"
    assert parse_household("3号楼") is None


def audit_data() -> dict[str, Any]:
    """An ordinary owners' vote, written out by hand: 3 of 4 households (area 300 of 400), 2
    yes of 3 (one online, one on paper, one secret)."""
    return {
        "format": "linli-vote-audit/2",
        "compound": "heping",
        "compound_name": "和平小区",
        "vote": 1,
        "question": "Q",
        "eligibility": "owners",
        "secret": True,
        "opened_at": "2026-11-23T02:00:00+00:00",
        "closed_at": "2026-11-24T02:00:00+00:00",
        "rule": audit.rule_json({"name": "ordinary"}, "owners"),
        "electorate": [
            {"voter": f"1-1-{n}", "weight": "100.00", "head": "1"} for n in (1, 2, 3, 4)
        ],
        "ballots": [
            {
                "voter": "1-1-1",
                "choice": "yes",
                "source": "online",
                "event_id": "$e1",
                "origin_server_ts": 1000,
            },
            {
                "voter": "1-1-2",
                "choice": "no",
                "source": "paper",
                "entered_by": "@s:x",
                "confirmed_by": "@t:x",
            },
        ],
        "secret_ballots": {
            "participants": ["1-1-3"],
            "receipts": [{"receipt": "ABCDE-FGHIJ", "choice": "yes"}],
            "totals": {"yes": {"ballots": 1, "heads": "1", "area": "100"}},
            "paper": {"participants": [], "totals": {}},
        },
        "outcome": {
            "rule": "ordinary",
            "electorate_heads": 4,
            "electorate_area": "400",
            "voted_heads": 3,
            "voted_area": "300",
            "yes_heads": 2,
            "yes_area": "200",
            "no_heads": 1,
            "no_area": "100",
            "abstain_heads": 0,
            "abstain_area": "0",
            "participation_heads_met": True,
            "participation_area_met": True,
            "approval_heads_met": True,
            "approval_area_met": True,
        },
        "passed": True,
        "counted": {"online": 1, "paper": 1, "secret": 1},
        "parts": {"electorate": 4, "voted": 3},
    }


def test_the_rule_is_stated_in_full() -> None:
    assert audit.rule_json({"name": "major"}, "owners") | {"heads": "", "latest": ""} == {
        "name": "major",
        "art_278": True,
        "participation": {
            "heads": {"share": "2/3", "comparison": ">="},
            "area": {"share": "2/3", "comparison": ">="},
        },
        "approval": {
            "heads": {"share": "3/4", "comparison": ">="},
            "area": {"share": "3/4", "comparison": ">="},
        },
        "participation_counts": ["yes", "no", "abstain"],
        "approval_counts": ["yes"],
        "heads": "",
        "latest": "",
        "first_ballot": audit.rule_json({"name": "major"}, "owners")["first_ballot"],
    }
    simple = audit.rule_json({"name": "simple"}, "households")
    assert simple["participation"] == {"heads": None, "area": None}
    assert simple["approval"]["heads"] == {"share": "1/2", "comparison": ">"}


def test_a_hand_written_file_matches_the_schema() -> None:
    jsonschema.validate(audit_data(), SCHEMA)


def test_the_verifier_uses_nothing_of_linli() -> None:
    """A second implementation of the count: only the standard library, runnable on its own."""
    source = VERIFIER.read_text(encoding="utf-8")
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [node])  # type: ignore[list-item]
        if isinstance(alias, ast.alias)
    } | {
        node.module.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_the_verifier_runs_alone_on_a_file(tmp_path: Path) -> None:
    raw = json.dumps(audit_data()).encode()
    path = tmp_path / "audit.json"
    path.write_bytes(raw)
    alone = tmp_path / "verify.py"
    alone.write_text(VERIFIER.read_text(encoding="utf-8"), encoding="utf-8")  # copied out
    run = subprocess.run(
        [sys.executable, "-I", str(alone), str(path), audit.sha256(raw)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "the result matches its ballots")
    path.write_bytes(raw.replace(b'"choice": "no"', b'"choice": "yes"'))
    run = subprocess.run(
        [sys.executable, "-I", str(alone), str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 1 and "yes_heads" in run.stdout


def test_an_intact_audit_recounts_to_its_result_and_finds_a_receipt(capsys) -> None:  # type: ignore[no-untyped-def]
    data = audit_data()
    assert audit.verify(data) == (True, [])
    assert data["passed"] is True
    raw = json.dumps(data).encode()
    assert verify_file("a.json", raw, audit.sha256(raw), "abcde-fghij") == 0
    assert "counted as yes" in capsys.readouterr().out


def test_a_changed_ballot_or_result_or_hash_is_caught() -> None:
    changed = audit_data()
    changed["secret_ballots"]["receipts"][0]["choice"] = "no"
    ok, problems = audit.verify(changed)
    assert not ok and "receipts do not match" in problems[0]
    changed = audit_data()
    changed["ballots"][1]["choice"] = "yes"
    ok, problems = audit.verify(changed)
    assert not ok and any(p.startswith("yes_heads") for p in problems)
    lied = audit_data()
    lied["passed"] = False
    assert not audit.verify(lied)[0]
    padded = audit_data()
    padded["secret_ballots"]["receipts"].append({"receipt": "X", "choice": "yes"})
    assert not audit.verify(padded)[0]  # a receipt nobody cast
    raw = json.dumps(audit_data()).encode()
    assert verify_file("a.json", raw, "0" * 64, None) == 1
    assert verify_file("a.json", b"not json", None, None) == 2


def test_linli_audit_verify_needs_only_the_file(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """Run as a resident would, in a folder with no bridge.yaml and no database."""
    from bridge.cli import main

    monkeypatch.chdir(tmp_path)
    raw = json.dumps(audit_data()).encode()
    (tmp_path / "vote-heping-1-audit.json").write_bytes(raw)
    argv = ["audit", "verify", "vote-heping-1-audit.json", "--sha256", audit.sha256(raw)]
    assert main([*argv, "--receipt", "ABCDE-FGHIJ"]) == 0
    out = capsys.readouterr().out
    assert "matches the published hash" in out and "counted as yes" in out
    assert not list(tmp_path.glob("*.db")) and not (tmp_path / "bridge.yaml").exists()
    (tmp_path / "vote-heping-1-audit.json").write_bytes(raw.replace(b'"no"', b'"yes"'))
    assert main(argv) == 1
