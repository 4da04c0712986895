"""Generated input at Linli's edges: the command parser against the bots' real commands, the
address parser, the YAML config loaders and the appservice's transaction body. Each answers or
refuses in its own terms (UsageError, AddressError, ConfigError naming file and line, a 400 or
413 with a JSON error); none may fail with any other exception."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import unicodedata
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bots.notices import rules as notice_rules
from bots.onboarding.address import AddressError, Household, parse_address
from bridge import time_bounds
from bridge.appservice import (
    AppserviceServer,
    BadTransaction,
    _ephemeral_entry,
    parse_transaction,
    transaction_key,
)
from bridge.clock import SystemClock
from bridge.commands import (
    COMMAND_PREFIXES,
    MAX_NUMBER,
    USER_ID_TOKEN,
    ArgKind,
    CommandSpec,
    CommandTable,
    UsageError,
    find_command,
    parse_args,
    printable,
    split_command,
)
from bridge.config import (
    AppserviceConfig,
    BridgeConfig,
    ConfigError,
    DatabaseConfig,
    load_bridge_config,
)
from bridge.rooms_config import load_rooms_config
from bridge.store import Store

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
# About 4,000 examples in all: some 20 s on the idle 2-core development machine (twice that
# while other test suites share it).
# In CI the examples are fixed (derandomized): a run that must decide whether work lands does not
# depend on luck; a developer's run explores new inputs each time.
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEWER = settings(FUZZ, max_examples=500)
FEWER_BODIES = settings(FUZZ, max_examples=600)  # generating JSON is the slow part
FEWEST = settings(FUZZ, max_examples=150)


def command_specs() -> list[CommandSpec]:
    """Every command the bots declare, found through `bots.ALL_BOTS` whatever its shape (a list
    of Bot classes with a `commands` table today; a mapping, instances or plain tables would do
    as well): anything in it that is, or holds, CommandSpecs."""
    import bots

    found: dict[int, CommandSpec] = {}

    def collect(thing: Any, depth: int = 0) -> None:
        if isinstance(thing, CommandSpec):
            found.setdefault(id(thing), thing)
        elif depth > 3 or isinstance(thing, str | bytes):
            return
        elif isinstance(thing, CommandTable):
            collect(thing.specs, depth + 1)
        elif isinstance(thing, Mapping):
            collect(list(thing.values()), depth + 1)
        elif isinstance(thing, Iterable):
            for item in list(thing):
                collect(item, depth + 1)
        else:
            for name in ("commands", "specs", "command_specs"):
                collect(getattr(thing, name, None), depth + 1)

    collect(getattr(bots, "ALL_BOTS", None))
    assert found, "no command specs found through bots.ALL_BOTS"
    return list(found.values())


SPECS = command_specs()

# ---------------------------------------------------------------- commands

NAMES = sorted({" ".join(words) for spec in SPECS for words in spec.words})
CHOICES = sorted({c for spec in SPECS for arg in spec.args for c in arg.choices})
NUMBERS = ["12", "#12", "１２", "＃３", "0", "007", "²", "①", "٣", "-1", "1.5", "#", "##7"]
USERS = ["@wang:linli.localhost", "@a:b:8448", "@Wang:x", "@:x", "王", "@wang:linli.localhost\n"]
SEPARATORS = [" ", "  ", "\t", "\n", "\u3000", "\u00a0", "\u2028", "\x1c", "\u200b", ""]

words = st.one_of(
    st.sampled_from(NAMES + CHOICES + NUMBERS + USERS),
    st.integers(min_value=0, max_value=2**80).map(str),
    st.text(max_size=12),
)
command_bodies = st.one_of(
    st.text(),
    st.builds(
        lambda prefix, parts, seps: (
            prefix
            + "".join(word + sep for word, sep in zip(parts, itertools.cycle(seps), strict=False))
        ),
        st.sampled_from(["!", "！", " !", "!!", "", "?"]),
        st.lists(words, max_size=8),
        st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=4),
    ),
)
mentions = st.lists(st.sampled_from(USERS[:3]) | st.text(max_size=8), max_size=3)


@FUZZ
@given(body=command_bodies, mentioned=mentions)
def test_command_parser_parses_or_says_usage(body: str, mentioned: list[str]) -> None:
    call = split_command(body)
    if call is None:
        assert not body.strip().startswith(COMMAND_PREFIXES)
        return
    assert call.words == tuple(call.raw_rest.split())
    found = find_command(call, SPECS)
    if found is None:
        return  # dispatch answers "unknown command"
    spec, args, rest = found
    try:
        values = parse_args(spec, args, rest, mentioned)
    except UsageError:
        return  # dispatch answers with the usage line
    assert set(values) <= {arg.name for arg in spec.args}
    for arg in spec.args:
        value = values.get(arg.name)
        if value is None:
            assert arg.optional or arg.kind is ArgKind.REST
        elif arg.choices:
            assert value in arg.choices
        elif arg.kind is ArgKind.INT:
            assert type(value) is int and 0 <= value <= MAX_NUMBER
        elif arg.kind is ArgKind.USER:
            assert USER_ID_TOKEN.match(value) or value in mentioned
        else:
            assert isinstance(value, str) and value == value.strip() and value


@FEWER
@given(text=st.text(), limit=st.integers(min_value=1, max_value=60))
def test_printable_text_has_no_controls_and_fits(text: str, limit: int) -> None:
    shown = printable(text, limit)
    assert len(shown) <= limit
    assert not [c for c in shown if unicodedata.category(c) in ("Cc", "Cf", "Cs")]
    assert printable(shown, limit) == shown


# ---------------------------------------------------------------- addresses

ADDRESS_PARTS = st.text(
    alphabet=st.sampled_from("0123456789AbZz０１２ＡＢｂ一号 \u3000-ⅠⅫ①"), max_size=10
)
ADDRESS_SEPARATORS = ["-", "/", "－", "—", "–", "号楼", "栋", "幢", "号", "单元", "室", " ", "--"]
addresses = st.one_of(
    st.text(),
    st.builds(
        lambda parts, seps: "".join(p + s for p, s in zip(parts, seps, strict=False)),
        st.lists(ADDRESS_PARTS, min_size=1, max_size=4),
        st.lists(st.sampled_from(ADDRESS_SEPARATORS), min_size=1, max_size=4),
    ),
)
PART = re.compile(r"[0-9A-Z]{1,8}")


@FUZZ
@given(text=addresses, buildings=st.none() | st.frozensets(st.sampled_from(["1", "3", "A"])))
def test_address_parser_reads_a_household_or_refuses(
    text: str, buildings: frozenset[str] | None
) -> None:
    try:
        household = parse_address(text, buildings)
    except AddressError as e:
        assert e.key in ("onboarding.address_malformed", "onboarding.address_unknown_building")
        return
    assert all(PART.fullmatch(p) for p in (household.building, household.unit, household.room))
    assert buildings is None or household.building in buildings
    # what Linli shows the resident reads back as the same household
    assert parse_address(str(household)) == household == parse_address(household.zh())
    assert isinstance(household, Household)


# ---------------------------------------------------------------- YAML config


class Raw(str):
    """YAML text put into a generated document as it is (tags, anchors, broken syntax)."""


RAW_VALUES = [
    "null", "~", "true", "no", "0", "-1", "65536", "1e400", ".nan", ".inf", "0x1F", "0b_",
    "0o8", "1_000", "190:20:30", "2026-02-30", "2026-01-01", "2026-01-01 25:00:00",
    "!!timestamp x", "!!int abc", "!!float x", "!!binary '@@'", "!!str", "!foo bar",
    "!!python/object:os.system x", "!!set {a, b}", "!!omap [a: 1]", "&a [*a]", "&b {x: *b}",
    "*nothing", '"\\0"', '"a\\x00b"', '"\\ud800"', '"\\x07"', "'it''s'", "|\n  block",
    ">-\n folded", "[", "{", "}", "]", "- a", "a: b: c", "'open", '"open', "@at", "`", "%",
    "\t", "9" * 5000, "[" * 600 + "]" * 600, "America", "Asia/Shanghai", "a" * 300,
    "../../etc/passwd", "sqlite+aiosqlite:///x.db", '"sqlite+aiosqlite:///\\0"', "{x: 1}",
    "[1, [2, [3]]]", "=", "<<", "? [a]\n: b", "{building}号楼", '"{x}"', '"{"', "\x07", "\ufeff",
]  # fmt: skip
RAW_KEYS = ["<<", "? [a]", "1", "null", "~", "true", "'quoted'", "&k key", "*k", "[a]", "a b"]


def leaf() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(RAW_VALUES).map(Raw),
        st.text(max_size=20).map(Raw),  # unquoted: whatever YAML makes of it
        st.text(max_size=20),  # quoted: text as such
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.booleans(),
        st.none(),
    )


def values(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=8,
    )


def render(value: Any, indent: int = 0) -> str:
    """Block-style YAML; Raw pieces go in verbatim (and may well break it)."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict) and value:
        for key, item in value.items():
            name = key if isinstance(key, Raw) else json.dumps(str(key))
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{name}:\n{render(item, indent + 2)}")
            else:
                lines.append(f"{pad}{name}: {_inline(item)}")
        return "\n".join(lines)
    if isinstance(value, list) and value:
        for item in value:
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}- {render(item, indent + 2)[indent + 2 :]}")
            else:
                lines.append(f"{pad}- {_inline(item)}")
        return "\n".join(lines)
    return pad + _inline(value)


