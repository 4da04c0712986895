"""Declared commands: name, Chinese aliases, typed arguments and who may run them, in one place.

A bot declares each command with `CommandTable.command(...)` beside its handler; the dispatcher
parses a message once, checks the sender's roles once, and calls the handler with typed values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bridge.roles import Role

# Chinese input methods type a full-width "！" as often as "!".
COMMAND_PREFIXES = ("!", "！")
USER_ID_TOKEN = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d{1,5})?$")
# The largest number a command accepts. Numbers name tickets and requests, counted per compound
# from 1: a billion is far beyond any, and keeps every value inside SQLite's (and PostgreSQL's)
# 64-bit integers, so a typed number can only be "not found", never an overflow in the driver.
# 0 passes: what a number must name (an existing ticket, a rating of 1-5) is the handler's to
# say, with a better message than the usage line.
MAX_NUMBER = 10**9
# ASCII digits only (str.isdigit() also says yes to "²" and "①", which int() refuses), after an
# optional "#" (as in "工单 #12"). Chinese input methods in full-width mode type "１２" and "＃":
# those are read as the ASCII characters they stand for.
_NUMBER = re.compile(r"#?([0-9]+)")
_FULL_WIDTH_NUMBER = str.maketrans("０１２３４５６７８９＃", "0123456789#")


class ArgKind(Enum):
    WORD = "word"
    INT = "int"
    USER = "user"  # a Matrix user ID, or the next pill (mention) of the message
    REST = "rest"  # everything left, as typed


@dataclass(frozen=True)
class Arg:
    name: str
    kind: ArgKind = ArgKind.WORD
    optional: bool = False
    choices: tuple[str, ...] = ()


Handler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    aliases: tuple[str, ...]
    args: tuple[Arg, ...]
    # None: anyone may run it; otherwise the sender needs one of these roles in the compound.
    roles: frozenset[Role] | None
    handler: Handler
    # Message keys: "<key>.usage" and "<key>.summary" in the locale catalogues.
    key: str
    # The command's words are personal (an address, a name): Linli redacts the message once
    # it has read it, whatever the outcome.
    private: bool = False
    # Not offered by `!help` to people with any of these roles (`!认证` to the verified).
    hidden_for: frozenset[Role] = frozenset()

    @property
    def words(self) -> list[tuple[str, ...]]:
        return [tuple(n.split()) for n in (self.name, *self.aliases)]


@dataclass
class CommandTable:
    specs: list[CommandSpec] = field(default_factory=list)

    def command(
        self,
        name: str,
        *,
        aliases: Sequence[str] = (),
        args: Sequence[Arg] = (),
        roles: Iterable[Role] | None = None,
        key: str | None = None,
        private: bool = False,
        hidden_for: Iterable[Role] = (),
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.specs.append(
                CommandSpec(
                    name=name,
                    aliases=tuple(aliases),
                    args=tuple(args),
                    roles=frozenset(roles) if roles is not None else None,
                    handler=handler,
                    key=key or "cmd." + name.replace(" ", "."),
                    private=private,
                    hidden_for=frozenset(hidden_for),
                )
            )
            return handler

        return register


@dataclass(frozen=True)
class CommandCall:
    """A message that starts with the command prefix, split into words."""

    words: tuple[str, ...]
    raw_rest: str  # the text after the command word(s), for REST arguments

    @property
    def name(self) -> str:
        return self.words[0] if self.words else ""


class UsageError(Exception):
    """The arguments do not fit the command: the dispatcher answers with its usage line."""


class CommandError(Exception):
    """A failure the user must read: a message key and arguments, apart from the log text."""

    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key = key
        self.args_ = args


def split_command(body: str) -> CommandCall | None:
    """The command in a message, or None when it is not one. A lone prefix ("!", "！") is a
    command with no name: it matches no spec, so the sender hears "unknown command" rather than
    nothing."""
    text = body.strip()
    if not text.startswith(COMMAND_PREFIXES):
        return None
    return CommandCall(tuple(text[1:].split()), text[1:])


# Categories dropped when user text is echoed back: controls (Cc), format characters (Cf: bidi
# overrides and isolates such as U+202E and U+2066-2069, zero-width spaces and joiners) and
# lone surrogates (Cs, which JSON allows and UTF-8 cannot encode).
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs"})


def printable(text: str, limit: int = 40) -> str:
    """User text made safe to echo in a reply: no control, format or bidi characters (line
    breaks and tabs become spaces), at most `limit` characters (at least 1), cut with "…"."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    kept: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace() and char != " " and category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category not in _UNPRINTABLE:
            kept.append(char)
    clean = "".join(kept)
    if len(clean) <= limit:
        return clean
    return clean[: limit - 1] + "…"


def find_command(
    call: CommandCall, specs: Iterable[CommandSpec]
) -> tuple[CommandSpec, list[str], str] | None:
    """The spec whose name (or alias) matches the most leading words, its argument words and
    the raw text after the name."""
    best: tuple[int, CommandSpec] | None = None
    for spec in specs:
        for words in spec.words:
            n = len(words)
            lowered = tuple(w.lower() for w in call.words[:n])
            if lowered == tuple(w.lower() for w in words) and (best is None or n > best[0]):
                best = (n, spec)
    if best is None:
        return None
    n, spec = best
    rest = call.raw_rest.strip()
    for _ in range(n):
        rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
    return spec, list(call.words[n:]), rest


def parse_args(
    spec: CommandSpec, words: list[str], rest: str, mentioned: Sequence[str] = ()
) -> dict[str, Any]:
    """Typed values for the spec's arguments; UsageError if they do not fit."""
    values: dict[str, Any] = {}
    pills = [m for m in mentioned]
    index = 0
    remaining = rest
    for arg in spec.args:
        if arg.kind is ArgKind.REST:
            values[arg.name] = remaining.strip() if remaining.strip() else None
            if values[arg.name] is None and not arg.optional:
                raise UsageError(arg.name)
            return values
        if index >= len(words):
            if arg.optional:
                values[arg.name] = None
                continue
            raise UsageError(arg.name)
        word = words[index]
        index += 1
        parts = remaining.strip().split(None, 1)
        remaining = parts[1] if len(parts) > 1 else ""
        values[arg.name] = _convert(arg, word, pills)
    if index < len(words):
        raise UsageError("too many arguments")
    return values


def _convert(arg: Arg, word: str, pills: list[str]) -> Any:
    if arg.choices and word.lower() not in arg.choices:
        raise UsageError(arg.name)
    if arg.kind is ArgKind.INT:
        return _number(arg, word)
    if arg.kind is ArgKind.USER:
        if USER_ID_TOKEN.match(word):
            return word
        # Clients put a display name in the body and the user ID only in the pill.
        if pills:
            return pills.pop(0)
        raise UsageError(arg.name)
    return word.lower() if arg.choices else word


def allowed(spec: CommandSpec, roles: frozenset[Role]) -> bool:
    """May someone with these roles run the command? (Roles come from the role table only.)"""
    return spec.roles is None or bool(spec.roles & roles)


def _number(arg: Arg, word: str) -> int:
    match = _NUMBER.fullmatch(word.translate(_FULL_WIDTH_NUMBER))
    if match is None:
        raise UsageError(arg.name)
    digits = match.group(1).lstrip("0") or "0"
    # Compared as text first: int() of a few thousand digits is slow, of more an error.
    if len(digits) > len(str(MAX_NUMBER)) or int(digits) > MAX_NUMBER:
        raise UsageError(arg.name)
    return int(digits)
