"""Every text a user reads, by message key and locale: Chinese first, English per compound.

The catalogues are YAML files under `bridge/locales/<locale>/`; a handler names a key and its
arguments, never a literal sentence.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LOCALES_DIR = Path(__file__).parent / "locales"
FALLBACK = "zh"


class Catalogue:
    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self.messages = messages

    @classmethod
    def load(cls, folder: Path = LOCALES_DIR) -> Catalogue:
        messages: dict[str, dict[str, str]] = {}
        for locale_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            table: dict[str, str] = {}
            for path in sorted(locale_dir.glob("*.yaml")):
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                for key, text in _flatten(data).items():
                    if key in table:
                        raise ValueError(f"{path}: message {key} defined twice")
                    table[key] = text
            messages[locale_dir.name] = table
        return cls(messages)

    def text(self, locale: str, key: str, **args: Any) -> str:
        table = self.messages.get(locale) or self.messages[FALLBACK]
        template = table.get(key) or self.messages[FALLBACK].get(key)
        if template is None:
            raise KeyError(f"no message {key!r}")
        return template.format(**args) if args else template

    def has(self, key: str) -> bool:
        return key in self.messages[FALLBACK]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{full}."))
        else:
            flat[full] = str(value).rstrip("\n")
    return flat


@cache
def default_catalogue() -> Catalogue:
    return Catalogue.load()
