"""The votes bot's tables. Their schema comes from the alembic history in
`bridge/store/migrations/` (revisions 0007_votes, 0008_votes_tally,
0009_votes_integrity, 0010_votes_proxies); these classes map them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bridge.store.models import Base


class Poll(Base):
    """A quick poll or a formal vote, posted as a native Matrix poll."""

    __tablename__ = "votes_polls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # per compound: "投票 #3"
    kind: Mapped[str] = mapped_column(String(16))  # "quick" or "formal"
    room_id: Mapped[str] = mapped_column(String(255))
    # The command that created it: creating is idempotent on it.
    source_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    start_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    creator: Mapped[str] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{"id", "text"}]
    max_selections: Mapped[int] = mapped_column(Integer, default=1)
    per_household: Mapped[bool] = mapped_column(default=False)
    secret: Mapped[bool] = mapped_column(default=False)
    # Who may answer: "anyone" (quick polls), "residents", "households", "owners".
    eligibility: Mapped[str] = mapped_column(String(16), default="anyone")
    # A formal vote's rule: {"name", "participation", "approval"} (shares as "p/q").
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open → closed
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The command or scheduled job that closed it: closing is made once per cause.
    close_cause: Mapped[str | None] = mapped_column(String(255), default=None)
    closed_by: Mapped[str | None] = mapped_column(String(255), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    __table_args__ = (UniqueConstraint("compound", "number", name="uq_votes_polls_number"),)


class PollAnswer(Base):
    """One response event to a poll (every one is kept; the latest per voter counts)."""

    __tablename__ = "votes_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"), index=True)
    # A response delivered twice is stored once.
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    voter: Mapped[str] = mapped_column(String(255))
    household: Mapped[str | None] = mapped_column(String(64), default=None)
    choices: Mapped[list[str]] = mapped_column(JSON)
    ts: Mapped[int] = mapped_column(BigInteger)  # origin_server_ts (ms)
    received_at: Mapped[datetime]
    # Given by a proxy for the household (votes_proxies.id); None: by the voter themselves.
    proxy_id: Mapped[int | None] = mapped_column(Integer, default=None)


class BallotPaper(Base):
    """A secret vote's poll in one voter's direct room with the bot: who was given one."""

    __tablename__ = "votes_ballot_papers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"))
    user_id: Mapped[str] = mapped_column(String(255))
    room_id: Mapped[str] = mapped_column(String(255))
    start_event_id: Mapped[str] = mapped_column(String(255), unique=True)

    # Not unique: a paper posted again after the homeserver forgot its transaction ID is a
    # second poll, and an answer to either counts (once: one secret ballot per voter).
    __table_args__ = (Index("ix_votes_ballot_papers_user", "poll_id", "user_id"),)


class SecretVoter(Base):
    """That a voter (household or person) cast a secret ballot, and the event that did: never
    what they chose."""

    __tablename__ = "votes_secret_voters"
    # Keyed by (poll, voter) only, WITHOUT ROWID on SQLite: no serial number in cast order.
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"), primary_key=True)
    voter: Mapped[str] = mapped_column(String(255), primary_key=True)
    cause: Mapped[str] = mapped_column(String(255), unique=True)


class SecretBallot(Base):
    """A secret ballot's choice under its receipt code: no voter, no time, no weight."""

    __tablename__ = "votes_secret_ballots"
    # WITHOUT ROWID on SQLite: stored in receipt order, not cast order.
    receipt: Mapped[str] = mapped_column(String(32), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"))
    choice: Mapped[str] = mapped_column(String(16))


class SecretTotal(Base):
    """Running totals of a secret vote per choice (heads, and area as exact text): the area a
    ballot carries is added here, never kept with the ballot (areas can name a household)."""

    __tablename__ = "votes_secret_totals"
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"), primary_key=True)
    choice: Mapped[str] = mapped_column(String(16), primary_key=True)
    heads: Mapped[int] = mapped_column(Integer)  # ballots (parts, households or people)
    area: Mapped[str] = mapped_column(String(32))
    head: Mapped[str] = mapped_column(String(32), default="0")  # owners' heads, exact text


class PaperBallot(Base):
    """A paper ballot entered by staff: one per household, attributed to who entered it."""

    __tablename__ = "votes_paper_ballots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"))
    household: Mapped[str] = mapped_column(String(64))
    choice: Mapped[str] = mapped_column(String(16))
    entered_by: Mapped[str] = mapped_column(String(255))
    cause: Mapped[str] = mapped_column(String(255))
    entered_at: Mapped[datetime]
    # The batch it was entered in, and the second committee member (监票人) who confirmed it:
    # an unconfirmed paper ballot does not count.
    batch: Mapped[str | None] = mapped_column(String(255), default=None)
    confirmed_by: Mapped[str | None] = mapped_column(String(255), default=None)

    __table_args__ = (UniqueConstraint("poll_id", "household", name="uq_votes_paper_household"),)


