"""The Docker image's HEALTHCHECK: GET /health on the port bridge.yaml's appservice.listen_port
names (29330 unless changed), so the check follows a changed port without a compose override.

Run as `python -m bridge.healthcheck /config/bridge.yaml` every 30 s, so it reads the one key it
needs with PyYAML and imports nothing else of Linli's. Exit 0: healthy; 1: not (one line why).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PORT = 29330


def health_url(config: Path) -> str:
    """Where /health is asked: loopback (the check runs in Linli's container), at the
    configured appservice port."""
    settings: Any = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    appservice = settings.get("appservice") if isinstance(settings, dict) else None
    port = appservice.get("listen_port", DEFAULT_PORT) if isinstance(appservice, dict) else None
    return f"http://127.0.0.1:{port or DEFAULT_PORT}/health"


def main(argv: list[str]) -> int:
    config = Path(argv[1] if len(argv) > 1 else "/config/bridge.yaml")
    try:
        url = health_url(config)
    except (OSError, yaml.YAMLError) as e:
        print(f"unhealthy: cannot read {config} ({e})")
        return 1
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as e:
        print(f"unhealthy: {url}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
