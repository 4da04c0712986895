"""Media through the homeserver: the download of an mxc:// item (authenticated media, then the
legacy path), and the answer-body parsing the client shares with it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp

from bridge.matrix_errors import MatrixError, TooLarge, Unavailable, error_for

if TYPE_CHECKING:
    from bridge.matrix import MatrixClient


async def download_media(client: MatrixClient, mxc: str, max_bytes: int) -> bytes:
    """The bytes of an mxc:// media item, through the authenticated media API
    (`/_matrix/client/v1/media/download`, Matrix 1.11; Synapse since 1.111) or, on an
    older homeserver that does not know it, the legacy `/_matrix/media/v3/download`.
    TooLarge when it is bigger than `max_bytes`; NotFound when it is not there."""
    parts = urlsplit(mxc)
    if parts.scheme != "mxc" or not parts.netloc or not parts.path.strip("/"):
        raise MatrixError(400, "M_INVALID_PARAM", "not an mxc:// URL", "GET", mxc)
    server, media = quote(parts.netloc, safe=""), quote(parts.path.strip("/"), safe="")
    query = urlencode({"user_id": client.default_user})
    headers = {"Authorization": f"Bearer {client.as_token}"}
    for prefix in ("/_matrix/client/v1/media/download", "/_matrix/media/v3/download"):
        path = f"{prefix}/{server}/{media}"
        try:
            async with client._http().get(
                f"{client.base_url}{path}?{query}", headers=headers
            ) as resp:
                status = resp.status
                too_large = status == 200 and (resp.content_length or 0) > max_bytes
                data = b"" if too_large else await resp.content.read(max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise Unavailable(0, "M_UNAVAILABLE", str(e), "GET", path) from e
        if status == 200:
            if too_large or len(data) > max_bytes:
                raise TooLarge(413, "M_TOO_LARGE", "media too large", "GET", path)
            return data
        payload = json_or_empty(data.decode("utf-8", "replace"))
        errcode = str(payload.get("errcode", "M_UNKNOWN"))
        if status in (404, 405) and errcode == "M_UNRECOGNIZED":
            continue  # the homeserver predates authenticated media
        error = str(payload.get("error", ""))
        raise error_for(status, errcode, error, "GET", path, gave_up=status >= 500 or status == 429)
    raise MatrixError(404, "M_UNRECOGNIZED", "no media download API", "GET", mxc)


def json_or_empty(text: str) -> dict[str, Any]:
    """The answer's JSON object; an array (`GET /rooms/{id}/state` answers with one) comes as
    {"chunk": [...]}, the shape of the spec's paginated answers."""
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    if isinstance(value, list):
        return {"chunk": value}
    return value if isinstance(value, dict) else {}
