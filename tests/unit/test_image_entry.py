"""What the image runs on its own: the HEALTHCHECK asks /health on the port bridge.yaml names
(bridge/healthcheck.py), and a command before `linli init` says what to run."""

from __future__ import annotations

import stat
from pathlib import Path

from aiohttp import web

from bench.common import free_port
from bridge.cli import main as linli
from bridge.healthcheck import health_url
from bridge.healthcheck import main as check


def test_the_check_follows_a_changed_listen_port(tmp_path: Path) -> None:
    config = tmp_path / "bridge.yaml"
    config.write_text("appservice:\n  listen_host: 0.0.0.0\n  listen_port: 31234\n")
    assert health_url(config) == "http://127.0.0.1:31234/health"
    config.write_text("homeserver: {url: 'http://synapse:8008'}\n")
    assert health_url(config) == "http://127.0.0.1:29330/health"


async def test_the_check_says_healthy_only_while_health_answers_200(tmp_path: Path) -> None:
    import asyncio

    port = free_port()
    config = tmp_path / "bridge.yaml"
    config.write_text(f"appservice:\n  listen_port: {port}\n")
    status = {"code": 200}

    async def health(_: web.Request) -> web.Response:
        return web.json_response({}, status=status["code"])

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        assert await asyncio.to_thread(check, ["check", str(config)]) == 0
        status["code"] = 503
        assert await asyncio.to_thread(check, ["check", str(config)]) == 1
    finally:
        await runner.cleanup()
    assert await asyncio.to_thread(check, ["check", str(config)]) == 1  # nothing listens
    assert check(["check", str(tmp_path / "missing.yaml")]) == 1


def test_a_command_before_init_says_to_run_init(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert linli(["-c", str(tmp_path / "bridge.yaml"), "run"]) == 2
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "linli init" in said and "docker compose run" in said


def test_the_registration_can_be_written_readable_by_its_group(tmp_path: Path) -> None:
    config = tmp_path / "bridge.yaml"
    assert linli(["init", "-c", str(config)]) == 0
    (tmp_path / "rooms_config").mkdir()
    output = tmp_path / "registration.yaml"
    assert linli(["-c", str(config), "registration", "-o", str(output), "--group-readable"]) == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o640
    assert linli(["-c", str(config), "registration", "-o", str(output)]) == 0  # kept
    assert stat.S_IMODE(output.stat().st_mode) == 0o640
