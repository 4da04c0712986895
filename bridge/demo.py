"""`linli demo`: a local Synapse on SQLite under ./data, Linli registered with it, the example
compounds applied, demo accounts created, and both running until Ctrl-C.

Running it again reuses ./data: same tokens, same accounts and passwords, no duplicate rooms.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bots import ALL_BOTS
from bridge.app import Bridge
from bridge.cli_commands import load_all, wait_for_signal
from bridge.demo_grid import GridReceiver, grid_section, water_section
from bridge.local_synapse import LocalSynapse, SynapseSettings
from bridge.registration import bridge_yaml_text, write_registration
from bridge.roles import Role
from bridge.secret_files import ensure_secret_key, write_secret

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoAccount:
    user_id: str
    password: str
    role: str
    compound: str | None
    household: str | None


# Residents of the example compounds: (localpart, compound, building, unit, room).
DEMO_RESIDENTS = [
    ("zhang_san", "heping", "1", "1", "101"),
    ("li_si", "heping", "3", "2", "1101"),
    ("wang_wu", "xingfu", "5", "1", "302"),
]
UNVERIFIED = "xin_lai"


async def run_demo(data: Path, rooms_config: Path) -> int:
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)  # tokens, the demo's Synapse database and media, Linli's log: private
    hs_port = int(os.environ.get("LINLI_DEMO_HS_PORT", "8008"))
    as_port = int(os.environ.get("LINLI_DEMO_AS_PORT", "29330"))
    grid_port = int(os.environ.get("LINLI_DEMO_GRID_PORT", "29332"))
    metrics_port = int(os.environ.get("LINLI_DEMO_METRICS_PORT", "29331"))
    config_path = data / "bridge.yaml"
    # Residents are bound once (the marker says it was done): a rerun changes nothing that is
    # already right, and a resident who asked to be forgotten stays forgotten.
    seeded = data / "demo-residents-bound"
    if not config_path.exists():
        rel_rooms = os.path.relpath(rooms_config.resolve(), data.resolve())
        write_secret(
            config_path,
            bridge_yaml_text(
                homeserver_url=f"http://127.0.0.1:{hs_port}",
                listen_port=as_port,
                metrics_port=metrics_port,
                rooms_config=rel_rooms,
                database_url="sqlite+aiosqlite:///linli.db",  # beside this bridge.yaml, in data/
            )
            + grid_section(grid_port, secrets.token_hex(24)),
        )
    elif "\nwebhooks:" not in config_path.read_text(encoding="utf-8"):
        # A data/ folder from before the demo had its grid platform.
        text = config_path.read_text(encoding="utf-8")
        write_secret(config_path, text + grid_section(grid_port, secrets.token_hex(24)))
    elif "\n  water:" not in config_path.read_text(encoding="utf-8"):
        # From before the demo had its water company (webhooks: is the file's last section).
        text = config_path.read_text(encoding="utf-8")
        write_secret(config_path, text + water_section(grid_port))
    ensure_secret_key(data / "receipt.key")  # secret ballots' receipts, as `linli init` makes it
    config, rooms = load_all(config_path)
    # The ports chosen on the first run are kept in data/bridge.yaml: a rerun uses them, with
    # or without the variables set.
    hs_port = urlsplit(config.homeserver.url).port or hs_port
    grid_port = urlsplit(config.webhooks["grid"].url).port or grid_port
    grid = GridReceiver(config.webhooks["grid"].secret, data / "grid-orders.jsonl", grid_port)
    await grid.start()
    registration = write_registration(config, rooms, data / "linli-registration.yaml")
    synapse = LocalSynapse(
        SynapseSettings(
            data_dir=data / "synapse",
            server_name=config.homeserver.server_name,
            port=hs_port,
            app_service_config_files=[registration.resolve()],
        )
    )
    synapse.write_config()
    print("Starting Synapse …", flush=True)
    await synapse.start()
    bridge = Bridge(config, rooms, ALL_BOTS)
    try:
        accounts = await _accounts(synapse, data, config.homeserver.server_name, rooms)
        await bridge.open()
        first_run = not seeded.exists()
        for localpart, compound, building, unit, room in DEMO_RESIDENTS if first_run else []:
            user_id = f"@{localpart}:{config.homeserver.server_name}"
            await bridge.store.people.bind_household(
                compound, user_id, building, unit, room, bridge.clock.now()
            )
        seeded.touch()
        await bridge.start()
        passwords = {a.user_id: a.password for a in accounts}
        for bot in bridge.router.bots:
            await bot.seed_demo(passwords)
        community = await bridge.store.rooms.by_key(f"community:{next(iter(rooms.communities))}")
        summary: dict[str, Any] = {
            "homeserver": synapse.base_url,
            "grid_platform": {"url": grid.url, "work_orders": str(data / "grid-orders.jsonl")},
            # Signed webhooks into Linli: the water company's notices, the grid's statuses.
            "webhooks": {
                name: {
                    "url": f"http://127.0.0.1:{config.appservice.listen_port}/linli/webhooks/{name}",
                    "secret": target.inbound_secret,
                }
                for name, target in config.webhooks.items()
                if target.inbound_secret
            },
            "server_name": config.homeserver.server_name,
            # The back office: a widget in the staff rooms, and this page on a phone.
            "dashboard": config.dashboard_url,
            "community_space": community.room_id if community else None,
            "accounts": [asdict(a) for a in accounts],
        }
        path = write_summary(data, summary)
        changes = len(bridge.applied.done)
        print(f"Rooms: {changes} changes applied" if changes else "Rooms: already up to date")
        _print_summary({**summary, "path": str(path)})
        await wait_for_signal()
        print("\nStopping …", flush=True)
    finally:
        await bridge.stop()
        await synapse.stop()
        await grid.stop()
    return 0


# The demo accounts' display names (set when an account is first made; a rerun keeps them).
DEMO_NAMES = {
    "dang_li": "党支部李书记",
    "juwei_chen": "居委会陈主任",
    "yewei_zhao": "业委会赵主任",
    "yewei_qian": "业委会钱委员",
    "wuye_jingli": "物业刘经理",
    "wuye_wang": "物业小王",
    "wuye_xf_jingli": "幸福物业吴经理",
    "wuye_xf_liu": "物业小刘",
    "jingguan_sun": "社区民警孙警官",
    "jiedao_zhou": "街道周科长",
    "zhang_san": "张阿姨",
    "li_si": "李大爷",
    "wang_wu": "王先生",
}


async def _accounts(
    synapse: LocalSynapse, data: Path, server: str, rooms: Any
) -> list[DemoAccount]:
    """Register every demo account once; passwords are kept in data/ and reused."""
    secrets_path = data / "demo-passwords.json"
    passwords: dict[str, str] = {}
    if secrets_path.exists():
        passwords = json.loads(secrets_path.read_text(encoding="utf-8"))
    wanted: dict[str, tuple[str, str | None, str | None]] = {}
    for compound in rooms.compounds.values():
        for role, users in compound.config.staff.items():
            for user in users:
                wanted.setdefault(user, (role.value, compound.key, None))
    for community in rooms.communities.values():
        for user in community.observers:
            wanted.setdefault(user, (Role.OBSERVER.value, None, None))
    for localpart, compound_key, building, unit, room in DEMO_RESIDENTS:
        wanted[f"@{localpart}:{server}"] = (
            Role.RESIDENT.value,
            compound_key,
            f"{building}-{unit}-{room}",
        )
    wanted[f"@{UNVERIFIED}:{server}"] = ("unverified", None, None)
    accounts = []
    for user_id, (role, home, household) in wanted.items():
        if not user_id.endswith(f":{server}"):
            continue  # staff on another homeserver: not ours to create
        password = passwords.get(user_id) or secrets.token_urlsafe(9)
        passwords[user_id] = password
        localpart = user_id[1:].split(":")[0]
        # A display name as a person would choose one: bot messages name people by it (pills).
        await synapse.register_user(localpart, password, displayname=DEMO_NAMES.get(localpart))
        accounts.append(DemoAccount(user_id, password, role, home, household))
    write_secret(secrets_path, json.dumps(passwords, indent=2))
    return accounts


def write_summary(data: Path, summary: dict[str, Any]) -> Path:
    """data/demo.json: the logins of the demo accounts, passwords included."""
    return write_secret(data / "demo.json", json.dumps(summary, ensure_ascii=False, indent=2))


def _print_summary(summary: dict[str, Any]) -> None:
    print("\nLinli demo is running. Press Ctrl-C to stop.\n")
    print(f"  Homeserver:  {summary['homeserver']}  (server name {summary['server_name']})")
    print(f"  Community space: {summary['community_space']}")
    print(f"  Back office: {summary['dashboard']}  (staff: a widget in 五位一体联络群; or open it)")
    print("  Log in with any Matrix client (e.g. app.element.io → Sign in → Edit homeserver →")
    print(f"  {summary['homeserver']}) as one of these:\n")
    for account in summary["accounts"]:
        where = account["compound"] or ""
        if account["household"]:
            where += f" {account['household']}"
        print(f"    {account['user_id']:36} {account['password']:14} {account['role']:20} {where}")
    for name, hook in summary.get("webhooks", {}).items():
        print(f"\n  Signed webhook {name}: POST {hook['url']}\n    secret {hook['secret']}")
    print('  (README.md, "Notices from outside": a curl line that signs one.)')
    print(f"\n  The same is in {summary['path']}.", flush=True)
