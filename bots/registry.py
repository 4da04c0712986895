"""Every bot the bridge runs, in the order their hooks see an event."""

from __future__ import annotations

from bots.backoffice.bot import BackofficeBot
from bots.community.bot import CommunityBot
from bots.community.neighbours_bot import NeighboursBot
from bots.help import HelpBot
from bots.notices.bot import NoticeBot
from bots.onboarding.bot import OnboardingBot
from bots.tickets.bot import TicketBot
from bots.votes.bot import VoteBot
from bridge.bot import Bot

ALL_BOTS: list[type[Bot]] = [
    HelpBot,
    OnboardingBot,
    TicketBot,
    VoteBot,
    NoticeBot,
    CommunityBot,
    NeighboursBot,
    BackofficeBot,
]
