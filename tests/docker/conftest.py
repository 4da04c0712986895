"""Fixtures of the Docker test (`make docker-test`, not part of `make test`): the test's own
Docker engine for the session, the cached local images, and the operator's folder."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker.engine import CACHE, REPO, Engine, why_not_here
from tests.docker.stack import Stack, repository_copy


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    reason = why_not_here()
    if reason is not None:
        # In CI (.ci/run sets CI=true) a machine that cannot run the engine is a failure, not a
        # quiet skip; on a developer's machine without root it is said in one line.
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Docker test cannot run here: {reason}")
        pytest.skip(reason)
    engine = Engine()
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
        timings = ", ".join(f"{k} {v:.0f} s" for k, v in engine.timings.items())
        print(f"\nDocker test timings: {timings}")


@pytest.fixture(scope="session")
def stack(engine: Engine) -> Iterator[Stack]:
    pinned = re.search(r"^matrix-synapse==(\S+)$", (REPO / "constraints.txt").read_text(), re.M)
    assert pinned is not None
    images = {
        "base": engine.base_image(),
        "postgres": engine.stand_in("postgres"),
        "synapse": engine.stand_in("synapse", SYNAPSE_VERSION=pinned.group(1)),
    }
    (CACHE / "runs").mkdir(parents=True, exist_ok=True)
    workdir = repository_copy(Path(tempfile.mkdtemp(prefix="operator-", dir=CACHE / "runs")))
    stack = Stack(engine, workdir, images)
    try:
        yield stack
    finally:
        stack.cleanup()
