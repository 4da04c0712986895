"""Who an OpenID token belongs to, asked of the configured homeserver only.

Spec: Server-Server API, "OpenID" (`GET /_matrix/federation/v1/openid/userinfo`); Synapse
serves it on a listener with the `openid` (or `federation`) resource. The host asked is always
`homeserver.url` from bridge.yaml, never one the token or the page names, so a token cannot
make Linli call anywhere else (no SSRF), and the answer's `sub` must be a user of
`homeserver.server_name`.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

# A token as homeservers issue them (Synapse: 24 letters); anything else is refused unasked.
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{8,512}$")


class OpenIdRefused(Exception):
    """The token names nobody of this homeserver (forged, expired, another server's)."""


class OpenIdUnavailable(Exception):
    """The homeserver did not answer: try again later."""


class OpenIdVerifier:
    def __init__(self, homeserver_url: str, server_name: str, timeout: float = 10.0) -> None:
        self.url = homeserver_url.rstrip("/") + "/_matrix/federation/v1/openid/userinfo"
        self.server_name = server_name
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def user_of(self, access_token: str, matrix_server_name: str | None) -> str:
        """The user ID the token was issued to; OpenIdRefused or OpenIdUnavailable."""
        if not _TOKEN.fullmatch(access_token):
            raise OpenIdRefused("malformed token")
        if matrix_server_name is not None and matrix_server_name != self.server_name:
            raise OpenIdRefused("another homeserver")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        url = f"{self.url}?access_token={quote(access_token, safe='')}"
        try:
            async with self._session.get(url, allow_redirects=False) as resp:
                if resp.status in (401, 403, 404):
                    raise OpenIdRefused(f"homeserver answered {resp.status}")
                if resp.status != 200:
                    raise OpenIdUnavailable(f"homeserver answered {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise OpenIdUnavailable(type(e).__name__) from e
        sub = body.get("sub") if isinstance(body, dict) else None
        if not isinstance(sub, str) or not sub.startswith("@"):
            raise OpenIdRefused("no sub")
        if sub.split(":", 1)[-1] != self.server_name:
            raise OpenIdRefused("a user of another server")
        return sub

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
