"""The votes bot's scheduled jobs: their kinds and typed payloads.

Keys say whose jobs they are (`vote:<poll id>:<which>`), so a poll's jobs are cancelled by key
prefix when it closes.
"""

from __future__ import annotations

from pydantic import BaseModel

from bridge.scheduler import JobKind


class ClosePoll(BaseModel):
    poll: int


class RemindVoters(BaseModel):
    poll: int


CLOSE = JobKind("votes.close", ClosePoll)
REMIND = JobKind("votes.remind", RemindVoters)


class HandOut(BaseModel):
    """Give a secret vote's ballot papers to its voters, a batch at a time: `after` is the
    last voter of the batch before (voters in the order of their Matrix IDs)."""

    poll: int
    after: str | None = None


DISTRIBUTE = JobKind("votes.hand_out", HandOut)


class DiscussionEnds(BaseModel):
    """A proposal's discussion period is over: the committee is told it can call the vote."""

    proposal: int


DISCUSSION_ENDS = JobKind("votes.discussion_ends", DiscussionEnds)
