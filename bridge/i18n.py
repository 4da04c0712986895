"""Every text a user reads, by message key and locale: Chinese first, English per compound.

The plumbing's texts are YAML files under `bridge/locales/<locale>/`, each bot's under its own
`texts/<locale>.yaml`; a handler names a key and its arguments, never a literal sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bridge.messages import fill

LOCALES_DIR = Path(__file__).parent / "locales"
FALLBACK = "zh"


class Catalogue:
    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self.messages = messages

    @classmethod
    def load(cls, folder: Path = LOCALES_DIR, bot_texts: Sequence[Path] = ()) -> Catalogue:
        """The plumbing's texts (`folder/<locale>/*.yaml`) and each bot's
        (`<bot_texts>/<locale>.yaml`); a key defined twice is an error."""
        files: dict[str, list[Path]] = {}
        for locale_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            files.setdefault(locale_dir.name, []).extend(sorted(locale_dir.glob("*.yaml")))
        for texts in bot_texts:
            for path in sorted(texts.glob("*.yaml")):
                files.setdefault(path.stem, []).append(path)
        messages: dict[str, dict[str, str]] = {}
        for locale, paths in files.items():
            table: dict[str, str] = {}
            for path in paths:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                for key, text in _flatten(data).items():
                    if key in table:
                        raise ValueError(f"{path}: message {key} defined twice")
                    table[key] = text
            messages[locale] = table
        return cls(messages)

    def text(self, locale: str, key: str, **args: Any) -> str:
        template = self.template(locale, key)
        return template.format(**args) if args else template

    def rich(self, locale: str, key: str, **args: Any) -> tuple[str, str | None]:
        """The text and, when it names people (`messages.Person`), its HTML with pills."""
        return fill(self.template(locale, key), args)

    def template(self, locale: str, key: str) -> str:
        table = self.messages.get(locale) or self.messages[FALLBACK]
        template = table.get(key) or self.messages[FALLBACK].get(key)
        if template is None:
            raise KeyError(f"no message {key!r}")
        return template

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
def default_catalogue(bot_texts: tuple[Path, ...] = ()) -> Catalogue:
    """The plumbing's texts and those of the bots whose text folders are given."""
    return Catalogue.load(LOCALES_DIR, bot_texts)
