"""A real Synapse (the matrix-synapse package, SQLite) run as a subprocess on loopback.

Used by `linli demo` and by the integration tests' session fixture. Loopback only, no
federation, registration closed; users are made through the shared-secret admin API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

# High enough for a test session or a demo compound, where one bot creates dozens of rooms and
# invites dozens of people in seconds; a production homeserver keeps its own limits.
_GENEROUS = {"per_second": 1000, "burst_count": 1000}
RATE_LIMITS: dict[str, Any] = {
    "rc_message": _GENEROUS,
    "rc_registration": _GENEROUS,
    "rc_login": {"address": _GENEROUS, "account": _GENEROUS, "failed_attempts": _GENEROUS},
    "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
    "rc_joins_per_room": _GENEROUS,
    "rc_invites": {"per_room": _GENEROUS, "per_user": _GENEROUS, "per_issuer": _GENEROUS},
    "rc_room_creation": _GENEROUS,
    "rc_admin_redaction": _GENEROUS,
    "rc_3pid_validation": _GENEROUS,
    "rc_media_create": _GENEROUS,
}


@dataclass
class SynapseSettings:
    data_dir: Path
    server_name: str = "linli.localhost"
    port: int = 8008
    app_service_config_files: list[Path] = field(default_factory=list)
    registration_shared_secret: str | None = None
    database: str = "homeserver.db"
    enable_media_repo: bool = True


class SynapseError(RuntimeError):
    pass


class LocalSynapse:
    def __init__(self, settings: SynapseSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self._process: asyncio.subprocess.Process | None = None
        self._secret: str | None = settings.registration_shared_secret

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "homeserver.yaml"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "homeserver.log"

    def _shared_secret(self) -> str:
        if self._secret is None:
            path = self.data_dir / "registration_shared_secret"
            if not path.exists():
                path.write_text(secrets.token_hex(32), encoding="utf-8")
                path.chmod(0o600)
            self._secret = path.read_text(encoding="utf-8").strip()
        return self._secret

    def write_config(self) -> Path:
        """Write homeserver.yaml (and a log config and signing key once); safe to repeat."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        s = self.settings
        log_config = self.data_dir / "log.yaml"
        log_config.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "formatters": {
                        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
                    },
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "filename": str(self.log_path),
                            "formatter": "plain",
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            ),
            encoding="utf-8",
        )
        database = s.database if s.database == ":memory:" else str(self.data_dir / s.database)
        config: dict[str, Any] = {
            "server_name": s.server_name,
            "pid_file": str(self.data_dir / "homeserver.pid"),
            "listeners": [
                {
                    "port": s.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": database}},
            "log_config": str(log_config),
            "media_store_path": str(self.data_dir / "media_store"),
            "enable_media_repo": s.enable_media_repo,
            "signing_key_path": str(self.data_dir / "signing.key"),
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "enable_registration": False,
            "registration_shared_secret": self._shared_secret(),
            "bcrypt_rounds": 4,
            "presence": {"enabled": False},
            "app_service_config_files": [str(p) for p in s.app_service_config_files],
            "url_preview_enabled": False,
            "enable_metrics": False,
            **RATE_LIMITS,
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        if not (self.data_dir / "signing.key").exists():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "synapse.app.homeserver",
                    "-c",
                    str(self.config_path),
                    "--generate-keys",
                ],
                check=True,
                cwd=self.data_dir,
                capture_output=True,
            )
        return self.config_path

    async def start(self, within: float = 60) -> None:
        """Start Synapse and wait until it answers; a crash raises with the end of its log."""
        if not self.config_path.exists():
            self.write_config()
        with (self.data_dir / "stderr.log").open("ab") as stderr:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "synapse.app.homeserver",
                "-c",
                str(self.config_path),
                cwd=self.data_dir,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with aiohttp.ClientSession() as http:
            while loop.time() < deadline:
                if self._process.returncode is not None:
                    raise SynapseError(
                        f"Synapse exited ({self._process.returncode}):\n{self._tail()}"
                    )
                try:
                    async with http.get(f"{self.base_url}/_matrix/client/versions") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        await self.stop()
        raise SynapseError(f"Synapse did not answer within {within}s:\n{self._tail()}")

    def _tail(self) -> str:
        parts = []
        for path in (self.data_dir / "stderr.log", self.log_path):
            if path.exists():
                parts.append("\n".join(path.read_text(errors="replace").splitlines()[-20:]))
        return "\n".join(parts)

    async def stop(self, within: float = 10) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def register_user(
        self, localpart: str, password: str, admin: bool = False, displayname: str | None = None
    ) -> str:
        """Create a user with the shared secret; an existing user is returned as it is."""
        url = f"{self.base_url}/_synapse/admin/v1/register"
        user_id = f"@{localpart}:{self.settings.server_name}"
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:
                nonce = (await resp.json())["nonce"]
            # Synapse's MAC: the four fields joined by NUL, no NUL after the last (HMAC-SHA1).
            fields = (nonce, localpart, password, "admin" if admin else "notadmin")
            mac = hmac.new(
                self._shared_secret().encode(),
                b"\x00".join(f.encode() for f in fields),
                hashlib.sha1,
            )
            body: dict[str, Any] = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            if displayname:
                body["displayname"] = displayname
            async with http.post(url, json=body) as resp:
                payload = await resp.json()
                if resp.status == 200:
                    return str(payload["user_id"])
                if payload.get("errcode") == "M_USER_IN_USE":
                    return user_id
                raise SynapseError(f"registering {localpart}: {resp.status} {payload}")

    async def login(self, user_id: str, password: str) -> str:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.base_url}/_matrix/client/v3/login",
                json={
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": user_id},
                    "password": password,
                },
            ) as resp:
                payload = await resp.json()
                if resp.status != 200:
                    raise SynapseError(f"login {user_id}: {resp.status} {payload}")
                return str(payload["access_token"])