class Elector(Base):
    """Who could vote in a closed formal vote, and with which weight, as read at its close."""

    __tablename__ = "votes_electorate"
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"), primary_key=True)
    voter: Mapped[str] = mapped_column(String(255), primary_key=True)  # household or Matrix ID
    weight: Mapped[str] = mapped_column(String(32))  # exact decimal text: floor area or "1"
    # The voter's share of one head: "1", or "1/k" for each of an owner's k parts.
    head: Mapped[str] = mapped_column(String(32), default="1")


class CountedBallot(Base):
    """An open ballot that counted in a closed formal vote: the latest online answer of its
    voter, or the household's paper ballot (which wins over an online one)."""

    __tablename__ = "votes_counted"
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"), primary_key=True)
    voter: Mapped[str] = mapped_column(String(255), primary_key=True)
    choice: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(8))  # "online" or "paper"
    entered_by: Mapped[str | None] = mapped_column(String(255), default=None)
    weight: Mapped[str] = mapped_column(String(32))  # the voter's weight in the electorate
    head: Mapped[str] = mapped_column(String(32), default="1")  # its share of a head
    event_id: Mapped[str | None] = mapped_column(String(255), default=None)  # online ballots
    ts: Mapped[int | None] = mapped_column(BigInteger, default=None)  # origin_server_ts
    confirmed_by: Mapped[str | None] = mapped_column(String(255), default=None)  # paper: 监票人
    # An online ballot given by a proxy: the proxy, and the committee member who confirmed it.
    proxy: Mapped[str | None] = mapped_column(String(255), default=None)
    proxy_confirmed_by: Mapped[str | None] = mapped_column(String(255), default=None)


class PollLog(Base):
    """What happened to a poll, once per cause (bridge/store/changes.py): its close, and each
    post the close made (with the event it posted), so a handler run again posts nothing new."""

    __tablename__ = "votes_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("poll_id", "action", "cause", name="uq_votes_log_cause"),)


class VoteProxy(Base):
    """A proxy (委托): an owner authorises another person to vote for the household, in one
    vote or (poll_id None) in every open vote until revoked. requested → confirmed by a
    committee member, or refused; a request or a proxy in force can be revoked."""

    __tablename__ = "votes_proxies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # per compound: "委托 #2"
    household: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(255))
    proxy: Mapped[str] = mapped_column(String(255))
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("votes_polls.id"), default=None)
    status: Mapped[str] = mapped_column(String(16))  # requested, confirmed, refused, revoked
    requested_at: Mapped[datetime]
    confirmed_by: Mapped[str | None] = mapped_column(String(255), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)  # why it was refused
    # The owner's command: a request handled twice is made once.
    cause: Mapped[str] = mapped_column(String(255), unique=True)

    __table_args__ = (
        UniqueConstraint("compound", "number", name="uq_votes_proxies_number"),
        Index(
            "uq_votes_proxies_active",
            "compound",
            "household",
            unique=True,
            sqlite_where=text("status IN ('requested', 'confirmed')"),
            postgresql_where=text("status IN ('requested', 'confirmed')"),
        ),
    )


class ProxyLog(Base):
    """What happened to a proxy, once per cause (bridge/store/changes.py), and each message
    a change posted (with its event), so a handler run again posts nothing new."""

    __tablename__ = "votes_proxy_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proxy_id: Mapped[int] = mapped_column(ForeignKey("votes_proxies.id"))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("proxy_id", "action", "cause", name="uq_votes_proxy_log_cause"),
    )


class Proposal(Base):
    """A resident's proposal: pending → accepted (discussed) → voting → passed / failed, or
    rejected; a passed one is published as a convention (公约) and pinned."""

    __tablename__ = "votes_proposals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    proposer: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    source_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime]
    discussion_event_id: Mapped[str | None] = mapped_column(String(255), default=None)
    discussion_until: Mapped[datetime | None] = mapped_column(default=None)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("votes_polls.id"), default=None)
    convention_event_id: Mapped[str | None] = mapped_column(String(255), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The event or job that made the latest change: a handler run again finds it made.
    last_cause: Mapped[str | None] = mapped_column(String(255), default=None)

    __table_args__ = (UniqueConstraint("compound", "number", name="uq_votes_proposals_number"),)
