"""Linli's version, as installed (pyproject.toml)."""

from __future__ import annotations

import importlib.metadata


def version() -> str:
    try:
        return importlib.metadata.version("linli")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
