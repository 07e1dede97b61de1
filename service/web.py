"""What the service serves besides the API: /metrics, the admin dashboard, its static files, and an
OpenAPI UI whose assets come from this app rather than a CDN (so /schema works offline).

`WebPlugin` adds it all in one line of `create_app`. Swagger UI is vendored from npm's swagger-ui-dist
5.x into service/static (see service/static/README.md): the PyPI swagger-ui-bundle ships 4.x, which
cannot render OpenAPI 3.1, the version Litestar writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.config.app import AppConfig
from litestar.file_system import BaseLocalFileSystem
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusController
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import FileInfo, PathType

from service.api.admin import TEMPLATE_HELPERS, admin_router, security_headers
from service.metrics import release_process
from service.ratelimit import RateLimiter
from service.sessions import Sessions
from service.settings import Settings

HERE = Path(__file__).parent
STATIC_URL = "/static"


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
