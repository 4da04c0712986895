"""Linli's bots: domain rules, one module per bot. `ALL_BOTS` is how the bridge knows them."""

from __future__ import annotations

from bots.help import HelpBot
from bots.onboarding.bot import OnboardingBot
from bots.tickets.bot import TicketBot
from bridge.dispatch import Bot

ALL_BOTS: list[type[Bot]] = [HelpBot, OnboardingBot, TicketBot]
