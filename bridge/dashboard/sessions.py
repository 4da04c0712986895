"""The back office's own sessions: a random bearer token per sign-in, kept only as its hash,
ending at its expiry (on the injectable clock) or as soon as the person's roles change.

Kept in memory: a session is worth less than the OpenID exchange that made it (the page asks
for a new one, which the widget host answers without asking the person again), so a restart
that forgets every session loses nothing a resident or staff member wrote.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.clock import Clock
from bridge.roles import Role

# What a person may see, per compound: the roles the role table gives them there.
RoleSnapshot = frozenset[tuple[str, Role]]


@dataclass(frozen=True)
class Session:
    user_id: str
    roles: RoleSnapshot
    expires_at: datetime

    def compounds_with(self, wanted: frozenset[Role]) -> list[str]:
        """The compounds where the person holds one of these roles."""
        return sorted({compound for compound, role in self.roles if role in wanted})

    def roles_in(self, compound: str) -> frozenset[Role]:
        return frozenset(role for c, role in self.roles if c == compound)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, clock: Clock, lifetime: timedelta) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self._by_digest: dict[str, Session] = {}

    def issue(self, user_id: str, roles: RoleSnapshot) -> tuple[str, Session]:
        """A new token (shown once, to the page) and its session."""
        self._prune()
        token = secrets.token_urlsafe(32)
        session = Session(user_id, roles, self.clock.now() + self.lifetime)
        self._by_digest[_digest(token)] = session
        return token, session

    def find(self, token: str) -> Session | None:
        """The live session of a token, or None (unknown, or expired: then forgotten)."""
        digest = _digest(token)
        session = self._by_digest.get(digest)
        if session is None:
            return None
        if self.clock.now() >= session.expires_at:
            del self._by_digest[digest]
            return None
        return session

    def end(self, token: str) -> None:
        self._by_digest.pop(_digest(token), None)

    def _prune(self) -> None:
        now = self.clock.now()
        for digest in [d for d, s in self._by_digest.items() if now >= s.expires_at]:
            del self._by_digest[digest]


class RateLimit:
    """At most `per_minute` attempts per key (a client address) in any minute."""

    def __init__(self, clock: Clock, per_minute: int) -> None:
        self.clock = clock
        self.per_minute = per_minute
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock.now()
        window = self._seen.setdefault(key, deque())
        while window and now - window[0] >= timedelta(minutes=1):
            window.popleft()
        if len(window) >= self.per_minute:
            return False
        window.append(now)
        if len(self._seen) > 10_000:  # many addresses: forget the quiet ones
            for quiet in [k for k, w in self._seen.items() if not w]:
                del self._seen[quiet]
        return True
