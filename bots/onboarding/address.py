"""Household addresses as residents type them: "3-2-1101", "3号楼2单元1101", full-width digits."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# building-unit-room with -, full-width or dash-like separators, or "/"
_DASHED = re.compile(r"^([0-9A-Za-z]{1,8})[-/－—–]([0-9A-Za-z]{1,8})[-/－—–]([0-9A-Za-z]{1,8})$")
_CHINESE = re.compile(
    r"^([0-9A-Za-z]{1,8})(?:号楼|栋|幢|号)([0-9A-Za-z]{1,8})单元([0-9A-Za-z]{1,8})(?:室|号)?$"
)


class AddressError(ValueError):
    """A malformed address; `key` is a message key for the resident's language."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, order=True)
class Household:
    building: str
    unit: str
    room: str

    def __str__(self) -> str:
        return f"{self.building}-{self.unit}-{self.room}"

    def zh(self) -> str:
        return f"{self.building}号楼{self.unit}单元{self.room}室"


def parse_address(text: str, buildings: frozenset[str] | None = None) -> Household:
    """A household from what a resident typed; `buildings` limits it to the compound's."""
    normal = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    match = _DASHED.match(normal) or _CHINESE.match(normal)
    if match is None:
        raise AddressError("onboarding.address_malformed")
    household = Household(*(part.upper() for part in match.groups()))
    if buildings is not None and household.building not in buildings:
        raise AddressError("onboarding.address_unknown_building")
    return household
