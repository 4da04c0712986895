"""Which Synapse Linli talks to, asked once at start, and what that means for read receipts.

Synapse 1.160–1.162 handed an appservice only the newest 100 receipts when more arrived between
two transactions, and moved on (element-hq/synapse#20096, fixed in 1.163.0): reach is then
undercounted unless the receipts are read back through /sync more often.
"""

from __future__ import annotations

import logging
import re

from bridge.matrix import MatrixClient
from bridge.matrix_errors import MatrixError

log = logging.getLogger(__name__)

# Where a homeserver says its version: Synapse's admin API (served with the client API, no
# token needed), else the federation API (when a proxy keeps /_synapse from the world).
VERSION_PATHS = (
    ("/_synapse/admin/v1/server_version", "server_version"),
    ("/_matrix/federation/v1/version", "server"),
)
RECEIPT_BURST_BUG = ((1, 160), (1, 163))  # from, fixed in


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.match(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def drops_receipt_bursts(version: tuple[int, int, int] | None) -> bool:
    """A Synapse known to drop all but the newest 100 receipts of a burst."""
    if version is None:
        return False
    start, fixed = RECEIPT_BURST_BUG
    return start <= version[:2] < fixed


async def synapse_version(client: MatrixClient) -> tuple[int, int, int] | None:
    """The homeserver's Synapse version, or None when it does not say (another server)."""
    for path, key in VERSION_PATHS:
        try:
            answer = await client.request("GET", path)
        except MatrixError:
            continue
        value = answer.get(key)
        if isinstance(value, dict):  # federation: {"server": {"name": ..., "version": ...}}
            if value.get("name") != "Synapse":
                return None
            value = value.get("version")
        if isinstance(value, str):
            return parse_version(value)
    return None


async def check_receipts_complete(client: MatrixClient) -> bool:
    """True when the homeserver delivers every receipt of a burst; a Synapse with #20096 is
    warned about in one line (and Linli reads receipts back through /sync more often)."""
    version = await synapse_version(client)
    if drops_receipt_bursts(version):
        assert version is not None
        log.warning(
            "Synapse %s drops read receipts in bursts (element-hq/synapse#20096, fixed in"
            " 1.163.0): reach will be undercounted between catch-ups; upgrade Synapse",
            ".".join(map(str, version)),
        )
        return False
    return True
