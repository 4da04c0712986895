"""Paper ballots as staff type them: one household and choice, or CSV lines
(`3-2-1101,同意`), each bad line reported by its number. Pure."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

_HOUSEHOLD = re.compile(r"^(\d{1,4})[-－—](\d{1,3})[-－—](\d{1,5})$")
MAX_LINES = 5000


@dataclass(frozen=True)
class PaperRow:
    line: int
    household: str  # "3-2-1101"
    choice: str  # yes / no / abstain


def parse_household(text: str) -> str | None:
    """ "3-2-1101" (full-width dashes too) → "3-2-1101"; None when it is not one."""
    match = _HOUSEHOLD.match(
        text.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    )
    if match is None:
        return None
    return "-".join(str(int(part)) for part in match.groups())


def parse_paper_csv(
    text: str, choices: Mapping[str, str]
) -> tuple[list[PaperRow], list[tuple[int, str]]]:
    """The good rows, and (line, message key) for each bad one. A header line
    (`household,choice` / `户号,选择`) is skipped; blank lines are ignored."""
    rows: list[PaperRow] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, fields in enumerate(csv.reader(io.StringIO(text.replace("，", ","))), 1):
        if number > MAX_LINES + 1:  # a header line and MAX_LINES ballots
            errors.append((number, "votes.csv_too_long"))
            break
        cells = [c.strip() for c in fields]
        if not any(cells):
            continue
        if number == 1 and cells[0].casefold() in ("household", "户号", "房号"):
            continue
        if len(cells) != 2:
            errors.append((number, "votes.csv_columns"))
            continue
        household = parse_household(cells[0])
        choice = choices.get(cells[1].casefold())
        if household is None:
            errors.append((number, "votes.csv_household"))
        elif choice is None:
            errors.append((number, "votes.csv_choice"))
        elif household in seen:
            errors.append((number, "votes.csv_repeated"))
        else:
            seen[household] = number
            rows.append(PaperRow(number, household, choice))
    return rows, errors