def _inline(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a YAML double-quoted one
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)  # null, true, numbers (NaN and Infinity are plain words to YAML)


def check_config_error(error: ConfigError, files: Iterable[Path]) -> None:
    """Every issue names one of these files (or folders) and a line within it."""
    assert error.issues
    lines = {p: p.read_bytes().count(b"\n") + 2 if p.is_file() else 1 for p in files}
    for issue in error.issues:
        assert issue.path in lines, issue
        assert 1 <= issue.line <= lines[issue.path], issue
        assert str(issue)


BRIDGE_KEYS = {
    "homeserver": ["url", "server_name"],
    "appservice": [
        "id",
        "listen_host",
        "listen_port",
        "url",
        "as_token",
        "hs_token",
        "max_body_bytes",
        "ack_wait_seconds",
        "ack_wait_after_seconds",
    ],
    "database": ["url", "sqlite_synchronous"],
    "bots": ["main", "namespace_prefix"],
    "join": ["client_url"],
    "webhooks": ["grid", "url", "secret", "inbound_secret"],
    "rooms_config": [],
    "alias_prefix": [],
    "locale": [],
    "timezone": [],
}
section_keys = st.sampled_from(sorted(BRIDGE_KEYS)) | st.sampled_from(RAW_KEYS).map(Raw)
field_keys = st.sampled_from(sorted({f for fs in BRIDGE_KEYS.values() for f in fs})) | st.text(
    max_size=8
)
bridge_documents = st.dictionaries(
    section_keys, st.dictionaries(field_keys, values(field_keys), max_size=4) | leaf(), max_size=4
)
VALID_BRIDGE = {"appservice": {"as_token": "a" * 20, "hs_token": "b" * 20}}


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FEWER
@given(document=bridge_documents, data=st.data())
def test_bridge_yaml_loads_or_names_file_and_line(
    fuzz_dir: Path, document: dict[Any, Any], data: st.DataObject
) -> None:
    text = render({**VALID_BRIDGE, **document})
    edit = data.draw(st.sampled_from(["none", "insert", "delete", "bytes"]))
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    if edit == "insert":
        text = text[:at] + data.draw(st.text(max_size=3)) + text[at:]
    elif edit == "delete":
        text = text[:at] + text[at + data.draw(st.integers(1, 5)) :]
    path = fuzz_dir / "bridge.yaml"
    raw = text.encode("utf-8", "surrogatepass")
    if edit == "bytes":
        raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=3)) + raw[at:]
    path.write_bytes(raw)
    try:
        load_bridge_config(path)
    except ConfigError as e:
        check_config_error(e, [path])


