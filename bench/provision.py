"""Provisioning against a real Synapse: first apply and no-change apply of generated compounds,
in seconds and homeserver requests per room. The baseline is a bare createRoom loop (one
request per room, no state, no invites) on the same homeserver in the same run."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import SERVER, bench_config, bench_synapse
from bots import ALL_BOTS
from bridge.bot import config_sections
from bridge.clock import SystemClock
from bridge.config import BridgeConfig, DatabaseConfig
from bridge.i18n import default_catalogue
from bridge.local_synapse import LocalSynapse
from bridge.matrix import MatrixClient
from bridge.provision.reconcile import Provisioner
from bridge.rooms_config import load_rooms_config
from bridge.store import Store

EXAMPLES = Path(__file__).parents[1] / "rooms_config"


def generate(folder: Path, compounds: int) -> None:
    folder.mkdir(parents=True)
    shutil.copy(EXAMPLES / "templates.yaml", folder / "templates.yaml")
    (folder / "community.yaml").write_text(
        "community:\n  key: bench\n  name: 测试社区\n", encoding="utf-8"
    )
    for i in range(compounds):
        (folder / f"c{i}.yaml").write_text(
            f"""compound:
  key: c{i}
  name: 小区{i}
  community: bench
  staff:
    property_staff: ["@staff{i}:{SERVER}"]
    residents_committee: ["@committee{i}:{SERVER}"]
  buildings: ["1", "2"]
  interest_groups:
    volunteers: {{name: 志愿者}}
""",
            encoding="utf-8",
        )


async def measure(synapse: LocalSynapse, config: BridgeConfig, tmp: Path, n: int) -> None:
    folder = tmp / f"rooms{n}"
    generate(folder, n)
    for i in range(n):
        await synapse.register_user(f"staff{i}", "pw")
        await synapse.register_user(f"committee{i}", "pw")
    rooms = load_rooms_config(folder, "zh", config_sections(ALL_BOTS))
    config = config.model_copy(
        update={
            "alias_prefix": f"b{n}_",
            "database": DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp}/bench{n}.db"),
        }
    )
    store = await Store.open(config.database.url)
    client = MatrixClient(config.homeserver.url, config.appservice.as_token, config.bot_user_id)
    await client.register_user(config.bots.main)
    provisioner = Provisioner(config, rooms, store, client, SystemClock(), default_catalogue())
    room_count = len((await provisioner.plan()).specs)

    client.requests.clear()
    start = time.perf_counter()
    await provisioner.apply()
    first = time.perf_counter() - start
    first_requests = sum(client.requests.values())

    client.requests.clear()
    start = time.perf_counter()
    await provisioner.apply()
    again = time.perf_counter() - start
    again_requests = sum(client.requests.values())
    again_writes = client.writes

    # Baseline: createRoom alone, as many times, on the same homeserver.
    client.requests.clear()
    start = time.perf_counter()
    for i in range(room_count):
        await client.request("POST", "/_matrix/client/v3/createRoom", {"name": f"b{i}"})
    bare = time.perf_counter() - start

    writes_again = again_writes
    print(f"  {n:3d} compounds, {room_count:4d} rooms and spaces:")
    print(
        f"      first apply    {first:7.1f} s  {first_requests / room_count:5.1f} requests/room"
        f"  ({first / bare:4.1f}× a bare createRoom loop: {bare:.1f} s)"
    )
    print(
        f"      no-change apply {again:6.2f} s  {again_requests / room_count:5.2f} requests/room"
        f"  ({writes_again} writes)"
    )
    await client.close()
    await store.close()


async def run(sizes: tuple[int, ...] = (10, 50)) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = bench_config(tmp)
        synapse = bench_synapse(tmp, config)
        await synapse.start()
        print("provisioning against a real Synapse (SQLite, loopback)")
        try:
            for n in sizes:
                await measure(synapse, config, tmp, n)
        finally:
            await synapse.stop()


if __name__ == "__main__":
    asyncio.run(run())
