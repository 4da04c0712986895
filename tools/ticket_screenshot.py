"""A ticket thread as a resident sees it in a real Matrix client: Cinny, in headless Chromium.

    .venv/bin/python -m tools.ticket_screenshot --cinny /path/to/cinny/dist [--out PNG]

Starts its own Synapse and Linli (the example compound 和平里小区, on loopback ports of its
own), has a resident report a broken lift with "@物业", the property staff answer in the
thread and mark it done, then logs in to Cinny as the resident and screenshots the room. It
writes docs/screenshots/ticket-thread.png by default.

Not run in CI: Cinny's source is not on a package registry (its npm package has no `src/`), so
it is built by hand, as /work/shared/REAL-CLIENT.md says: `npm install --legacy-peer-deps`,
`npx vite build`. Also needed: Debian's `chromium`, `chromium-driver`, `fonts-noto-cjk`,
`fonts-noto-color-emoji`, and `pip install selenium`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.server
import json
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bots import ALL_BOTS
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.config import (
    AppserviceConfig,
    BridgeConfig,
    DatabaseConfig,
    HomeserverConfig,
    MetricsConfig,
)
from bridge.local_synapse import LocalSynapse, SynapseSettings
from bridge.matrix import MatrixClient
from bridge.registration import write_registration
from bridge.rooms_config import load_rooms_config
from tests.integration.matrix_client import ResidentClient

ROOT = Path(__file__).resolve().parents[1]
SERVER = "linli.localhost"
PASSWORD = "demo password for the screenshot"
RESIDENT, RESIDENT_NAME = "li_ayi", "李阿姨"
STAFF, STAFF_NAME = "wuye_wang", "物业小王"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def staff_localparts(rooms_dir: Path) -> set[str]:
    """The example config's people (apply invites them, so they must exist)."""
    found = set()
    for path in rooms_dir.rglob("*.yaml"):
        for token in path.read_text(encoding="utf-8").split('"'):
            if token.startswith("@") and token.endswith(f":{SERVER}"):
                found.add(token[1 : -len(SERVER) - 1])
    return found


async def stage(work: Path) -> tuple[LocalSynapse, Bridge, str]:
    """Synapse, Linli and a ticket's life up to "please confirm"; returns the room ID."""
    rooms_dir = work / "rooms_config"
    shutil.copytree(ROOT / "rooms_config", rooms_dir)
    for path in (rooms_dir / "compounds").glob("*.yaml"):
        if path.stem != "heping":
            path.unlink()
    as_port, hs_port = free_port(), free_port()
    config = BridgeConfig(
        homeserver=HomeserverConfig(url=f"http://127.0.0.1:{hs_port}", server_name=SERVER),
        appservice=AppserviceConfig(
            as_token=secrets.token_hex(16),
            hs_token=secrets.token_hex(16),
            listen_port=as_port,
            url=f"http://127.0.0.1:{as_port}",
        ),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{work / 'linli.db'}"),
        rooms_config=rooms_dir,
        metrics=MetricsConfig(listen_port=0),
    )
    registration = write_registration(config, None, work / "registration.yaml")
    synapse = LocalSynapse(
        SynapseSettings(
            data_dir=work / "synapse", port=hs_port, app_service_config_files=[registration]
        )
    )
    await synapse.start()
    for localpart in staff_localparts(rooms_dir):
        await synapse.register_user(localpart, PASSWORD)
    resident_id = await synapse.register_user(RESIDENT, PASSWORD, displayname=RESIDENT_NAME)
    rooms = load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    client = MatrixClient(synapse.base_url, config.appservice.as_token, config.bot_user_id)
    bridge = Bridge(config, rooms, ALL_BOTS, client=client)
    await bridge.start(apply=False)
    await bridge.store.people.bind_household(
        "heping", resident_id, "3", "2", "1101", bridge.clock.now()
    )
    await bridge.provisioner.apply()

    resident = await ResidentClient.login(synapse.base_url, resident_id, PASSWORD)
    staff = await ResidentClient.login(synapse.base_url, f"@{STAFF}:{SERVER}", PASSWORD)
    try:
        await staff.call(
            "PUT",
            f"/_matrix/client/v3/profile/{staff.user_id}/displayname",
            {"displayname": STAFF_NAME},
        )
        room = await resident.join(f"#heping-neighbours:{SERVER}")
        await staff.join(room)
        mention = await resident.send_text(room, "@物业 3号楼电梯坏了，按钮按了没反应")
        await resident.wait_for_event(room, lambda e: "工单 #1" in str(e["content"]))
        await staff.reply_in_thread(room, mention, "收到，马上派师傅去看。")
        await staff.reply_in_thread(room, mention, "!工单 完成 1 已更换电梯按钮")
        await resident.wait_for_event(room, lambda e: "请确认" in str(e["content"]))
    finally:
        await resident.close()
        await staff.close()
    return synapse, bridge, room


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[int]:
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()


def screenshot(cinny_dist: Path, homeserver: str, room: str, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    site = Path(tempfile.mkdtemp(prefix="cinny-"))
    shutil.copytree(cinny_dist, site, dirs_exist_ok=True)
    settings = json.loads((site / "config.json").read_text(encoding="utf-8"))
    settings.update(
        homeserverList=[homeserver],
        defaultHomeserver=0,
        allowCustomHomeservers=True,
        featuredCommunities={"openAsDefault": False, "spaces": [], "rooms": [], "servers": []},
        hashRouter={"enabled": True, "basename": "/"},
    )
    (site / "config.json").write_text(json.dumps(settings), encoding="utf-8")
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--window-size=1100,1000", "--lang=zh-CN"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    with serve(site) as port:
        driver = webdriver.Chrome(
            options=options, service=webdriver.ChromeService("/usr/bin/chromedriver")
        )
        try:
            wait = WebDriverWait(driver, 60)
            driver.get(f"http://127.0.0.1:{port}/#/login/")
            wait.until(ready.presence_of_element_located((By.NAME, "usernameInput")))
            driver.find_element(By.NAME, "usernameInput").send_keys(RESIDENT)
            driver.find_element(By.NAME, "passwordInput").send_keys(PASSWORD + "\n")
            wait.until(lambda d: "/login" not in d.current_url)
            wait.until(lambda d: "Connecting" not in d.page_source)
            driver.get(f"http://127.0.0.1:{port}/#/home/{room}/")
            wait.until(lambda d: "请确认" in d.page_source)
            time.sleep(3)  # avatars and names load after the timeline (a picture, not a test)
            out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cinny", type=Path, required=True, help="Cinny's built dist/ folder")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/screenshots/ticket-thread.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="linli-shot-") as folder:
        synapse, bridge, room = await stage(Path(folder))
        try:
            await asyncio.to_thread(screenshot, args.cinny, synapse.base_url, room, args.out)
        finally:
            await bridge.stop()
            await synapse.stop()
    print(args.out)


if __name__ == "__main__":
    asyncio.run(main())
