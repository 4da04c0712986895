"""Linli as an operator runs it: `linli run` in a process of its own, from a bridge.yaml in a
test's folder. Tests start it, SIGKILL it, start it again, send it what a homeserver sends, and
read its SQLite database read-only; none of Linli's code runs in the test's process, so these
tests keep working however the inside is arranged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import os
import secrets
import shutil
import signal
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
BOT_LOCALPART = "linli"
_prefixes = itertools.count(1)


class LinliExited(RuntimeError):
    """The process ended on its own (a traceback at start, a config error)."""


@dataclass(frozen=True)
class GridTarget:
    """The grid platform's webhook settings, as bridge.yaml spells them."""

    url: str
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    inbound_secret: str = field(default_factory=lambda: secrets.token_hex(16))


@dataclass
class LinliProcess:
    workdir: Path
    homeserver_url: str
    server_name: str
    as_token: str
    hs_token: str
    port: int  # the appservice port the homeserver's registration names
    compounds: Sequence[str] = ("heping",)
    # The default escalation ladder ends at the grid platform, and Linli refuses to start
    # without the target it names: one that nothing answers unless a test gives its own.
    grid: GridTarget = field(default_factory=lambda: GridTarget("http://127.0.0.1:9/orders"))
    verbose: bool = False
    # PostgreSQL instead of the SQLite file in workdir (two processes may share it).
    database_url: str | None = None
    metrics_port: int = 0  # 0: any free port (then only the process knows it)
    log_file: str | None = None  # bridge.yaml's logging.file, beside the captured output
    # Unique in the shared homeserver; unlike the in-process harness's "t<n>_".
    prefix: str = field(default_factory=lambda: f"p{next(_prefixes)}{secrets.token_hex(2)}_")
    starts: int = 0
    kills: int = 0
    _process: asyncio.subprocess.Process | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rooms_dir = self.workdir / "rooms_config"
        if not self.rooms_dir.exists():
            shutil.copytree(EXAMPLES, self.rooms_dir)
            for path in (self.rooms_dir / "compounds").glob("*.yaml"):
                if path.stem not in self.compounds:
                    path.unlink()
        self.config_path = self.workdir / "bridge.yaml"
        self.log_path = self.workdir / "linli.log"
        self.db_path = self.workdir / "linli.db"

    @property
    def bot_user_id(self) -> str:
        return f"@{BOT_LOCALPART}:{self.server_name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alias(self, key: str) -> str:
        return f"#{self.prefix}{key}:{self.server_name}"

    def edit_compound(self, compound: str, old: str, new: str) -> None:
        path = self.rooms_dir / "compounds" / f"{compound}.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def write_config(self) -> Path:
        log_file = f"logging: {{file: {json.dumps(self.log_file)}}}\n" if self.log_file else ""
        self.config_path.write_text(
            f"""homeserver:
  url: {json.dumps(self.homeserver_url)}
  server_name: {self.server_name}
appservice:
  listen_host: 127.0.0.1
  listen_port: {self.port}
  url: {json.dumps(self.url)}
  as_token: {self.as_token}
  hs_token: {self.hs_token}
database:
  url: {json.dumps(self.database_url or "sqlite+aiosqlite:///linli.db")}
metrics: {{listen_port: {self.metrics_port}}}
rooms_config: rooms_config
alias_prefix: {self.prefix}
webhooks:
  grid:
    url: {json.dumps(self.grid.url)}
    secret: {self.grid.secret}
    inbound_secret: {self.grid.inbound_secret}
{log_file}""",
            encoding="utf-8",
        )
        return self.config_path

    # ------------------------------------------------------------ the process

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def spawn(self) -> None:
        """Start `linli run`; its output goes to linli.log (appended: one log for all lives)."""
        assert not self.running, "Linli is already running"
        if not self.config_path.exists():
            self.write_config()
        args = [sys.executable, "-m", "bridge.cli", "-c", str(self.config_path)]
        if self.verbose:
            args.append("-v")
        args.append("run")
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.starts + 1}\n".encode())
            log.flush()
            self._process = await asyncio.create_subprocess_exec(
                *args,
                cwd=self.workdir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.starts += 1

    async def wait_ready(self, timeout: float = 120) -> None:  # noqa: ASYNC109
        """Until the appservice answers the homeserver's user query for its bot: the rooms are
        applied and the bots started by then (`linli run` listens last)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        url = f"{self.url}/_matrix/app/v1/users/{quote(self.bot_user_id, safe='')}"
        headers = {"Authorization": f"Bearer {self.hs_token}"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                process = self._process
                if process is None or process.returncode is not None:
                    code = None if process is None else process.returncode
                    raise LinliExited(f"Linli exited ({code}):\n{self.log_tail()}")
                try:
                    async with http.get(url, headers=headers) as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass  # not listening yet
                if loop.time() > deadline:
                    raise TimeoutError(f"Linli not ready after {timeout}s:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    async def start(self, timeout: float = 120) -> None:  # noqa: ASYNC109
        await self.spawn()
        await self.wait_ready(timeout)

    def send_signal(self, sig: signal.Signals) -> None:
        """A signal to the running `linli run`, as `kill -HUP <pid>` or systemd sends it."""
        assert self._process is not None and self.running, "Linli is not running"
        self._process.send_signal(sig)

    async def wait_logged(self, text: str, timeout: float = 60) -> None:  # noqa: ASYNC109
        """Until Linli's log says `text` (polling the file: from outside, nothing else says
        when a reload is done)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text not in self.log_text():
            if not self.running:
                raise LinliExited(f"Linli exited:\n{self.log_tail()}")
            if loop.time() > deadline:
                raise TimeoutError(f"{text!r} not logged after {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine loses power or the OOM killer
        strikes (though the files written so far are on disk)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGKILL)
        await process.wait()
        self.kills += 1

    async def stop(self, grace: float = 15) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            await process.wait()

    def log_text(self) -> str:
        """What Linli printed, and what it wrote to its log file if it has one."""
        paths = [self.log_path]
        if self.log_file:
            paths += sorted(self.workdir.glob(Path(self.log_file).name + "*"))
        return "".join(
            path.read_text(encoding="utf-8", errors="replace") for path in paths if path.exists()
        )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no output)"

    # ------------------------------------------------------------ what it stored

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows from Linli's database, opened read-only (it may be running)."""
        if self.database_url is not None:
            return _pg_query(self.database_url, sql, params)
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, tuple(params)).fetchall()
        finally:
            db.close()

    async def wait_handled(self, event_id: str, timeout: float = 30) -> str:  # noqa: ASYNC109
        """Until Linli's inbox marks the event handled ("done", or "failed" after its retries):
        its handlers have returned and their writes committed. Bots answer before they write
        (a resident waits for the answer), so a visible answer alone does not say that."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        sql = "SELECT status FROM inbox_events WHERE event_id = ?"
        # Polling the database: from outside there is nothing else to wait on.
        while (status := self.query(sql, [event_id])) in ([], [("pending",)]):
            if loop.time() > deadline:
                raise TimeoutError(f"{event_id} not handled after {timeout}s: {status}")
            await asyncio.sleep(0.05)
        return str(status[0][0])

    # ------------------------------------------------------------ as the homeserver

    async def put_transaction(
        self, txn_id: str, events: list[dict[str, Any]], ephemeral: list[Any] | None = None
    ) -> int:
        """PUT a transaction to the appservice API as the homeserver would; the HTTP status."""
        body: dict[str, Any] = {"events": events}
        if ephemeral is not None:
            body["ephemeral"] = ephemeral
        async with aiohttp.ClientSession() as http:
            async with http.put(
                f"{self.url}/_matrix/app/v1/transactions/{quote(txn_id, safe='')}",
                json=body,
                headers={"Authorization": f"Bearer {self.hs_token}"},
            ) as resp:
                await resp.read()
                return resp.status


def _pg_query(url: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The same query on PostgreSQL (`?` placeholders become `$n`), from a thread of its own:
    the caller's event loop is running."""
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    parts = sql.split("?")
    numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))

    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [tuple(row) for row in await conn.fetch(numbered, *params)]
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fetch()).result()
