"""`python -m bench crash [KILLS] [--seed N]`: the crash test's scenario with more kills (100 by
default) on a Synapse of its own: residents, staff and newcomers use Linli while it is killed
with SIGKILL at random moments and started again; then every answer, ticket, reminder and work
order is counted (tests/integration/crash_scenario.py). Exits 1 if anything was lost or repeated.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path

from bench.common import SERVER, bench_config, bench_synapse
from tests.integration.crash_scenario import CrashRun, CrashSettings, Report
from tests.integration.grid_receiver import GridReceiver
from tests.integration.linli_process import EXAMPLES, GridTarget, LinliProcess
from tests.integration.matrix_client import ResidentClient

PASSWORD = "crash-bench-password"


def _example_localparts() -> set[str]:
    """The example config's staff and observers: they must exist for apply to invite them."""
    found = set()
    for path in EXAMPLES.rglob("*.yaml"):
        for token in path.read_text(encoding="utf-8").split('"'):
            if token.startswith("@") and token.endswith(f":{SERVER}"):
                found.add(token[1 : -len(SERVER) - 1])
    return found


async def run(kills: int = 100, seed: int = CrashSettings.seed) -> Report:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = bench_config(tmp)
        synapse = bench_synapse(tmp, config)
        await synapse.start()
        grid = GridReceiver(secrets.token_hex(16))
        await grid.start()
        clients: list[ResidentClient] = []
        users = iter(range(1_000_000))

        async def login(localpart: str) -> ResidentClient:
            user_id = f"@{localpart}:{SERVER}"
            client = await ResidentClient.login(synapse.base_url, user_id, PASSWORD)
            clients.append(client)
            return client

        async def new_user() -> ResidentClient:
            localpart = f"neighbour{next(users)}"
            await synapse.register_user(localpart, PASSWORD)
            return await login(localpart)

        linli = LinliProcess(
            tmp / "linli",
            synapse.base_url,
            SERVER,
            config.appservice.as_token,
            config.appservice.hs_token,
            config.appservice.listen_port,
            grid=GridTarget(grid.url, grid.secret),
        )
        # A fifth of the tickets left to their clock: reminders and escalations all along.
        settings = CrashSettings(kills=kills, seed=seed, alone_share=0.2)
        scenario = CrashRun(linli, grid, settings, new_user, login)
        try:
            for localpart in _example_localparts():
                await synapse.register_user(localpart, PASSWORD)
            await scenario.setup()
            report = await scenario.run()
        finally:
            await scenario.close()
            await linli.stop()
            await grid.stop()
            for client in clients:
                await client.close()
            await synapse.stop()
    print("\n".join(report.lines()))
    return report


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench crash")
    parser.add_argument("kills", type=int, nargs="?", default=100)
    parser.add_argument("--seed", type=int, default=CrashSettings.seed)
    args = parser.parse_args(argv)
    report = await run(args.kills, args.seed)
    return 1 if report.problems else 0
