"""The operator's folder and the Compose commands of docs/self-hosting.md, run as written
(tests/docker). The folder is a copy of the repository as it is (tracked and new files), the
`.env` is docker/env.example filled in, plus what the test run needs: COMPOSE_FILE naming
docker/compose.test.yaml after compose.yaml, and the ports it picked free."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import free_port
from tests.docker.engine import REPO, Engine

SERVER = "linli.localhost"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str
    raw: bytes = b""  # standard output as it came (a dump)

    @property
    def said(self) -> str:
        return self.out + self.err


def compose_command(engine: Engine) -> list[str]:
    """`docker compose` where the Compose plugin is installed, else Compose v1 (Debian 12's
    docker-compose package): the same subcommands and options for everything the docs use."""
    plugin = subprocess.run(
        ["docker", "compose", "version"], env=engine.env, capture_output=True, check=False
    )
    return ["docker", "compose"] if plugin.returncode == 0 else ["docker-compose"]


def repository_copy(target: Path) -> Path:
    """The repository's files as they are now (committed or not), as a clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@dataclass
class Stack:
    engine: Engine
    workdir: Path
    images: dict[str, str]
    project: str = field(default_factory=lambda: f"linlitest{secrets.token_hex(3)}")
    ports: dict[str, int] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ports = {name: free_port() for name in ("hs", "as", "metrics", "pg")}
        self.command = compose_command(self.engine)

    @property
    def homeserver_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['hs']}"

    def write_env(self, **leave_out: bool) -> None:
        """docker/env.example filled in as the docs say, and the test's own settings."""
        lines = []
        for line in (self.workdir / "docker" / "env.example").read_text().splitlines():
            key = line.split("=", 1)[0]
            if line.startswith("#") or "=" not in line:
                lines.append(line)
            elif key == "COMPOSE_FILE":  # the published port's file replaced by the test's
                assert line == f"{key}=compose.yaml:docker/compose.ports.yaml", line
                lines.append(f"{key}=compose.yaml:docker/compose.test.yaml")
            elif key == "SYNAPSE_SERVER_NAME":
                lines.append(f"{key}={SERVER}")
            elif not leave_out.get(key):
                lines.append(f"{key}={secrets.token_urlsafe(24)}")
        lines += [
            f"COMPOSE_PROJECT_NAME={self.project}",
            f"LINLI_TEST_BASE={self.images['base']}",
            f"LINLI_TEST_SYNAPSE_IMAGE={self.images['synapse']}",
            f"LINLI_TEST_POSTGRES_IMAGE={self.images['postgres']}",
            f"LINLI_TEST_LINLI_IMAGE=linli-test/linli:{self.project}",
            f"LINLI_TEST_HS_PORT={self.ports['hs']}",
            f"LINLI_TEST_PG_PORT={self.ports['pg']}",
        ]
        (self.workdir / ".env").write_text("\n".join(lines) + "\n")

    def write_synapse_overrides(self) -> None:
        """docker/synapse-linli.yaml with the test's ports, nothing else changed."""
        text = (self.workdir / "docker" / "synapse-linli.yaml").read_text()
        assert "port: 5432" in text and "- port: 8008" in text
        text = text.replace("port: 5432", f"port: {self.ports['pg']}")
        text = text.replace("- port: 8008", f"- port: {self.ports['hs']}")
        (self.workdir / "docker" / "synapse-linli.test.yaml").write_text(text)

    def compose(self, *args: str, timeout: float = 900, stdin: bytes | None = None) -> Ran:
        started = time.monotonic()
        done = subprocess.run(
            [*self.command, *args], cwd=self.workdir, env=self.engine.env,
            input=stdin if stdin is not None else b"",
            capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip
        self.engine.timings.setdefault(f"compose {args[0]}", 0.0)
        self.engine.timings[f"compose {args[0]}"] += time.monotonic() - started
        return Ran(
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
            done.stdout,
        )

    def ok(self, *args: str, timeout: float = 900) -> Ran:
        ran = self.compose(*args, timeout=timeout)
        if ran.code != 0:
            logs = self.compose("logs", "--tail", "25").said if args[0] != "logs" else ""
            raise AssertionError(f"{' '.join(args)}: {ran.code}\n{ran.said[-4000:]}\n{logs}")
        return ran

    def linli(self, *args: str) -> Ran:
        """`docker compose exec linli linli -c /config/bridge.yaml …`, as the docs write it."""
        return self.compose("exec", "-T", "linli", "linli", "-c", "/config/bridge.yaml", *args)

    def container(self, service: str) -> str:
        return self.ok("ps", "-q", service).out.strip()

    def health(self, service: str) -> str:
        cid = self.container(service)
        if not cid:
            return "absent"
        state = json.loads(self.engine.docker("inspect", "--format", "{{json .State}}", cid))
        return str(state.get("Health", {}).get("Status") or state.get("Status"))

    def wait_healthy(self, *services: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {s: self.health(s) for s in services}
            if all(state == "healthy" for state in states.values()):
                return
            time.sleep(1)
        logs = self.compose("logs", "--tail", "40", *services).said
        raise AssertionError(f"not healthy after {timeout:.0f} s: {states}\n{logs[-6000:]}")

    def shared_secret(self) -> str:
        config = self.ok("exec", "-T", "synapse", "cat", "/data/homeserver.yaml").out
        for line in config.splitlines():
            if line.startswith("registration_shared_secret:"):
                return line.split(":", 1)[1].strip().strip("\"'")
        raise AssertionError("no registration_shared_secret in the generated homeserver.yaml")

    async def register(self, secret: str, localpart: str) -> str:
        """An account made with Synapse's shared secret (its admin registration API)."""
        url = f"{self.homeserver_url}/_synapse/admin/v1/register"
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:
                nonce = str((await resp.json())["nonce"])
            fields = (nonce, localpart, PASSWORD, "notadmin")
            mac = hmac.new(secret.encode(), b"\x00".join(f.encode() for f in fields), hashlib.sha1)
            body: dict[str, Any] = {
                "nonce": nonce, "username": localpart, "password": PASSWORD,
                "admin": False, "mac": mac.hexdigest(),
            }  # fmt: skip
            async with http.post(url, json=body) as resp:
                payload = await resp.json()
                if resp.status == 200:
                    return str(payload["user_id"])
                assert payload.get("errcode") == "M_USER_IN_USE", payload
                return f"@{localpart}:{SERVER}"

    def save_logs(self) -> None:
        """The services' logs, kept in the cache folder (last-run.log) for a failure's story."""
        logs = self.compose("logs", "--no-color", "--timestamps", timeout=120).said
        if "|" in logs:  # a service's lines, not only compose's "Attaching to"
            (self.workdir.parent.parent / "last-run.log").write_text(logs)

    def cleanup(self) -> None:
        """Containers, volumes and the project's images go; the cached base and stand-ins stay."""
        self.save_logs()
        self.compose("down", "--volumes", "--remove-orphans", timeout=300)
        for tag in (f"linli-test/linli:{self.project}",):
            subprocess.run(
                ["/usr/bin/docker", "rmi", "-f", tag], env=self.engine.env,
                capture_output=True, check=False,
            )  # fmt: skip
        # Layers of earlier runs' builds go; this run's stay as the next run's build cache.
        subprocess.run(
            ["/usr/bin/docker", "image", "prune", "--force", "--filter", "until=24h"],
            env=self.engine.env, capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(self.workdir, ignore_errors=True)
