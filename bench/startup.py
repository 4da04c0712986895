"""How long `linli` takes to start for the commands that need no bot (--version, --help, init,
an admin verb's help), beside a bare `python -c pass` and beside `linli plan` without a
bridge.yaml (which stops at once but, like every command that needs the config, loads the bots),
all in the same run: median of several runs each, wall clock."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINLI = [sys.executable, "-m", "bridge.cli"]


def _seconds(argv: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(runs: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        rows = [("python -c pass (baseline)", _seconds([sys.executable, "-c", "pass"], cwd, runs))]
        for args in (["--version"], ["--help"], ["audit", "--help"], ["init", "--force"]):
            rows.append((f"linli {' '.join(args)}", _seconds([*LINLI, *args], cwd, runs)))
        loading = [sys.executable, "-c", "from bots import ALL_BOTS"]
        rows.append(("loading every bot (what plan/apply/run need)", _seconds(loading, cwd, runs)))
    return rows


async def run(runs: int = 7) -> None:
    rows = await asyncio.to_thread(measure, runs)
    base = rows[0][1]
    print(f"start-up, median of {runs} runs (baseline: {rows[0][0]})")
    for name, seconds in rows:
        print(f"  {name:48s} {seconds:6.3f} s  {seconds / base:5.1f}× the baseline")


if __name__ == "__main__":
    asyncio.run(run())
