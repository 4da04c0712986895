"""Config loading: the examples load, and every kind of broken file names file, line and key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bots import ALL_BOTS
from bridge.bot import config_sections
from bridge.cli import main as linli
from bridge.config import ConfigError, load_bridge_config
from bridge.roles import Role
from bridge.rooms_config import load_rooms_config

EXAMPLES = Path(__file__).parents[2] / "rooms_config"


@pytest.fixture
def rooms_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rooms_config"
    shutil.copytree(EXAMPLES, target)
    return target


def break_compound(rooms_dir: Path, old: str, new: str) -> Path:
    path = rooms_dir / "compounds" / "heping.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_example_config_has_two_compounds_with_all_room_kinds() -> None:
    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    assert set(rooms.compounds) == {"heping", "xingfu"}
    heping = {r.key: r for r in rooms.compounds["heping"].rooms}
    assert {
        "five_in_one",
        "party",
        "committee",
        "announcements",
        "hall",
        "neighbours",
        "lobby",
    } <= set(heping)
    assert {"building_1", "building_3", "volunteers", "dance"} <= set(heping)
    assert heping["building_3"].building == "3"
    assert heping["announcements"].post_roles is not None
    assert Role.RESIDENT not in heping["announcements"].post_roles
    # xingfu drops its party room with `party: null`
    assert "party" not in {r.key for r in rooms.compounds["xingfu"].rooms}


def test_unknown_key_names_file_line_and_key(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "  buildings:", "  colour: red\n  buildings:")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    [issue] = e.value.issues
    assert issue.path == path
    assert issue.line == line_of(path, "colour: red")
    assert issue.key == "compound.colour"
    assert "unknown key" in issue.message


def test_unknown_role_is_refused_with_its_line(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "    police:", "    janitor:")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    [issue] = e.value.issues
    assert (issue.path, issue.line) == (path, line_of(path, "janitor:"))
    assert issue.key == "compound.staff.janitor"


def test_malformed_matrix_id_is_refused(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, '"@wuye_wang:linli.localhost"', '"wuye_wang"')
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    [issue] = e.value.issues
    assert issue.line == line_of(path, '"wuye_wang"')
    assert issue.key == "compound.staff.property_staff.0"
    assert "not a Matrix user ID" in issue.message


def test_duplicate_room_key_is_refused(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "    volunteers:", "    hall:")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    [issue] = e.value.issues
    assert issue.line == line_of(path, "    hall:")
    assert "duplicate room key 'hall'" in issue.message


def test_yaml_syntax_error_names_the_line(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "  name: 和平里小区", "  name: [和平里小区")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    [issue] = e.value.issues
    assert issue.path == path
    assert issue.line >= line_of(path, "[和平里小区")
    assert "YAML syntax error" in issue.message


def test_duplicate_yaml_key_is_refused(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "  name_en: Heping Li", "  name_en: Heping Li\n  name_en: X")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    assert e.value.issues[0].line == line_of(path, "name_en: X")


def test_resident_role_in_yaml_is_refused(rooms_dir: Path) -> None:
    break_compound(rooms_dir, "    police:", "    party_member:")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    assert "grant it with !role grant" in e.value.issues[0].message


def test_every_error_of_several_files_is_reported(rooms_dir: Path) -> None:
    break_compound(rooms_dir, "  buildings:", "  colour: red\n  buildings:")
    other = rooms_dir / "compounds" / "xingfu.yaml"
    other.write_text(
        other.read_text(encoding="utf-8").replace("community: sanlin", "community: nowhere"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    assert {i.path.name for i in e.value.issues} == {"heping.yaml", "xingfu.yaml"}
    assert any("no community 'nowhere'" in i.message for i in e.value.issues)


def test_bridge_yaml_paths_are_relative_to_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text(
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        "database: {url: 'sqlite+aiosqlite:///data/x.db'}\n",
        encoding="utf-8",
    )
    config = load_bridge_config(path)
    assert config.rooms_config == tmp_path / "rooms_config"
    assert config.database.url == f"sqlite+aiosqlite:///{tmp_path}/data/x.db"


def test_bridge_yaml_with_a_short_token_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text(
        "appservice:\n  as_token: short\n  hs_token: bbbbbbbbbbbbbbbbbbbb\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as e:
        load_bridge_config(path)
    [issue] = e.value.issues
    assert (issue.line, issue.key) == (2, "appservice.as_token")


def test_shipped_bridge_yaml_refuses_to_start_with_placeholder_tokens(tmp_path: Path) -> None:
    shipped = Path(__file__).parents[2] / "bridge.yaml"
    with pytest.raises(ConfigError) as e:
        load_bridge_config(shipped)
    assert {i.key for i in e.value.issues} == {"appservice.as_token", "appservice.hs_token"}
    assert "linli init --force" in e.value.issues[0].message
    # `linli init` replaces the placeholders without needing --force
    copy = tmp_path / "bridge.yaml"
    copy.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    assert linli(["-c", str(copy), "init"]) == 0
    config = load_bridge_config(copy)
    assert (
        len(config.appservice.as_token) >= 32
        and config.appservice.as_token != config.appservice.hs_token
    )
    assert linli(["-c", str(copy), "init"]) == 1  # real tokens are not overwritten by accident


VALID_APPSERVICE = "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        # each of these escaped load_bridge_config as another exception (found by test_fuzz.py)
        (b"a: 1\nb: \xff\n", 2, "not UTF-8 text"),
        (b"a: 1\nb: \x08\n", 2, "special characters are not allowed (U+0008)"),
        (b"timezone: !!timestamp x\n", 1, "cannot read 'x' as tag:yaml.org,2002:timestamp"),
        (b"timezone: 2026-02-30\n", 1, "cannot read '2026-02-30' as tag:yaml.org,2002:timestamp"),
        (b"timezone: !!int abc\n", 1, "cannot read 'abc' as tag:yaml.org,2002:int"),
        (b"timezone: 0b_\n", 1, "cannot read '0b_' as tag:yaml.org,2002:int"),
        (b"timezone: !foo bar\n", 1, "cannot read 'bar' as !foo"),
        (b"x: 1\nwebhooks: &a [*a]\n", 2, "an alias refers to a value that contains it"),
        (b"webhooks: [" + b"[" * 2000 + b"]" * 2000 + b"]\n", 1, "nested too deeply"),
        (b"x: &a {a: 1}\njoin:\n  <<: *a\n", 3, "merge keys (<<) are not supported"),
        (b'rooms_config: "a\\0b"\n', 1, "NUL characters are not allowed"),
        (b'database: {url: "sqlite+aiosqlite:///\\0"}\n', 1, "NUL characters are not allowed"),
        (b'join: {client_url: "\\ud800"}\n', 1, "a lone surrogate"),
        (b"timezone: America\n", 1, "unknown time zone 'America'"),
        (b"timezone: " + b"a" * 300 + b"\n", 1, "unknown time zone"),
    ],
)
def test_broken_bridge_yaml_is_a_config_error_with_its_line(
    tmp_path: Path, text: bytes, line: int, problem: str
) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_bytes(text + VALID_APPSERVICE.encode())
    with pytest.raises(ConfigError) as e:
        load_bridge_config(path)
    [issue] = e.value.issues
    assert (issue.path, issue.line) == (path, line)
    assert problem in issue.message


def test_a_surrogate_pair_written_as_json_escapes_is_one_character(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text(VALID_APPSERVICE + 'rooms_config: "\\ud83c\\udfe0"\n', encoding="utf-8")
    assert load_bridge_config(path).rooms_config.name == "🏠"


@pytest.mark.parametrize("name", ["{x}号楼", "{", "{0}", "{building.x}", "{building:d}"])
def test_building_room_name_with_an_unknown_placeholder_is_refused(
    rooms_dir: Path, name: str
) -> None:
    path = rooms_dir / "templates.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"{building}号楼"', json.dumps(name)), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    # (the compounds using the template then report it missing)
    [issue] = [i for i in e.value.issues if "placeholder" in i.message]
    assert (issue.path, issue.line) == (path, line_of(path, "building_room:"))
    assert "the only placeholder is {building}" in issue.message


def _bridge_yaml(tmp_path: Path, rooms_dir: Path, webhooks: str = "") -> Path:
    path = tmp_path / "bridge.yaml"
    path.write_text(
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        f"rooms_config: {rooms_dir}\n" + webhooks,
        encoding="utf-8",
    )
    return path


def test_a_ladder_step_to_a_missing_webhook_target_stops_plan_with_file_and_line(
    tmp_path: Path, rooms_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _bridge_yaml(tmp_path, rooms_dir)
    # The example compounds use the default ladder, which ends with a work order to "grid".
    assert linli(["-c", str(config), "plan"]) == 2
    err = capsys.readouterr().err
    heping = rooms_dir / "compounds" / "heping.yaml"
    assert f"{heping}:1: tickets.escalation (the default ladder)[2]:" in err
    assert "webhook target 'grid'" in err and "bridge.yaml" in err
    # the registration needs only the namespaces: it is still written
    assert linli(["-c", str(config), "registration", "-o", str(tmp_path / "r.yaml")]) == 0


def test_a_ladder_step_to_a_missing_room_names_its_line(
    tmp_path: Path, rooms_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heping = rooms_dir / "compounds" / "heping.yaml"
    text = heping.read_text(encoding="utf-8").rstrip("\n")
    heping.write_text(
        text + "\n  tickets:\n    escalation:\n      - {to: room, name: no_such_room}\n",
        encoding="utf-8",
    )
    grid = "webhooks: {grid: {url: 'http://127.0.0.1:9/x', secret: sixteen-chars-secret}}\n"
    config = _bridge_yaml(tmp_path, rooms_dir, grid)
    assert linli(["-c", str(config), "plan"]) == 2
    err = capsys.readouterr().err
    assert f"{heping}:{line_of(heping, 'no_such_room')}: tickets.escalation[0]:" in err
    assert "no_such_room" in err


def test_a_relative_sqlite_path_keeps_the_rest_of_the_database_section(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text(
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        "database: {url: 'sqlite+aiosqlite:///data/linli.db', sqlite_synchronous: normal}\n",
        encoding="utf-8",
    )
    config = load_bridge_config(path)
    assert config.database.url == f"sqlite+aiosqlite:///{tmp_path}/data/linli.db"
    assert config.database.sqlite_synchronous == "normal"  # it used to vanish


def test_logging_from_bridge_yaml_writes_a_rotated_file_without_library_debug(
    tmp_path: Path,
) -> None:
    import logging

    from bridge import logs

    path = tmp_path / "bridge.yaml"
    path.write_text(
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        "logging: {level: DEBUG, format: json, file: logs/linli.log, max_bytes: 10000,"
        " levels: {bridge.noisy: WARNING}}\n",
        encoding="utf-8",
    )
    config = load_bridge_config(path)
    assert config.logging.file == tmp_path / "logs" / "linli.log"
    try:
        logs.configure(config.logging)
        logging.getLogger("bridge.test").debug("ticket %s opened", 7)
        logging.getLogger("bridge.noisy").info("not wanted")
        logging.getLogger("aiosqlite").debug("SELECT 张三")  # a library's DEBUG stays out
        for handler in logging.getLogger().handlers:
            handler.flush()
        lines = (tmp_path / "logs" / "linli.log").read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines]
        assert [r["message"] for r in records] == ["ticket 7 opened"]
    finally:
        logs.setup()


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_database_that_cannot_be_opened_is_one_line_without_its_password(
    tmp_path: Path, rooms_dir: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    grid = "webhooks: {grid: {url: 'http://127.0.0.1:9/x', secret: sixteen-chars-secret}}\n"
    config = _bridge_yaml(tmp_path, rooms_dir, grid)
    url = "postgresql+asyncpg://linli:hunter2hunter2@127.0.0.1:9/linli"  # nothing listens
    config.write_text(
        config.read_text(encoding="utf-8") + f"database: {{url: '{url}'}}\n", encoding="utf-8"
    )
    assert linli(["-c", str(config), command]) == 1
    err = capsys.readouterr().err
    assert err.startswith("linli: the database postgresql+asyncpg://linli:***@127.0.0.1:9/linli")
    assert err.count("\n") == 1 and "hunter2" not in err