EXAMPLE_FILES = sorted(p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*.yaml"))
EXAMPLE_DATA = {
    name: yaml.safe_load((EXAMPLES / name).read_text("utf-8")) for name in EXAMPLE_FILES
}


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*at, index))
    return found


EXAMPLE_PATHS = [(name, path) for name in EXAMPLE_FILES for path in _paths(EXAMPLE_DATA[name])]
ROOM_KEYS = sorted({str(p[-1]) for _, p in EXAMPLE_PATHS if p and isinstance(p[-1], str)})
room_keys = st.sampled_from(ROOM_KEYS) | st.text(max_size=8) | st.sampled_from(RAW_KEYS).map(Raw)


def _reaches(document: Any, path: tuple[Any, ...]) -> bool:
    for step in path:
        if isinstance(document, dict) and step in document:
            document = document[step]
        elif isinstance(document, list) and isinstance(step, int) and step < len(document):
            document = document[step]
        else:
            return False
    return True


def _replace(document: Any, path: tuple[Any, ...], how: str, new: Any, key: Any) -> Any:
    if not path:
        if how == "delete":
            return None
        if how == "add" and isinstance(document, dict):
            return {**document, key: new}
        return new
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        changed = dict(document)
        result = _replace(document[head], rest, how, new, key)
        if result is None and how == "delete" and not rest:
            del changed[head]
        else:
            changed[head] = result
        return changed
    changed_list = list(document)
    changed_list[head] = _replace(document[head], rest, how, new, key)
    return changed_list


