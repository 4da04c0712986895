"""A real Synapse (the matrix-synapse package, SQLite) run as a subprocess on loopback.

Used by `linli demo`, the benchmarks and the integration tests' session fixture.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bridge.secret_files import write_secret

# High enough for a test session or a demo compound, where one bot creates dozens of rooms and
# invites dozens of people in seconds; a production homeserver keeps its own limits. Every key
# below is read by synapse/config/ratelimiting.py of Synapse 1.163 (unknown keys are ignored
# silently there, so a typo would only show as 429s).
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
    "rc_profile": _GENEROUS,
}

CONFIG_NAME = "hs.yaml"
SIGNING_KEY_NAME = "signing.key"
SECRET_NAME = "registration_shared_secret"


@dataclass
class SynapseSettings:
    # Everything lives here: hs.yaml, signing key, shared secret, database, logs, media.
    data_dir: Path
    server_name: str = "linli.localhost"
    # Listens on 127.0.0.1 only, client (and admin) API only, no federation listener.
    port: int = 8008
    app_service_config_files: list[Path] = field(default_factory=list)
    # None: generated once and kept in data_dir, so a second run keeps working with it.
    registration_shared_secret: str | None = None
    # A file name under data_dir, or ":memory:" (gone when the process stops).
    database: str = "homeserver.db"
    # On by default because Linli uploads files (join QR codes, report charts, `!me` exports)
    # and the tests download them; switch off where nothing is ever uploaded.
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
        return self.data_dir / CONFIG_NAME

    @property
    def log_path(self) -> Path:
        return self.data_dir / "homeserver.log"

    @property
    def stderr_path(self) -> Path:
        # Whatever Synapse prints before its logging is set up (config errors, tracebacks).
        return self.data_dir / "stderr.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def _shared_secret(self) -> str:
        if self._secret is None:
            path = self.data_dir / SECRET_NAME
            if not path.exists():
                write_secret(path, secrets.token_hex(32))
            self._secret = path.read_text(encoding="utf-8").strip()
        return self._secret

    def _ensure_signing_key(self) -> Path:
        path = self.data_dir / SIGNING_KEY_NAME
        if not path.exists():
            # The format signedjson writes: "ed25519 <key id> <unpadded base64 of the 32-byte
            # seed>". Written here rather than with `--generate-keys`, which costs a second
            # Synapse start-up (about 2 s) on a fresh data dir.
            seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
            write_secret(path, f"ed25519 a_{secrets.token_hex(2)} {seed}\n")
        return path

    def _log_config(self) -> Path:
        path = self.data_dir / "log.yaml"
        config = {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(self.log_path),
                    "formatter": "plain",
                }
            },
            # WARNING keeps the file small; the tail of it is what start() shows on a crash.
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        write_secret(path, yaml.safe_dump(config))  # 0600 like all in data_dir
        return path

    def write_config(self) -> Path:
        """Write hs.yaml, the log config, and once only the signing key and secret; repeatable."""
        # Synapse's database holds every message and access token, its media store the files
        # residents sent: the folder is its user's alone, and so is what Synapse writes there
        # (it runs with umask 077, below).
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        s = self.settings
        database = s.database if s.database == ":memory:" else str(self.data_dir / s.database)
        config: dict[str, Any] = {
            "server_name": s.server_name,
            "public_baseurl": f"{self.base_url}/",
            "pid_file": str(self.data_dir / "homeserver.pid"),
            "listeners": [
                {
                    "port": s.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    # "client" also serves /_synapse/admin, which register_user needs.
                    # "openid": the back office checks OpenID tokens here (bridge/dashboard).
                    "resources": [{"names": ["client", "openid"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": database}},
            "log_config": str(self._log_config()),
            "media_store_path": str(self.data_dir / "media_store"),
            "enable_media_repo": s.enable_media_repo,
            "url_preview_enabled": False,
            "signing_key_path": str(self._ensure_signing_key()),
            "report_stats": False,  # Synapse refuses to start without an answer
            "enable_metrics": False,
            # No federation: no key servers to ask, and no other server may talk to this one.
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "enable_registration": False,
            "registration_shared_secret": self._shared_secret(),
            "bcrypt_rounds": 4,  # the default 12 costs ~0.2 s per registration and login
            "presence": {"enabled": False},
            # Synapse's defaults, spelt out: anyone (the appservice) may create aliases, and
            # nobody may publish to the room directory, which Linli does not use.
            "alias_creation_rules": [{"user_id": "*", "alias": "*", "action": "allow"}],
            "app_service_config_files": [str(p.resolve()) for p in s.app_service_config_files],
            **RATE_LIMITS,
        }
        # It carries the registration shared secret (an admin's power to create accounts).
        write_secret(self.config_path, yaml.safe_dump(config, sort_keys=False))
        return self.config_path

    def _port_taken(self) -> bool:
        # A Synapse left over on the port would answer /versions while ours dies on
        # "address in use", and start() would believe it had succeeded.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", self.settings.port))
            except OSError:
                return True
        return False

    async def start(self, timeout: float = 60) -> None:  # noqa: ASYNC109 (the API's name)
        """Start Synapse and wait until it answers; a crash raises with the end of its logs."""
        if self.running:
            return
        self.write_config()
        if self._port_taken():
            raise SynapseError(f"port {self.settings.port} on 127.0.0.1 is already in use")
        with self.stderr_path.open("ab") as stderr:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "synapse.app.homeserver",
                "-c",
                str(self.config_path),
                cwd=self.data_dir,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                umask=0o077,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        probe_timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=probe_timeout) as http:
            while loop.time() < deadline:
                if self._process.returncode is not None:
                    code, self._process = self._process.returncode, None
                    raise SynapseError(f"Synapse exited ({code}):\n{self.log_tail()}")
                try:
                    async with http.get(f"{self.base_url}/_matrix/client/versions") as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass  # not listening yet
                await asyncio.sleep(0.05)
        await self.stop()
        raise SynapseError(f"Synapse did not answer within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.stderr_path, self.log_path):
            if path.exists():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts) or "(no log written)"

    async def stop(self, grace: float = 10) -> None:
        """SIGTERM, then SIGKILL if Synapse has not exited after `grace` seconds."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def register_user(
        self, localpart: str, password: str, admin: bool = False, displayname: str | None = None
    ) -> str:
        """Create a user with the shared secret; an existing user is returned as it is."""
        url = f"{self.base_url}/_synapse/admin/v1/register"
        # A session per call: LocalSynapse may outlive one event loop (the CLI, tests).
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:
                nonce = str((await resp.json())["nonce"])
            # Synapse's MAC (rest/admin/users.py): the fields joined by NUL, none after the last.
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
            if displayname is not None:
                body["displayname"] = displayname
            async with http.post(url, json=body) as resp:
                payload = await resp.json()
                if resp.status == 200:
                    return str(payload["user_id"])
                if payload.get("errcode") == "M_USER_IN_USE":
                    return f"@{localpart}:{self.settings.server_name}"
                raise SynapseError(f"registering {localpart}: {resp.status} {payload}")

    async def login(self, user_id: str, password: str) -> str:
        """Log in with a password; returns a new access token (a new device each time)."""
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
