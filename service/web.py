"""What the service serves besides the API: a front page (GET /) that links everything else, /metrics,
the admin dashboard, its static files, and an OpenAPI UI whose assets come from this app rather than a
CDN (so /schema works offline).

`WebPlugin` adds it all in one line of `create_app`. Swagger UI is vendored from npm's swagger-ui-dist
5.x into service/static (see service/static/README.md): the PyPI swagger-ui-bundle ships 4.x, which
cannot render OpenAPI 3.1, the version Litestar writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.config.app import AppConfig
from litestar.di import NamedDependency
from litestar.file_system import BaseLocalFileSystem
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusController
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import FileInfo, PathType
from msgspec import Struct

from service.api.admin import admin_router, security_headers
from service.api.view_helpers import TEMPLATE_HELPERS
from service.metrics import release_process
from service.ratelimit import RateLimiter
from service.runtime import Runtime
from service.sessions import Sessions
from service.settings import Settings

HERE = Path(__file__).parent
STATIC_URL = "/static"


class Link(Struct):
    title: str
    href: str
    what: str


LINKS = [
    Link("API docs", "/schema/swagger", "every endpoint, with examples to try (Swagger UI)"),
    Link("OpenAPI document", "/schema/openapi.json", "for client generators"),
    Link("Readiness", "/health/ready", "model, cache, job store and workers"),
    Link("Liveness", "/health/live", "the process answers"),
    Link("Model", "/v1/model", "name, version, labels and evaluation metrics"),
    Link("Admin dashboard", "/admin", "live figures, jobs and workers (DIALOGIC_ADMIN_KEY)"),
    Link("Metrics", "/metrics", "Prometheus text"),
]


@get("/", include_in_schema=False, cache_control=None)
async def index(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
    """The front page: HTML for a browser, the same links as JSON for anything that asks for JSON."""
    classifier = runtime.classifier
    model = f"{classifier.name} {classifier.version}" if classifier is not None else None
    if request.accept.best_match([MediaType.HTML, MediaType.JSON], default=MediaType.HTML) == MediaType.JSON:
        return Response({"name": "dialogic", "model": model, "phase": runtime.phase, "links": LINKS})
    base = str(request.base_url).rstrip("/")
    context = {"links": LINKS, "model": model, "phase": runtime.phase, "base": base}
    return Template("index.html", context=context)


class StaticFiles(BaseLocalFileSystem):
    """The local file system, except that a name no file can have (a NUL byte, which the OS layer
    refuses with ValueError) is simply not found: a 404, not a 500 with a traceback."""

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        try:
            return await super().info(path, **kwargs)
        except ValueError as exc:
            raise FileNotFoundError(path) from exc


class MetricsController(PrometheusController):
    """Prometheus text format; with PROMETHEUS_MULTIPROC_DIR set it sums all worker processes."""

    path = "/metrics"
    include_in_schema = False


def swagger_ui() -> SwaggerRenderPlugin:
    """Swagger UI at /schema and /schema/swagger, every asset from /static."""
    return SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
        css_url=f"{STATIC_URL}/swagger-ui.css",
        standalone_preset_js_url=f"{STATIC_URL}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/svg+xml' href='{STATIC_URL}/favicon.svg'>",
    )


def _add_helpers(engine: JinjaTemplateEngine) -> None:
    engine.engine.globals.update(TEMPLATE_HELPERS)


class WebPlugin(InitPluginProtocol):
    """`login_limiter`: the admin login limit (`service.api.admin.login_limiter`), None for none;
    `sessions`: the admin sessions' server side (`service.api.admin.admin_sessions`)."""

    def __init__(
        self, settings: Settings, login_limiter: RateLimiter | None, sessions: Sessions | None = None
    ) -> None:
        self.settings, self.login_limiter, self.sessions = settings, login_limiter, sessions

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(
            [
                index,
                MetricsController,
                admin_router(self.settings, self.login_limiter, self.sessions),
                create_static_files_router(
                    STATIC_URL,
                    directories=[HERE / "static"],
                    file_system=StaticFiles(),
                    include_in_schema=False,
                ),
            ]
        )
        app_config.template_config = TemplateConfig(
            directory=HERE / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=_add_helpers,
        )
        app_config.before_send.append(security_headers)
        app_config.on_shutdown.append(release_process)
        return app_config