@pytest.fixture(scope="module")
def rooms_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("fuzz") / "rooms_config"
    shutil.copytree(EXAMPLES, target)
    return target


def bot_sections() -> Any:
    from bots import ALL_BOTS
    from bridge.bot import config_sections

    return config_sections(ALL_BOTS)


@FEWEST
@given(
    where=st.sampled_from(EXAMPLE_PATHS),
    how=st.sampled_from(["replace", "delete", "add"]),
    new=values(room_keys),
    key=room_keys,
    second=st.none() | st.sampled_from(EXAMPLE_PATHS),
)
def test_rooms_config_loads_or_names_file_and_line(
    rooms_dir: Path,
    where: tuple[Path, tuple[Any, ...]],
    how: str,
    new: Any,
    key: Any,
    second: tuple[Path, tuple[Any, ...]] | None,
) -> None:
    changed = {}
    for name, path in [where] + ([second] if second else []):
        document = changed.get(name, EXAMPLE_DATA[name])
        if _reaches(document, path):  # the first change may have removed the second's place
            changed[name] = _replace(document, path, how, new, key)
    try:
        for name, document in changed.items():
            (rooms_dir / name).write_text(render(document), "utf-8", "surrogatepass")
        try:
            load_rooms_config(rooms_dir, "zh", bot_sections())
        except ConfigError as e:
            check_config_error(e, [rooms_dir / name for name in EXAMPLE_FILES] + [rooms_dir])
    finally:
        for name in changed:
            shutil.copyfile(EXAMPLES / name, rooms_dir / name)


