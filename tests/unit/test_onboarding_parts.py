"""Addresses, the roster CSV and the join link's QR code: pure, no homeserver."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from bots.onboarding.address import AddressError, Household, parse_address
from bots.onboarding.roster import hash_phone, parse_roster
from bridge.cli import main as linli
from bridge.join_link import lobby_link, write_qr_png


@pytest.mark.parametrize(
    "typed",
    ["3-2-1101", "３－２－１１０１", "3/2/1101", "3号楼2单元1101室", "3栋2单元1101", " 3-2-1101 "],
)
def test_addresses_as_residents_type_them(typed: str) -> None:
    assert parse_address(typed) == Household("3", "2", "1101")


def test_address_errors_carry_a_message_key() -> None:
    with pytest.raises(AddressError) as malformed:
        parse_address("三号楼")
    assert malformed.value.key == "onboarding.address_malformed"
    with pytest.raises(AddressError) as unknown:
        parse_address("9-1-101", frozenset({"1", "3"}))
    assert unknown.value.key == "onboarding.address_unknown_building"


def test_roster_keeps_good_rows_and_reports_each_bad_line() -> None:
    h = hash_phone("+86 138-1234-5678", "salt")
    assert h == hash_phone("13812345678", "salt") and len(h) == 64
    text = (
        "\ufeffbuilding,unit,room,floor_area,owners,phone_hashes\n"
        f"3,2,1101,89.5,张三、李梅,{h}\n"
        "3,2,1102,-1,王五,\n"
        "3,2,1103,70,赵六,13812345678\n"
        "3,2,1101,89.5,张三,\n"
        "x,2\n"
        "1,1,101,120.25,,\n"
    )
    result = parse_roster(text)
    assert [(r.household, r.floor_area, r.owners) for r in result.rows] == [
        (Household("3", "2", "1101"), Decimal("89.5"), ("张三", "李梅")),
        (Household("1", "1", "101"), Decimal("120.25"), ()),
    ]
    assert [(e.line, e.key) for e in result.errors] == [
        (3, "onboarding.roster_area"),
        (4, "onboarding.roster_plain_phone"),
        (5, "onboarding.roster_duplicate"),
        (6, "onboarding.roster_columns"),
    ]


def test_wrong_header_is_one_error_at_line_one() -> None:
    result = parse_roster("bldg,unit,room\n1,1,1\n")
    assert result.rows == [] and [(e.line, e.key) for e in result.errors] == [
        (1, "onboarding.roster_header")
    ]


def test_lobby_link_uses_matrix_to_or_the_communitys_element() -> None:
    alias = "#heping-lobby:linli.localhost"
    assert lobby_link(alias) == "https://matrix.to/#/%23heping-lobby%3Alinli.localhost"
    assert lobby_link(alias, "https://chat.example.org/") == (
        "https://chat.example.org/#/room/#heping-lobby:linli.localhost"
    )


def test_qr_code_decodes_to_the_lobby_link(tmp_path: Path) -> None:
    link = lobby_link("#heping-lobby:linli.localhost")
    png = write_qr_png(link, tmp_path / "qr.png")
    [decoded] = zxingcpp.read_barcodes(Image.open(png))
    assert decoded.text == link


def test_linli_qr_command_writes_the_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bridge.yaml"
    config.write_text(
        "homeserver: {server_name: example.org}\n"
        "appservice: {as_token: aaaaaaaaaaaaaaaaaaaa, hs_token: bbbbbbbbbbbbbbbbbbbb}\n"
        f"rooms_config: {Path(__file__).parents[2] / 'rooms_config'}\n",
        encoding="utf-8",
    )
    out = tmp_path / "heping.png"
    assert linli(["-c", str(config), "qr", "heping", "-o", str(out)]) == 0
    link = capsys.readouterr().out.splitlines()[0]
    assert link == "https://matrix.to/#/%23heping-lobby%3Aexample.org"
    [decoded] = zxingcpp.read_barcodes(Image.open(out))
    assert decoded.text == link
    assert linli(["-c", str(config), "qr", "nowhere"]) == 2
