"""Metric labels: odd event kinds are capped, declared command names are not (every bot's
commands together once pushed `ticket ack` into "other" in a long-running process)."""

from __future__ import annotations

from bridge import metrics


def test_command_names_are_counted_by_name_after_the_event_kinds_cap() -> None:
    kept = set(metrics._kinds)  # the process's own, restored for the tests after this one
    try:
        for n in range(metrics.MAX_KINDS + 5):
            metrics.observe_event(f"com.example.odd{n}", 0.001, failed=False)
        labels = {"command": "ticket ack", "outcome": "usage"}
        before = metrics.REGISTRY.get_sample_value("linli_commands_total", labels) or 0.0
        metrics.observe_command("ticket ack", "usage")
        assert metrics.REGISTRY.get_sample_value("linli_commands_total", labels) == before + 1
    finally:
        metrics._kinds.clear()
        metrics._kinds.update(kept)