# ---------------------------------------------------------------- appservice transactions

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
events = st.fixed_dictionaries(
    {"event_id": st.text(max_size=10).map(lambda s: "$" + s) | json_values},
    optional={
        "type": st.sampled_from(["m.room.message", "m.reaction", "m.room.member"]) | json_values,
        "room_id": st.just("!room:linli.localhost") | json_values,
        "sender": st.sampled_from(["@r:linli.localhost", "@linli:linli.localhost"]) | json_values,
        "content": json_values,
    },
)
transactions = st.fixed_dictionaries(
    {},
    optional={
        "events": st.lists(events | json_values, max_size=4) | json_values,
        "ephemeral": st.lists(json_values, max_size=3) | json_values,
        "de.sorunome.msc2409.ephemeral": st.lists(json_values, max_size=2),
    },
)


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()  # lone surrogates become "\ud800" escapes, NaN stays


bodies = st.one_of(
    transactions.map(encoded),
    json_values.map(encoded),
    st.binary(max_size=64),
    st.sampled_from(
        [b"[" * 5000 + b"]" * 5000, b'{"events": [], "x": ' + b"9" * 5000 + b"}", b"\xff\xfe"]
    ),
    st.tuples(transactions.map(encoded), st.integers(0, 200), st.binary(max_size=3)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    ),
)


# Bodies that were answered with a 500 before, always tried:
CRASHED = [
    b"[" * 5000 + b"]" * 5000,  # RecursionError in json.loads
    b'{"events": [], "x": ' + b"9" * 5000 + b"}",  # ValueError: over 4,300 digits
    b'{"events": [{"event_id": "$\\ud800"}]}',  # a lone surrogate cannot be stored...
    b'{"events": [], "ephemeral": [{"type": "\\udc00"}]}',  # ...nor hashed as UTF-8
    # stored by SQLite, refused by PostgreSQL (NUL in text, over 255 characters): a 500 there
    b'{"events": [{"event_id": "$\\u0000"}]}',
    b'{"events": [{"event_id": "' + b"x" * 300 + b'"}]}',
]


@FEWER_BODIES
@given(body=bodies)
@example(body=CRASHED[0])
@example(body=CRASHED[1])
@example(body=CRASHED[2])
@example(body=CRASHED[3])
@example(body=CRASHED[4])
@example(body=CRASHED[5])
def test_transaction_body_is_read_or_refused(body: bytes) -> None:
    try:
        events, ephemeral = parse_transaction(body)
    except BadTransaction as e:
        assert e.errcode in ("M_NOT_JSON", "M_BAD_JSON")
        return
    assert all(isinstance(e, dict) and isinstance(e["event_id"], str) for e in events)
    key = transaction_key("1", events, ephemeral)
    for index, item in enumerate(ephemeral):
        if isinstance(item, dict):
            assert _ephemeral_entry(key, index, item)["linli.ephemeral"] is True


HS_TOKEN = "hs-token-for-the-fuzzer"
_txn_numbers = itertools.count()


@pytest_asyncio.fixture(scope="module")
async def appservice(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestClient]:
    folder = tmp_path_factory.mktemp("appservice")
    config = BridgeConfig(
        appservice=AppserviceConfig(
            as_token="as-token-for-the-fuzzer",
            hs_token=HS_TOKEN,
            max_body_bytes=4096,  # so that some bodies are too large
            ack_wait_seconds=0,
        ),
        database=DatabaseConfig(
            url=f"sqlite+aiosqlite:///{folder / 'linli.db'}", sqlite_synchronous="normal"
        ),
    )
    store = await Store.open(config.database.url, "normal")
    server = AppserviceServer(
        config, store, SystemClock(), lambda arrival: arrival.handled.set(), lambda _: False
    )
    async with TestClient(TestServer(server.app)) as client:
        yield client
    await store.close()


