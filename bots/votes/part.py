"""What each part of the votes bot works with (turnout, secret ballots, the paper desk)."""

from __future__ import annotations

from dataclasses import dataclass

from bots.votes.ballot_store import BallotStore
from bots.votes.electorate import ElectorateStore
from bots.votes.store import VoteStore
from bridge.bot import Services


@dataclass
class VotesPart:
    """The bridge's services and the votes' stores, shared by the bot's parts."""

    services: Services
    votes: VoteStore
    ballots: BallotStore
    electorate: ElectorateStore
