"""The admin dashboard: server-rendered pages under /admin, behind the admin key.

Logging in with `DIALOGIC_ADMIN_KEY` starts a session in an encrypted, signed cookie (AES-GCM with a key
derived from `DIALOGIC_SESSION_SECRET`, which must hold 32 random bytes or more), scoped to /admin,
HttpOnly, SameSite=Strict, and Secure when the request came over https. It ends at logout, on every
replica, or `DIALOGIC_ADMIN_SESSION_S` after login (service/sessions.py). Login attempts are limited per
client address (`DIALOGIC_ADMIN_LOGIN_LIMIT` per 15 minutes, then a 429 problem), counted before the
form is read, and the form may hold a few KB at most. The session also holds a CSRF token that every
POST action must echo in its form. Every /admin answer, errors and redirects included, carries a strict
CSP and Cache-Control: no-store. Pages poll an HTML fragment (rendered by the same Jinja templates as the
first paint) every few seconds; /admin/api/stats serves the same figures as JSON. Unset settings get
random values per start: the admin key is then unknowable, so the dashboard is effectively off, and a
warning says how to turn it on.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import string
import time
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from litestar.types import Message, Scope
from msgspec import Struct

from model.runtime.classifier import LABELS
from service import recorder
from service.api.view_helpers import utc
from service.errors import NOT_READY, TOO_MANY_REQUESTS
from service.ratelimit import RateLimiter
from service.redis.handle import RedisHandle
from service.runtime import Runtime
from service.security import client_ip
from service.sessions import CookieSessionBackend, Sessions
from service.settings import Settings
from service.stats import WINDOW

log = logging.getLogger("dialogic.admin")
SESSION_COOKIE = "dialogic_admin"
SESSIONS_OPT = "admin_sessions"  # router opt: the Sessions that the guards and handlers consult
POLL_MS = 3000
LOGIN_WINDOW_S = 15 * 60
LOGIN_BODY_BYTES = 4096  # the login form holds one key; a larger body is refused before it is parsed
MIN_SECRET_BITS = 256
# Everything the pages load is this app's own (no inline script or style), so the policy can be strict;
# no admin answer (a page, an error, a redirect) is stored by a browser or a proxy.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# The alphabets secrets are usually drawn from, smallest first (see `secret_bits`).
_ALPHABETS = [
    frozenset(chars)
    for chars in (
        string.digits,
        "0123456789abcdef",
        "0123456789ABCDEF",
        string.ascii_lowercase,
        string.ascii_uppercase,
        string.ascii_letters + string.digits,
        string.ascii_letters + string.digits + "-_",
        string.ascii_letters + string.digits + "+/=",
        string.printable.strip() + " ",
    )
]


class LoginForm(Struct):
    key: str = ""


class ActionForm(Struct):
    csrf: str = ""


class LoginRequired(NotAuthorizedException):
    """A page was asked for without a session: the browser is sent to the login form."""


def _sessions(connection: ASGIConnection[Any, Any, Any, Any]) -> Sessions:
    sessions: Sessions = connection.route_handler.opt[SESSIONS_OPT]
    return sessions


async def _logged_in(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return await _sessions(connection).valid(connection.session)


async def _page_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not await _logged_in(connection):
        raise LoginRequired


async def _api_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not await _logged_in(connection):
        raise NotAuthorizedException("Log in at /admin/login.")


async def security_headers(message: Message, scope: Scope) -> None:
    """before_send hook: SECURITY_HEADERS on every answer under /admin, whatever produced it (a page,
    a guard's 401, the login limit's 429, a 404), replacing any the answer had."""
    path = scope.get("path", "")
    if message["type"] == "http.response.start" and (path == "/admin" or path.startswith("/admin/")):
        headers = MutableScopeHeaders.from_message(message)
        for name, value in SECURITY_HEADERS.items():
            headers[name] = value


def _to_login(_: Request[Any, Any, Any], __: LoginRequired) -> Response[Any]:
    return Redirect("/admin/login", status_code=303)


def _check_csrf(request: Request[Any, Any, Any], form: ActionForm) -> None:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(form.csrf.encode(), expected.encode()):
        raise PermissionDeniedException("Missing or stale CSRF token: reload the page and try again.")


Form = Annotated[ActionForm, Body(media_type=RequestEncodingType.URL_ENCODED)]


EVALUATIONS = (  # the headline rows of the model panel, where the artifact has them
    ("gold", "Gold, read labels"),
    ("test", "Test split"),
    ("organisations_gold", "Gold, organisations"),
)
BASELINE = "TF-IDF + LR"


COLUMNS = ("n", "macro_f1", "accuracy", "ece")


def _at(tree: Any, *path: str) -> Any:
    """tree[path[0]][path[1]]..., or None where a step is missing or not a mapping."""
    for step in path:
        tree = tree.get(step) if isinstance(tree, dict) else None
    return tree


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def model_card(metrics: dict[str, Any]) -> dict[str, Any]:
    """The model panel from an artifact's `metrics`: one row per evaluation set it has (n, macro-F1,
    accuracy, ECE), the baseline's gold macro-F1, and the behavioural suite (overall, and per capability
    weakest first) when present. The metrics' shape varies between trainings: whatever is missing is
    left out, never an error."""
    rows = [
        {"set": title, **{column: _number(_at(metrics, key, column)) for column in COLUMNS}}
        for key, title in EVALUATIONS
        if isinstance(metrics.get(key), dict)
    ]
    suite = None
    if (overall := _number(_at(metrics, "behaviour", "overall"))) is not None:
        capabilities = _at(metrics, "behaviour", "capabilities") or {}
        rates = [(_number(_at(capabilities, name, "rate")), name) for name in capabilities]
        suite = {
            "overall": overall,
            "tests": _number(_at(metrics, "behaviour", "tests")),
            "threshold": _number(_at(metrics, "behaviour", "thresholds", "capability")),
            "capabilities": [(name, rate) for rate, name in sorted(r for r in rates if r[0] is not None)],
        }
    evaluated = metrics.get("evaluated_at")
    return {
        "rows": rows,
        "baseline_f1": _number(_at(metrics, "baselines", BASELINE, "gold", "macro_f1")),
        "behaviour": suite,
        "evaluated": utc(evaluated) if isinstance(evaluated, str) else None,
    }


def dashboard_data(runtime: Runtime, jobs: dict[str, Any]) -> dict[str, Any]:
    """Everything the dashboard shows, as plain JSON-able data; `jobs` is the jobs panel's figures
    (the `jobs_overview` dependency: the whole deployment's, from Redis)."""
    classifier, batcher = runtime.classifier, runtime.batcher
    model = None
    if classifier is not None:
        model = {
            "name": classifier.name,
            "version": classifier.version,
            "backend": classifier.backend,
            "load_s": runtime.model_load_s,
            "card": model_card(classifier.metrics),
        }
    return {
        "now": time.time(),
        "jobs": jobs,
        "label_names": list(LABELS),
        "phase": runtime.phase,
        "uptime_s": time.time() - runtime.started_at,
        "model": model,
        "queue": {"depth": batcher.queue_depth if batcher else 0, "capacity": runtime.settings.queue_size},
        "cache_status": runtime.cache.status() if runtime.cache is not None else None,
        **WINDOW.snapshot(),
    }


@get("/login")
async def login_page(request: Request[Any, Any, Any]) -> Response[Any]:
    if await _logged_in(request):
        return Redirect("/admin", status_code=303)
    return Template("admin_login.html", context={"error": None})


def login_limiter(settings: Settings, redis: RedisHandle | None = None) -> RateLimiter | None:
    """The per-address limit on login attempts (None when DIALOGIC_ADMIN_LOGIN_LIMIT is 0), counted in
    `redis`, as the API's is, so that replicas share the count."""
    if settings.admin_login_limit <= 0:
        return None
    return RateLimiter(
        settings.admin_login_limit,
        f"{settings.cache_prefix}:admin-login",
        window_s=LOGIN_WINDOW_S,
        redis=redis,
    )


def login_handler(admin_key: str, limiter: RateLimiter | None) -> HTTPRouteHandler:
    """POST /admin/login, closed over the key so the key lives nowhere else.

    Every attempt counts against the address's limit before the key is compared, a successful one too:
    counting failures only would mean checking before and counting after, and guesses sent in parallel
    would all pass the check. The count comes first of all, in a before_request hook, before the body
    is read: an address over the limit costs no parsing, and no body may be larger than LOGIN_BODY_BYTES
    (413), so none costs much."""
    expected = admin_key.encode()

    async def count_attempt(request: Request[Any, Any, Any]) -> None:
        if limiter is None:
            return
        decision = await limiter.hit(f"ip:{client_ip(request)}")
        if not decision.allowed:
            log.warning("admin login refused", extra={"event": "admin_login", "ok": False, "limited": True})
            raise TOO_MANY_REQUESTS.exception(
                f"More than {decision.limit} login attempts from this address in "
                f"{LOGIN_WINDOW_S // 60} minutes; retry in {decision.reset_s} s.",
                headers=decision.headers(),
            )

    @post("/login", status_code=303, before_request=count_attempt, request_max_body_size=LOGIN_BODY_BYTES)
    async def login(
        request: Request[Any, Any, Any],
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        if not hmac.compare_digest(data.key.encode(), expected):
            log.warning("admin login refused", extra={"event": "admin_login", "ok": False})
            return Template("admin_login.html", context={"error": "That key is not valid."}, status_code=401)
        request.set_session(_sessions(request).start())
        log.info("admin login", extra={"event": "admin_login", "ok": True})
        return Redirect("/admin", status_code=303)

    return login


@post("/logout", status_code=303)
async def logout(request: Request[Any, Any, Any], data: Form) -> Response[Any]:
    _check_csrf(request, data)
    await _sessions(request).end(request.session)
    request.clear_session()
    log.info("admin logout", extra={"event": "admin_logout"})
    return Redirect("/admin/login", status_code=303)


Overview = NamedDependency[dict[str, Any]]


@get("/", guards=[_page_guard])
async def dashboard(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    jobs_overview: Overview,
    flushed: FromQuery[int | None] = None,
) -> Template:
    return Template(
        "admin_dashboard.html",
        context={
            "d": dashboard_data(runtime, jobs_overview),
            "csrf": request.session["csrf"],
            "flushed": flushed,
            "poll_ms": POLL_MS,
        },
    )


@get("/panel", guards=[_api_guard])
async def panel(runtime: NamedDependency[Runtime], jobs_overview: Overview) -> Template:
    """The live part of the dashboard, re-fetched by admin.js."""
    return Template("admin_panel.html", context={"d": dashboard_data(runtime, jobs_overview)})


@get("/api/stats", guards=[_api_guard])
async def stats(runtime: NamedDependency[Runtime], jobs_overview: Overview) -> dict[str, Any]:
    return dashboard_data(runtime, jobs_overview)


@get("/flush", guards=[_page_guard])
async def flush_confirm(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Template:
    """The confirmation step: flushing costs every replica a cold cache, so it takes a second click."""
    status = runtime.cache.status() if runtime.cache is not None else None
    return Template("admin_flush.html", context={"cache": status, "csrf": request.session["csrf"]})


@post("/flush", guards=[_page_guard], status_code=303)
async def flush(
    request: Request[Any, Any, Any], data: Form, runtime: NamedDependency[Runtime]
) -> Response[Any]:
    _check_csrf(request, data)
    if runtime.cache is None:
        raise NOT_READY.exception(f"The service is {runtime.phase}.")
    removed = await runtime.cache.flush()
    log.warning("cache flushed from the admin dashboard", extra={"event": "cache_flush", "removed": removed})
    return Redirect(f"/admin?flushed={removed}", status_code=303)


def admin_sessions(settings: Settings, redis: RedisHandle | None = None) -> Sessions:
    """The admin sessions' server side, ended sessions shared through `redis` as the limits' counts are."""
    return Sessions(settings.admin_session_s, settings.cache_prefix, redis=redis)


def secret_bits(secret: str) -> float:
    """At most how many bits of randomness `secret` holds: its length times the bits a character of the
    smallest usual alphabet it fits in carries (hex 4, base64 6, printable ASCII 6.6; else 8 a byte).
    Fewer than ten different characters (a word, a repeat) count as none."""
    chars = set(secret)
    if len(chars) < 10:
        return 0.0
    for alphabet in _ALPHABETS:
        if chars <= alphabet:
            return len(secret) * math.log2(len(alphabet))
    return 8.0 * len(secret.encode())


def admin_router(settings: Settings, limiter: RateLimiter | None, sessions: Sessions | None = None) -> Router:
    """The /admin routes with their session cookie; random key and secret (and a warning) when unset,
    and a ValueError for a secret too weak to sign sessions with. `limiter` (see `login_limiter`) limits
    login attempts (None: unlimited); `sessions` (see `admin_sessions`; None: a new one, in process)."""
    admin_key = settings.admin_key
    if not admin_key:
        admin_key = secrets.token_urlsafe(32)
        log.warning(
            "DIALOGIC_ADMIN_KEY is unset: /admin uses a random key that is never shown, so the "
            "dashboard is effectively disabled; set DIALOGIC_ADMIN_KEY to enable it",
            extra={"event": "admin_key"},
        )
    if settings.session_secret:
        if (bits := secret_bits(settings.session_secret)) < MIN_SECRET_BITS:
            raise ValueError(
                f"DIALOGIC_SESSION_SECRET holds at most {bits:.0f} bits of randomness; admin sessions need "
                f"{MIN_SECRET_BITS} (32 random bytes): python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'"
            )
        secret = hashlib.sha256(settings.session_secret.encode()).digest()
    else:
        secret = secrets.token_bytes(32)
        log.info(
            "DIALOGIC_SESSION_SECRET is unset: admin sessions last until this process restarts and "
            "are not shared between workers",
            extra={"event": "session_secret"},
        )
    session = CookieBackendConfig(
        secret=secret,
        key=SESSION_COOKIE,
        path="/admin",
        max_age=settings.admin_session_s,  # the cookie never outlives the session
        httponly=True,
        samesite="strict",
    )
    recorder.listen(WINDOW)  # the dashboard's figures are read from the serving events, in this process
    return Router(
        path="/admin",
        route_handlers=[
            login_page,
            login_handler(admin_key, limiter),
            logout,
            dashboard,
            panel,
            stats,
            flush_confirm,
            flush,
        ],
        middleware=[DefineMiddleware(SessionMiddleware, backend=CookieSessionBackend(config=session))],
        exception_handlers={LoginRequired: _to_login},
        opt={SESSIONS_OPT: sessions or admin_sessions(settings)},
        include_in_schema=False,
    )
