"""The server-side half of admin sessions: when each one started, and which have ended.

A session lives in its encrypted cookie (service/api/admin.py), and a cookie alone cannot be taken
back. So a session carries an id and its login time; it is valid for `DIALOGIC_ADMIN_SESSION_S` after
login however active it is (the cookie's own expiry moves forward with every answer, so without this a
stolen cookie in use would never expire), and a logout records its id as ended until that time.

Ended ids are kept in Redis under `{prefix}:admin-session:ended:` when the cache has Redis, so that
every replica refuses them, through the cache's breaker and deadline as the rate limiter's counts are;
and always in this process, so that the replica that logged a session out refuses it even while Redis
is down. While Redis is down, another replica cannot see a logout it did not make; the session still
ends at its lifetime.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from typing import Any

from service.cache.redis import RedisCache


class Sessions:
    def __init__(self, lifetime_s: int, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self.lifetime_s, self.prefix, self.clock = lifetime_s, f"{prefix}:admin-session:ended:", clock
        self.redis: RedisCache | None = None  # attached by the lifespan once the cache is built
        self._ended: dict[str, float] = {}  # session id -> when it would have ended anyway

    def __deepcopy__(self, memo: dict[int, Any]) -> Sessions:
        """Litestar deep-copies a Router's opt when it registers it, and this is one shared object."""
        return self

    def start(self) -> dict[str, Any]:
        """A new session's contents: its id, login time and CSRF token."""
        return {
            "admin": True,
            "sid": secrets.token_urlsafe(16),
            "login_at": self.clock(),
            "csrf": secrets.token_urlsafe(32),
        }

    def _end_of(self, session: dict[str, Any]) -> float | None:
        """When `session` ends at the latest; None for no admin session (or one from before ids)."""
        login_at = session.get("login_at")
        if session.get("admin") is not True or not isinstance(session.get("sid"), str):
            return None
        return login_at + self.lifetime_s if isinstance(login_at, int | float) else None

    async def valid(self, session: dict[str, Any]) -> bool:
        end = self._end_of(session)
        if end is None or end <= self.clock() or session["sid"] in self._ended:
            return False
        if self.redis is None:
            return True
        found = await self.redis.attempt("session", [("EXISTS", self.prefix + session["sid"])])
        return not (found and found[0])

    async def end(self, session: dict[str, Any]) -> None:
        """Log `session` out, everywhere, for good."""
        end = self._end_of(session)
        if end is None:
            return
        now = self.clock()
        self._ended = {sid: until for sid, until in self._ended.items() if until > now}
        self._ended[session["sid"]] = end
        if self.redis is not None:
            ttl = max(1, math.ceil(end - now))
            await self.redis.attempt("session", [("SET", self.prefix + session["sid"], 1, "EX", ttl)])
