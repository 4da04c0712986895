"""Command parsing: names and Chinese aliases, typed arguments, usage errors."""

from __future__ import annotations

import pytest

from bridge.commands import (
    MAX_NUMBER,
    Arg,
    ArgKind,
    CommandCall,
    CommandTable,
    UsageError,
    find_command,
    parse_args,
    printable,
    split_command,
)

table = CommandTable()


async def _noop(*_: object, **__: object) -> None:
    return None


table.command("help", aliases=["帮助"])(_noop)
table.command("ticket ack", aliases=["工单 确认"], args=[Arg("n", ArgKind.INT)])(_noop)
table.command(
    "ticket", aliases=["工单"], args=[Arg("what", choices=("open", "mine"), optional=True)]
)(_noop)
table.command(
    "ticket assign",
    args=[
        Arg("n", ArgKind.INT),
        Arg("user", ArgKind.USER),
        Arg("note", ArgKind.REST, optional=True),
    ],
)(_noop)


def parse(body: str, mentions: tuple[str, ...] = ()) -> tuple[str, dict[str, object]]:
    call = split_command(body)
    assert call is not None
    found = find_command(call, table.specs)
    assert found is not None
    spec, words, rest = found
    return spec.name, parse_args(spec, words, rest, mentions)


def test_plain_text_is_not_a_command() -> None:
    assert split_command("@物业 3号楼电梯坏了") is None
    assert split_command("") is None
    assert split_command("   ") is None


@pytest.mark.parametrize("body", ["!", "！", "!   ", "  ！\n"])
def test_a_lone_prefix_is_a_command_without_a_name_that_finds_nothing(body: str) -> None:
    call = split_command(body)
    assert call is not None
    assert call.words == () and call.name == ""
    # dispatch answers "unknown command" for it rather than staying silent
    assert find_command(call, table.specs) is None


def test_chinese_alias_and_full_width_prefix_find_the_command() -> None:
    assert parse("！帮助") == ("help", {})
    assert parse("!工单 确认 12") == ("ticket ack", {"n": 12})


def test_longest_name_wins() -> None:
    assert parse("!ticket ack #7") == ("ticket ack", {"n": 7})
    assert parse("!ticket mine") == ("ticket", {"what": "mine"})
    assert parse("!ticket") == ("ticket", {"what": None})


def test_rest_argument_keeps_the_text_as_typed() -> None:
    assert parse("!ticket assign 3 @wang:example.org 请  尽快") == (
        "ticket assign",
        {"n": 3, "user": "@wang:example.org", "note": "请  尽快"},
    )


def test_user_argument_falls_back_to_the_mention_pill() -> None:
    assert parse("!ticket assign 3 Wang", ("@wang:example.org",))[1]["user"] == "@wang:example.org"


@pytest.mark.parametrize(
    "body",
    ["!ticket ack", "!ticket ack seven", "!ticket everything", "!help me", "!ticket assign 3 Wang"],
)
def test_wrong_arguments_raise_usage_error(body: str) -> None:
    call = split_command(body)
    assert call is not None
    found = find_command(call, table.specs)
    assert found is not None
    spec, words, rest = found
    with pytest.raises(UsageError):
        parse_args(spec, words, rest)


def test_unknown_command_finds_nothing() -> None:
    call = split_command("!frobnicate")
    assert call is not None
    assert find_command(call, table.specs) is None


@pytest.mark.parametrize(
    ("body", "number"),
    [
        ("!ticket ack 12", 12),
        ("!ticket ack #12", 12),
        ("!ticket ack 007", 7),
        # full-width digits and "＃", as a Chinese input method in full-width mode types them
        ("!工单 确认 １２", 12),
        ("!工单 确认 ＃１２", 12),
        (f"!ticket ack {MAX_NUMBER}", MAX_NUMBER),
    ],
)
def test_numbers_are_ascii_or_full_width_digits(body: str, number: int) -> None:
    assert parse(body) == ("ticket ack", {"n": number})


@pytest.mark.parametrize(
    "word",
    [
        "²",  # str.isdigit() is true for these; int() refuses them
        "①",
        "1²",
        "٣",  # Arabic-Indic digit: int() would take it, but nobody types it for a ticket
        "##7",
        "#",
        "-3",
        "+3",
        "3.0",
        "1_000",
        str(MAX_NUMBER + 1),
        str(2**63),  # would overflow SQLite's integer
        "9" * 5000,  # more digits than int() converts
    ],
)
def test_numbers_other_than_plain_digits_or_too_large_are_usage_errors(word: str) -> None:
    call = split_command(f"!ticket ack {word}")
    assert call is not None
    found = find_command(call, table.specs)
    assert found is not None
    spec, words, rest = found
    with pytest.raises(UsageError):
        parse_args(spec, words, rest)


def test_printable_drops_controls_format_and_bidi_characters() -> None:
    assert printable("abc\u202egpj.exe") == "abcgpj.exe"
    assert printable("a\u2066b\u2069c\u200bd\u200de\ufefff") == "abcdef"
    assert printable("\x00\x07bell\x1b[31mred") == "bell[31mred"
    assert printable("line\nbreak\ttab\u2028sep") == "line break tab sep"
    assert printable("\ud800lone") == "lone"


def test_printable_keeps_chinese_and_emoji_and_cuts_long_text() -> None:
    assert printable("工单 #12 ✅") == "工单 #12 ✅"
    assert printable("x" * 40) == "x" * 40
    assert printable("x" * 41) == "x" * 39 + "…"
    assert printable("邻里" * 30, limit=5) == "邻里邻里…"
    assert len(printable("y" * 1000, limit=10)) == 10


def test_a_call_without_words_has_an_empty_name() -> None:
    assert CommandCall((), "").name == ""
