"""The Dockerfile and compose.yaml, checked statically, in every `make test`: what a broken
deployment would get wrong first. `make docker-test` (tests/docker) runs them for real."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
# Made by the operator on first start (docs/self-hosting.md), not shipped.
OPERATOR_MADE = {"./linli"}
SYNAPSE_CLIENT_PORT = "8008"


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def test_compose_names_the_three_services() -> None:
    assert set(services()) == {"postgres", "synapse", "linli"}


def test_every_file_compose_mounts_or_builds_from_exists() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith(".") and source not in OPERATOR_MADE:
                assert (ROOT / source).exists(), f"{name}: {source} is missing"
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
            assert (ROOT / context / (dockerfile or "Dockerfile")).is_file(), name
    assert (ROOT / "docker" / "env.example").is_file()


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    for service in services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, source


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies() -> None:
    all_services = services()
    for name, service in all_services.items():
        check = service.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name}: no healthcheck"
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for other, condition in depends.items():
            assert condition == {"condition": "service_healthy"}, (name, other)
            assert all_services[other].get("healthcheck"), other
    assert set(all_services["linli"]["depends_on"]) == {"postgres", "synapse"}
    assert set(all_services["synapse"]["depends_on"]) == {"postgres"}


def test_only_synapses_client_port_is_published() -> None:
    # compose.yaml publishes nothing; docker/compose.ports.yaml, which .env names after it,
    # publishes Synapse's client port (the Docker test replaces that file: host networking).
    assert all("ports" not in service for service in services().values())
    ports = yaml.safe_load((ROOT / "docker" / "compose.ports.yaml").read_text(encoding="utf-8"))
    assert set(ports["services"]) == {"synapse"}
    [synapse] = [str(p) for p in ports["services"]["synapse"]["ports"]]
    # host address : host port : container port; a reverse proxy on the host reaches it
    assert synapse.split(":")[-1] == SYNAPSE_CLIENT_PORT
    assert synapse.startswith("127.0.0.1:")
    env = (ROOT / "docker" / "env.example").read_text(encoding="utf-8").splitlines()
    assert "COMPOSE_FILE=compose.yaml:docker/compose.ports.yaml" in env


def test_synapse_reads_linlis_registration_and_postgres_from_the_shared_files() -> None:
    synapse = services()["synapse"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in synapse["volumes"]}
    assert mounts["/linli"] == "./linli"  # Linli's /config, read-only here
    assert services()["linli"]["volumes"][0].startswith("./linli:/config")
    overlay_path = next(p for p in synapse["command"] if "linli-synapse.yaml" in p)
    overlay = yaml.safe_load((ROOT / mounts[overlay_path.split("=", 1)[1]]).read_text("utf-8"))
    assert overlay["app_service_config_files"] == ["/linli/registration.yaml"]
    assert overlay["database"]["args"]["host"] == "postgres"
    assert "password" not in overlay["database"]["args"]  # PGPASSWORD, from .env
    init = (ROOT / "docker" / "postgres-init.sh").read_text(encoding="utf-8")
    assert "CREATE DATABASE synapse" in init and "CREATE DATABASE linli" in init


def test_the_image_is_multi_stage_from_slim_python() -> None:
    # The base is a build argument (the Docker test builds on a local Debian), by default the
    # official slim Python.
    instructions = dockerfile_instructions()
    assert instructions[0] == ("ARG", "BASE=python:3.11-slim")
    froms = [args for word, args in instructions if word == "FROM"]
    assert len(froms) >= 2
    assert all(f.split()[0] == "${BASE}" for f in froms)
    assert any(word == "COPY" and "--from=" in args for word, args in final_stage())


def test_the_final_stage_installs_no_build_tools() -> None:
    runs = " ".join(args for word, args in final_stage() if word == "RUN")
    for tool in ("gcc", "build-essential", "make", "apt-get install", "pip install"):
        assert tool not in runs, tool


def test_the_image_runs_linli_as_a_user_that_is_not_root() -> None:
    users = [args for word, args in final_stage() if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    [entrypoint] = [args for word, args in final_stage() if word == "ENTRYPOINT"]
    assert yaml.safe_load(entrypoint)[0] == "linli"


def test_the_image_checks_its_health_on_health_and_keeps_config_and_data_in_volumes() -> None:
    [check] = [args for word, args in final_stage() if word == "HEALTHCHECK"]
    assert "bridge.healthcheck" in check and "/config/bridge.yaml" in check  # its listen_port
    assert services()["linli"]["healthcheck"]["test"][1:] == [
        "python", "-m", "bridge.healthcheck", "/config/bridge.yaml"
    ]  # fmt: skip
    [volumes] = [args for word, args in final_stage() if word == "VOLUME"]
    assert set(yaml.safe_load(volumes)) == {"/config", "/data"}


def test_the_image_installs_with_the_pinned_constraints() -> None:
    installs = [
        shlex.split(args)
        for word, args in dockerfile_instructions()
        if word == "RUN" and "pip install" in args
    ]
    assert installs and all("constraints.txt" in words for words in installs)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--constraint constraints.txt" in makefile


def test_constraints_pin_every_dependency_pyproject_names() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[_normal(name)] = version
    for requirement in wanted:
        name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0]
        assert pinned.get(_normal(name)), f"{name} is not pinned in constraints.txt"


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in ("linli", ".venv", "data", "*.db", ".git", ".env"):
        assert entry in ignored, entry


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
