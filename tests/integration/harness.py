"""A Linli bridge per test against the session's Synapse: own database, own alias prefix.

Tests share one homeserver, so each test's rooms get aliases under a prefix of their own; the
bridge always listens on the port the registration names, one test at a time.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bots import ALL_BOTS
from bridge.app import Bridge
from bridge.bot import Bot, config_sections
from bridge.clock import Clock
from bridge.config import (
    AppserviceConfig,
    BridgeConfig,
    DatabaseConfig,
    HomeserverConfig,
    MetricsConfig,
    WebhookTarget,
)
from bridge.matrix import MatrixClient
from bridge.rooms_config import RoomsConfig, load_rooms_config
from bridge.secret_files import ensure_secret_key

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
_prefixes = itertools.count(1)


@dataclass
class Harness:
    homeserver_url: str
    server_name: str
    as_token: str
    hs_token: str
    port: int
    workdir: Path
    prefix: str = field(default_factory=lambda: f"t{next(_prefixes)}_")
    bridges: list[Bridge] = field(default_factory=list)
    webhooks: dict[str, WebhookTarget] = field(default_factory=dict)
    database_url: str | None = None  # SQLite in the workdir unless given

    def __post_init__(self) -> None:
        self.rooms_dir = self.workdir / "rooms_config"
        if not self.rooms_dir.exists():
            shutil.copytree(EXAMPLES, self.rooms_dir)
        ensure_secret_key(self.workdir / "receipt.key")  # as `linli init` makes it

    @property
    def config(self) -> BridgeConfig:
        return BridgeConfig(
            homeserver=HomeserverConfig(url=self.homeserver_url, server_name=self.server_name),
            appservice=AppserviceConfig(
                as_token=self.as_token,
                hs_token=self.hs_token,
                listen_port=self.port,
                url=f"http://127.0.0.1:{self.port}",
            ),
            database=DatabaseConfig(
                url=self.database_url or f"sqlite+aiosqlite:///{self.workdir / 'linli.db'}"
            ),
            rooms_config=self.rooms_dir,
            alias_prefix=self.prefix,
            webhooks=self.webhooks,
            metrics=MetricsConfig(listen_port=0),
            receipt_key_file=self.workdir / "receipt.key",
        )

    def write_bridge_yaml(self) -> Path:
        """A bridge.yaml for this test, for driving the `linli` command line."""
        path = self.workdir / "bridge.yaml"
        database_url = self.database_url or "sqlite+aiosqlite:///linli.db"
        path.write_text(
            f"""homeserver: {{url: "{self.homeserver_url}", server_name: {self.server_name}}}
appservice: {{as_token: {self.as_token}, hs_token: {self.hs_token}, listen_port: {self.port}, url: "http://127.0.0.1:{self.port}"}}
database: {{url: "{database_url}"}}
metrics: {{listen_port: 0}}
rooms_config: rooms_config
alias_prefix: {self.prefix}
webhooks: {{grid: {{url: "http://127.0.0.1:9/grid", secret: grid-secret-for-the-tests}}}}
""",
            encoding="utf-8",
        )
        return path

    def only(self, *compounds: str) -> None:
        """Keep only these example compounds (a smaller apply for tests that need one)."""
        for path in (self.rooms_dir / "compounds").glob("*.yaml"):
            if path.stem not in compounds:
                path.unlink()

    def rooms(self) -> RoomsConfig:
        return load_rooms_config(self.rooms_dir, "zh", config_sections(ALL_BOTS))

    def alias(self, key: str) -> str:
        return f"#{self.prefix}{key}:{self.server_name}"

    def edit_compound(self, compound: str, old: str, new: str) -> None:
        path = self.rooms_dir / "compounds" / f"{compound}.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    async def start_bridge(
        self,
        *,
        apply: bool = True,
        process_inbox: bool = True,
        clock: Clock | None = None,
        bots: Sequence[type[Bot]] = ALL_BOTS,
    ) -> Bridge:
        client = MatrixClient(
            self.homeserver_url, self.as_token, self.config.bot_user_id, backoff_base=0.05
        )
        bridge = Bridge(
            self.config,
            self.rooms(),
            bots,
            clock=clock,
            client=client,
            process_inbox=process_inbox,
        )
        await bridge.start(apply=apply)
        self.bridges.append(bridge)
        return bridge

    async def stop_bridge(self, bridge: Bridge) -> None:
        await bridge.stop()
        self.bridges.remove(bridge)

    async def stop_all(self) -> None:
        for bridge in list(self.bridges):
            await self.stop_bridge(bridge)
