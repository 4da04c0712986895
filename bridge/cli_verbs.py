"""A bot's admin verbs, `linli <name> ...`, declared without loading the bot: `linli --help`
and a verb that needs no bot start in a fraction of a second (bots/verbs.py lists them)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.config import BridgeConfig
    from bridge.rooms_config import RoomsConfig


@dataclass(frozen=True)
class CliVerb:
    """An admin verb of a bot, `linli <name> ...`: `add_arguments` declares its arguments,
    `run` gets the parsed arguments and the loaded configuration, and returns an exit code.
    A verb that needs no configuration (it reads only its arguments and files) gives
    `run_alone` instead, and runs without a bridge.yaml. Its module imports what `run` needs
    inside `run`."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, BridgeConfig, RoomsConfig], Coroutine[Any, Any, int]] | None
    run_alone: Callable[[argparse.Namespace], int] | None = None
