"""Every bot's admin verbs on the command line (`linli roster …`, `linli audit …`), listed apart
from the bots so that `linli --help` and a verb that needs no bot load none of them."""

from __future__ import annotations

from bots.onboarding.cli import ROSTER_IMPORT
from bots.votes.cli import AUDIT
from bridge.cli_verbs import CliVerb

ALL_VERBS: tuple[CliVerb, ...] = (ROSTER_IMPORT, AUDIT)
