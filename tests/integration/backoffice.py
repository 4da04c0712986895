"""Helpers of the back office's tests: a real OpenID token from the test Synapse (as a client
gets one: `POST /user/{userId}/openid/request_token`), and the dashboard's API as the page
calls it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.integration.matrix_client import ResidentClient, q


async def openid_token(client: ResidentClient) -> dict[str, Any]:
    return await client.call(
        "POST", f"/_matrix/client/v3/user/{q(client.user_id)}/openid/request_token", {}
    )


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class DashboardClient:
    """The page's calls to Linli, with its bearer session once signed in."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/") + "/linli/dashboard/"
        self.http = aiohttp.ClientSession()
        self.token: str | None = None

    async def close(self) -> None:
        await self.http.close()

    async def call(self, method: str, path: str, body: Any = None) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as resp:
            try:
                payload = await resp.json(content_type=None)
            except ValueError:
                payload = {}
            return Answer(
                resp.status, payload if isinstance(payload, dict) else {}, dict(resp.headers)
            )

    async def sign_in(self, client: ResidentClient) -> Answer:
        token = await openid_token(client)
        answer = await self.call(
            "POST",
            "api/session",
            {
                "access_token": token["access_token"],
                "matrix_server_name": token["matrix_server_name"],
            },
        )
        if answer.status == 200:
            self.token = answer.body["token"]
        return answer
