"""The household roster a committee imports (CSV): every bad line reported, good lines kept.

Columns: building, unit, room, floor_area, owners, phone_hashes. Owners are names separated by
";" or "、"; phone_hashes are hex SHA-256 values (`hash_phone`), never plain phone numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bots.onboarding.address import AddressError, Household, parse_address

COLUMNS = ("building", "unit", "room", "floor_area", "owners", "phone_hashes")
_PLAIN_PHONE = re.compile(r"^(\+?86)?1\d{10}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RosterRow:
    household: Household
    floor_area: Decimal
    owners: tuple[str, ...]
    phone_hashes: tuple[str, ...]


@dataclass(frozen=True)
class RosterError:
    line: int
    key: str  # message key; never carries the names or numbers of the row


@dataclass(frozen=True)
class RosterParseResult:
    rows: list[RosterRow]
    errors: list[RosterError]


def hash_phone(phone: str, salt: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return hashlib.sha256(f"{salt}{digits}".encode()).hexdigest()


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in re.split(r"[;；、]", cell) if p.strip())


def parse_roster(text: str, buildings: frozenset[str] | None = None) -> RosterParseResult:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        return RosterParseResult([], [RosterError(1, "onboarding.roster_header")])
    rows: list[RosterRow] = []
    errors: list[RosterError] = []
    seen: set[Household] = set()
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            errors.append(RosterError(line, "onboarding.roster_columns"))
            continue
        building, unit, room, area, owners, hashes = (c.strip() for c in cells)
        try:
            household = parse_address(f"{building}-{unit}-{room}", buildings)
        except AddressError as e:
            errors.append(RosterError(line, e.key))
            continue
        try:
            floor_area = Decimal(area)
        except InvalidOperation:
            errors.append(RosterError(line, "onboarding.roster_area"))
            continue
        if not (Decimal(0) < floor_area < Decimal(10000)):
            errors.append(RosterError(line, "onboarding.roster_area"))
            continue
        phone_hashes = _split(hashes)
        if any(_PLAIN_PHONE.match(h.replace(" ", "")) for h in phone_hashes):
            errors.append(RosterError(line, "onboarding.roster_plain_phone"))
            continue
        if not all(_HASH.match(h.lower()) for h in phone_hashes):
            errors.append(RosterError(line, "onboarding.roster_hash"))
            continue
        if household in seen:
            errors.append(RosterError(line, "onboarding.roster_duplicate"))
            continue
        seen.add(household)
        rows.append(
            RosterRow(household, floor_area, _split(owners), tuple(h.lower() for h in phone_hashes))
        )
    return RosterParseResult(rows, errors)