@FEWEST
@given(
    body=bodies | st.binary(min_size=4097, max_size=5000),
    txn_id=st.text(min_size=1, max_size=12),
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=bogus", "text/plain", ""]
    ),
)
# request.json() decoded the body with the charset it claimed: LookupError, a 500
@example(body=b"{}", txn_id="0", content_type="application/json; charset=bogus")
@example(body=CRASHED[2], txn_id="{", content_type="application/json")
async def test_appservice_answers_every_body_with_200_400_or_413(
    appservice: TestClient, body: bytes, txn_id: str, content_type: str
) -> None:
    # a number of our own first: a transaction with the same ID and events is a repeat
    name = quote(f"{next(_txn_numbers)}-{txn_id}".encode("utf-8", "surrogatepass"), safe="")
    headers = {"Authorization": f"Bearer {HS_TOKEN}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = await appservice.put(
        f"/_matrix/app/v1/transactions/{name}", data=body, headers=headers
    )
    assert response.status in (200, 400, 413), await response.text()
    answer = await response.json()
    if response.status != 200:
        assert answer["errcode"].startswith("M_")


# ------------------------------------------------------------------ the notice command's times

NOTICE_NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NOTICE_TZ = ZoneInfo("Asia/Shanghai")
# Each crashed a handler on 50cbb23 (OverflowError, CroniterBadDateError), or was misread.
NOTICE_CRASHED = (
    "全体 有效 3000000天 x",
    "全体 有效 99999999h x",
    "全体 有效 99999999999天 x",
    "全体 定时 9999-12-31 23:59 x",
    "全体 每 0 0 30 2 * x",
    "全体 每 0 0 31 4 * x",
    "全体 有效 -1天 x",
    "全体 每 0 0 9 * * 1 x",
)
_amounts = st.integers(min_value=-(10**12), max_value=10**12).map(str) | st.text(
    alphabet="0123456789-+", max_size=14
)
_units = st.sampled_from(["天", "日", "小时", "时", "分钟", "分", "d", "h", "m", "", "h30m"])
_dates = st.builds(
    "{:04d}-{:02d}-{:02d} {:02d}:{:02d}".format,
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
)
_cron_field = st.sampled_from(["*", "0", "30", "31", "2", "4", "*/5", "1-5", "0,30", "60", "L"])
_options = st.one_of(
    st.builds("有效 {}{}".format, _amounts, _units),
    st.builds("有效 {}".format, _dates),
    st.builds("定时 {}".format, _dates),
    st.builds("每 {}".format, st.lists(_cron_field, min_size=4, max_size=7).map(" ".join)),
)
notice_bodies = st.builds(
    lambda target, options, text: " ".join([target, *options, text]),
    st.sampled_from(["全体", "3", "1,3"]),
    st.lists(_options, max_size=3),
    st.sampled_from(["停水", "1", "x"]),
)


@FEWER
@given(body=notice_bodies)
@example(body=NOTICE_CRASHED[0])
@example(body=NOTICE_CRASHED[1])
@example(body=NOTICE_CRASHED[2])
@example(body=NOTICE_CRASHED[3])
@example(body=NOTICE_CRASHED[4])
@example(body=NOTICE_CRASHED[5])
@example(body=NOTICE_CRASHED[6])
@example(body=NOTICE_CRASHED[7])
def test_notice_times_are_read_within_bounds_or_refused_with_a_notice_answer(body: str) -> None:
    try:
        request = notice_rules.parse_post(body, ["1", "2", "3"], NOTICE_NOW, NOTICE_TZ)
    except notice_rules.NoticeInputError as e:
        assert e.key.startswith("notices.")
        return
    # What is accepted can be scheduled: the times stay within the bounds, and the defaults
    # the bot adds to them (an expiry, a series' end) still fit the calendar.
    for when in (request.at, request.expires):
        if when is not None:
            assert when - NOTICE_NOW <= time_bounds.MAX_AHEAD
            time_bounds.later(when, timedelta(days=90))
    if request.cron is not None:
        assert len(request.cron.split()) == 5
        assert request.cron.split()[0].isdigit()  # at most hourly
        notice_rules.next_cron(request.cron, NOTICE_NOW, NOTICE_TZ)
