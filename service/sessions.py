"""Admin sessions: the cookie that carries one, and the server-side half (when each started, which
have ended).

A session lives in its encrypted cookie (configured in service/api/admin.py), and a cookie alone cannot
be taken back. So a session carries an id and its login time; it is valid for `DIALOGIC_ADMIN_SESSION_S` after
login however active it is (the cookie's own expiry moves forward with every answer, so without this a
stolen cookie in use would never expire), and a logout records its id as ended until that time.

Ended ids are kept in Redis under `{prefix}:admin-session:ended:` when there is Redis, so that every
replica refuses them, through the process's Redis handle as the rate limiter's counts are;
and always in this process, so that the replica that logged a session out refuses it even while Redis
is down. While Redis is down, another replica cannot see a logout it did not make; the session still
ends at its lifetime.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import time
from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.types import Message, ScopeSession

from service.redis.handle import RedisHandle


class CookieSessionBackend(ClientSideSessionBackend):
    """The session cookie, marked Secure when the request came over https, so that a browser never sends
    it in clear; plain-http development keeps working. Behind a TLS-terminating proxy the scheme is the
    proxy's X-Forwarded-Proto, which uvicorn takes from the addresses in FORWARDED_ALLOW_IPS."""

    def __init__(self, config: CookieBackendConfig) -> None:
        super().__init__(config)
        self._over_https = ClientSideSessionBackend(dataclasses.replace(config, secure=True))

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        if connection.scope["scheme"] == "https":
            await self._over_https.store_in_message(scope_session, message, connection)
        else:
            await super().store_in_message(scope_session, message, connection)

    def __deepcopy__(self, memo: dict[int, Any]) -> CookieSessionBackend:
        """Litestar deep-copies a Router when it is registered; the AES-GCM key object cannot be copied."""
        return self


class Sessions:
    def __init__(
        self,
        lifetime_s: int,
        prefix: str,
        clock: Callable[[], float] = time.time,
        redis: RedisHandle | None = None,
    ) -> None:
        self.lifetime_s, self.prefix, self.clock = lifetime_s, f"{prefix}:admin-session:ended:", clock
        self.redis = redis
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
