"""`linli --version`, `--help`, `init` and a verb that needs no bot load no bot, no homeserver
client and no database layer (issue 24: they start in a fraction of a second; the time itself
is measured in bench/startup.py, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("bots.registry", "bridge.bot", "bridge.app", "nio", "sqlalchemy", "aiohttp", "matplotlib")

PROBE = """
import json, sys
from bridge.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("\\nLOADED " + json.dumps(sorted(sys.modules)))
"""


def loaded_by(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED "))
    return set(json.loads(line[len("LOADED ") :]))


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["audit", "--help"], ["init"], ["roster", "--help"]]
)
def test_a_command_that_needs_no_bot_loads_none(args: list[str], tmp_path: Path) -> None:
    loaded = loaded_by(args, tmp_path)
    assert "bridge.cli" in loaded  # the probe ran the real entry point
    assert not [m for m in HEAVY if m in loaded], sorted(m for m in HEAVY if m in loaded)
    if args == ["init"]:
        assert (tmp_path / "bridge.yaml").exists()


def test_plan_still_loads_the_bots(tmp_path: Path) -> None:
    # The lazy entry point must not lose them: `plan` without a bridge.yaml stops at that, but
    # `from bots import ALL_BOTS` still gives every bot.
    from bots import ALL_BOTS

    assert {b.__name__ for b in ALL_BOTS} >= {"TicketBot", "VoteBot", "NoticeBot"}
