"""Paper ballot lines, and the audit file's recount: the same tally the bot runs, from the file
alone, catching a changed ballot or result."""

from __future__ import annotations

import json

from bots.votes import audit
from bots.votes.cli import verify_file
from bots.votes.formal_terms import CHOICE_WORDS
from bots.votes.paper import PaperRow, parse_household, parse_paper_csv


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


def audit_data() -> dict[str, object]:
    """An ordinary owners' vote: 3 of 4 households (by area 300 of 400), 2 yes of 3."""
    result = {
        "electorate": {"1-1-1": "100", "1-1-2": "100", "1-1-3": "100", "1-1-4": "100"},
        "ballots": [
            {"voter": "1-1-1", "choice": "yes", "source": "online"},
            {"voter": "1-1-2", "choice": "no", "source": "paper", "entered_by": "@s:x"},
        ],
        "secret": {
            "participants": ["1-1-3"],
            "receipts": [{"receipt": "ABCDE-FGHIJ", "choice": "yes"}],
            "area": {"yes": "100"},
        },
    }
    outcome = audit.recount({"name": "ordinary"}, result)
    return {
        "format": audit.FORMAT,
        "rule": {"name": "ordinary"},
        **result,
        "outcome": {
            k: str(v) if not isinstance(v, (int, bool, type(None))) else v
            for k, v in outcome.__dict__.items()
        },
        "passed": outcome.passed,
    }


def test_an_intact_audit_recounts_to_its_result_and_finds_a_receipt(capsys) -> None:  # type: ignore[no-untyped-def]
    data = audit_data()
    assert audit.verify(data) == (True, [])
    assert data["passed"] is True
    raw = json.dumps(data).encode()
    assert verify_file("a.json", raw, audit.sha256(raw), "abcde-fghij") == 0
    assert "counted as yes" in capsys.readouterr().out


def test_a_changed_ballot_or_result_or_hash_is_caught() -> None:
    changed = audit_data()
    changed["secret"]["receipts"][0]["choice"] = "no"  # type: ignore[index]
    ok, problems = audit.verify(changed)
    assert not ok and any(p.startswith("yes_heads") for p in problems)
    lied = audit_data()
    lied["passed"] = False
    assert not audit.verify(lied)[0]
    padded = audit_data()
    padded["secret"]["receipts"].append({"receipt": "X", "choice": "yes"})  # type: ignore[index]
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
