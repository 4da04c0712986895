"""Which Synapse Linli talks to, and the one-line warning on a Synapse that drops receipts."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge.homeserver_version import (
    check_receipts_complete,
    drops_receipt_bursts,
    parse_version,
    synapse_version,
)
from bridge.matrix_errors import NotFound


class Answers:
    """A homeserver that answers GETs by path (a missing path is 404)."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers

    async def request(self, method: str, path: str, *args: Any, **kw: Any) -> dict[str, Any]:
        if path not in self.answers:
            raise NotFound(404, "M_UNRECOGNIZED", "no", method, path)
        return self.answers[path]


def test_versions_with_the_receipt_burst_bug_are_1_160_to_1_162() -> None:
    assert parse_version("1.162.0 (b=matrix-org-hotfixes)") == (1, 162, 0)
    assert parse_version("v1.163") == (1, 163, 0)
    assert parse_version("dendrite") is None
    assert [drops_receipt_bursts(parse_version(v)) for v in ("1.159.9", "1.160.0", "1.162.3")] == [
        False,
        True,
        True,
    ]
    assert not drops_receipt_bursts((1, 163, 0)) and not drops_receipt_bursts(None)


async def test_the_version_is_asked_of_the_admin_api_then_of_federation() -> None:
    admin = Answers({"/_synapse/admin/v1/server_version": {"server_version": "1.161.1"}})
    assert await synapse_version(admin) == (1, 161, 1)  # type: ignore[arg-type]
    federation = Answers(
        {"/_matrix/federation/v1/version": {"server": {"name": "Synapse", "version": "1.163.2"}}}
    )
    assert await synapse_version(federation) == (1, 163, 2)  # type: ignore[arg-type]
    other = Answers({"/_matrix/federation/v1/version": {"server": {"name": "conduwuit"}}})
    assert await synapse_version(other) is None  # type: ignore[arg-type]
    assert await synapse_version(Answers({})) is None  # type: ignore[arg-type]


async def test_a_lossy_synapse_is_warned_about_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lossy = Answers({"/_synapse/admin/v1/server_version": {"server_version": "1.162.0"}})
    with caplog.at_level(logging.WARNING):
        assert await check_receipts_complete(lossy) is False  # type: ignore[arg-type]
    [record] = caplog.records
    assert "1.162.0" in record.getMessage() and "\n" not in record.getMessage()
    caplog.clear()
    fixed = Answers({"/_synapse/admin/v1/server_version": {"server_version": "1.163.2"}})
    assert await check_receipts_complete(fixed) is True  # type: ignore[arg-type]
    assert not caplog.records
