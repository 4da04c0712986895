"""The link (and QR code) that opens a compound's lobby in a Matrix client."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def lobby_link(alias: str, client_url: str | None = None) -> str:
    """matrix.to by default (any client opens it); a community's own Element when configured.

    matrix.to wants the alias percent-encoded after "#/" (MSC: matrix.to URI scheme); Element's
    own route takes it as "#/room/#alias:server".
    """
    if client_url:
        return f"{client_url.rstrip('/')}/#/room/{alias}"
    return f"https://matrix.to/#/{quote(alias, safe='')}"


def write_qr_png(link: str, path: Path) -> Path:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(link)
    code.make(fit=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    code.make_image().save(str(path))
    return path
