"""Config loading: the examples load, and every kind of broken file names file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
    rooms = load_rooms_config(EXAMPLES)
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
        load_rooms_config(rooms_dir)
    [issue] = e.value.issues
    assert issue.path == path
    assert issue.line == line_of(path, "colour: red")
    assert issue.key == "compound.colour"
    assert "unknown key" in issue.message


def test_unknown_role_is_refused_with_its_line(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "    police:", "    janitor:")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir)
    [issue] = e.value.issues
    assert (issue.path, issue.line) == (path, line_of(path, "janitor:"))
    assert issue.key == "compound.staff.janitor"


def test_malformed_matrix_id_is_refused(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, '"@wuye_wang:linli.localhost"', '"wuye_wang"')
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir)
    [issue] = e.value.issues
    assert issue.line == line_of(path, '"wuye_wang"')
    assert issue.key == "compound.staff.property_staff.0"
    assert "not a Matrix user ID" in issue.message


def test_duplicate_room_key_is_refused(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "    volunteers:", "    hall:")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir)
    [issue] = e.value.issues
    assert issue.line == line_of(path, "    hall:")
    assert "duplicate room key 'hall'" in issue.message


def test_yaml_syntax_error_names_the_line(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "  name: 和平里小区", "  name: [和平里小区")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir)
    [issue] = e.value.issues
    assert issue.path == path
    assert issue.line >= line_of(path, "[和平里小区")
    assert "YAML syntax error" in issue.message


def test_duplicate_yaml_key_is_refused(rooms_dir: Path) -> None:
    path = break_compound(rooms_dir, "  name_en: Heping Li", "  name_en: Heping Li\n  name_en: X")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir)
    assert e.value.issues[0].line == line_of(path, "name_en: X")


def test_resident_role_in_yaml_is_refused(rooms_dir: Path) -> None:
    break_compound(rooms_dir, "    police:", "    party_member:")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir)
    assert "grant it with !role grant" in e.value.issues[0].message


def test_every_error_of_several_files_is_reported(rooms_dir: Path) -> None:
    break_compound(rooms_dir, "  buildings:", "  colour: red\n  buildings:")
    other = rooms_dir / "compounds" / "xingfu.yaml"
    other.write_text(
        other.read_text(encoding="utf-8").replace("community: sanlin", "community: nowhere"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir)
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
