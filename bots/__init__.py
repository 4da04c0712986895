"""Linli's bots: domain rules, one folder per bot. `ALL_BOTS` is how the bridge knows them.

Adding a bot: copy the shape of `bots/tickets/` (bot.py, rules, store.py, jobs.py, texts/),
add its class here, and, if it has tables, an alembic revision in `bridge/store/migrations/`
(see docs/architecture.md, "Adding a bot").
"""

from __future__ import annotations

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
]
