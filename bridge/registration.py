"""The homeserver's registration file for Linli, written from bridge.yaml (`linli registration`)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import yaml

from bridge.config import BridgeConfig
from bridge.rooms_config import RoomsConfig
from bridge.secret_files import write_secret


def registration(config: BridgeConfig, rooms: RoomsConfig | None) -> dict[str, Any]:
    server = re.escape(config.homeserver.server_name)
    prefix = re.escape(config.alias_prefix)
    if rooms is not None and (rooms.compounds or rooms.communities):
        # Only the aliases Linli makes: its communities and compounds and their rooms. A new
        # compound needs the registration written again (and the homeserver restarted).
        keys = "|".join(sorted({*rooms.compounds, *rooms.communities}))
        alias_regex = f"#{prefix}(?:{keys})(?:-[a-z0-9_]+)?:{server}"
    else:
        alias_regex = f"#{prefix}[a-z0-9_]+(?:-[a-z0-9_]+)?:{server}"
    return {
        "id": config.appservice.id,
        "url": config.appservice.url,
        "as_token": config.appservice.as_token,
        "hs_token": config.appservice.hs_token,
        "sender_localpart": config.bots.main,
        "namespaces": {
            "users": [
                {
                    "exclusive": True,
                    "regex": f"@{re.escape(config.bots.namespace_prefix)}.*:{server}",
                }
            ],
            "aliases": [{"exclusive": True, "regex": alias_regex}],
            "rooms": [],
        },
        "rate_limited": False,
        # Read receipts reach Linli (the notices' reach); the old name for older Synapse.
        "receive_ephemeral": True,
        "de.sorunome.msc2409.push_ephemeral": True,
    }


def write_registration(config: BridgeConfig, rooms: RoomsConfig | None, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # It holds both tokens: readable by its owner only (and by a group the owner chose).
    return write_secret(
        path,
        "# Give this file to the homeserver (Synapse: app_service_config_files).\n"
        + yaml.safe_dump(registration(config, rooms), allow_unicode=True, sort_keys=False),
    )


def new_token() -> str:
    return secrets.token_urlsafe(32)


def bridge_yaml_text(
    *,
    homeserver_url: str = "http://127.0.0.1:8008",
    server_name: str = "linli.localhost",
    listen_host: str = "127.0.0.1",
    listen_port: int = 29330,
    appservice_url: str | None = None,
    database_url: str = "sqlite+aiosqlite:///data/linli.db",
    metrics_host: str = "127.0.0.1",
    metrics_port: int = 29331,
    rooms_config: str = "rooms_config",
) -> str:
    """A bridge.yaml with fresh random tokens (`linli init`)."""
    return f"""# Linli's own settings. Paths are relative to this file's folder.
homeserver:
  url: {homeserver_url}
  server_name: {server_name}
appservice:
  id: linli
  listen_host: {listen_host}
  listen_port: {listen_port}
  url: {appservice_url or f"http://127.0.0.1:{listen_port}"}
  as_token: {new_token()}
  hs_token: {new_token()}
database:
  url: {database_url}
metrics:
  enabled: true
  listen_host: {metrics_host}
  listen_port: {metrics_port}
rooms_config: {rooms_config}
bots:
  main: linli
  namespace_prefix: linli
locale: zh
timezone: Asia/Shanghai
join:
  client_url: null
# The back office: a widget in the staff rooms and a page for phones, served on the appservice
# listener under /linli/dashboard/. Set public_url to the address staff's browsers reach Linli
# at (your proxy); the widget in the rooms uses it.
dashboard:
  enabled: true
  public_url: null
  homeserver_public_url: null
# The default escalation ladder ends with a work order to the grid-management platform:
# Linli refuses to plan, apply or run until that target exists, or until the compounds'
# `tickets: escalation:` leaves it out.
# webhooks:
#   grid:
#     url: https://grid.example.gov.cn/linli/work-orders
#     secret: a-shared-secret-of-16-characters-or-more
#     inbound_secret: another-secret-for-status-updates
"""
