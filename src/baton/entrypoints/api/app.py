"""The FastAPI application: the HTTP API under ``/api/v1`` and the live dashboard at ``/``.

``create_app()`` builds everything from settings (see :class:`ApiSettings`); ``baton serve``
runs it with uvicorn (``baton.entrypoints.api.app:create_app`` with ``factory=True``).

* OpenAPI document: ``/api/v1/openapi.json``; interactive docs: ``/api/v1/docs``.
* Every write goes through the service layer's message bus (commands → handlers → unit of
  work), scoped to the caller's organisation; committed events fan out to live dashboards.
* Errors are ``application/problem+json`` (:mod:`baton.entrypoints.api.errors`).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from baton import __version__
from baton.adapters.travel.base import TravelTimeProvider
from baton.entrypoints.api import (
    features,
    routes_auth,
    routes_fleet,
    routes_live,
    routes_ops,
    routes_orders,
    routes_plans,
)
from baton.entrypoints.api.context import ApiContext, ApiSettings
from baton.entrypoints.api.errors import install_error_handlers

API_PREFIX = "/api/v1"

#: Routers of other feature areas, included when their module exists (``module:attribute``).
#: The customer tracking page lives in ``baton.entrypoints.web.tracking`` (its ``router``).
EXTRA_ROUTERS: tuple[str, ...] = ("baton.entrypoints.web.tracking:router", "baton.entrypoints.web.driver:router")


def _optional_router(spec: str) -> APIRouter | None:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    router: APIRouter = getattr(module, attr)
    return router


def create_app(
    database_url: str | None = None,
    *,
    secret_key: str | None = None,
    redis_url: str | None = None,
    tiles_url: str | None = None,
    operator_org: str | None = None,
    ingest_process: bool | None = None,
    travel: TravelTimeProvider | None = None,
    settings: ApiSettings | None = None,
) -> FastAPI:
    """Build the application on a migrated database.

    Arguments override the ``BATON_*`` environment (``BATON_DATABASE_URL``, ``BATON_SECRET_KEY``,
    ``BATON_REDIS_URL``, ``BATON_TILES_URL``, ``BATON_INGEST_PROCESS``); ``settings`` replaces both.

    Raises:
        baton.entrypoints.api.security.InsecureConfiguration: in production without ``BATON_SECRET_KEY``.
        sqlalchemy.exc.SQLAlchemyError: when the database cannot be reached or migrated.
    """
    settings = settings or ApiSettings.from_env(database_url=database_url, secret_key=secret_key,
                                                redis_url=redis_url, tiles_url=tiles_url,
                                                operator_org=operator_org, ingest_process=ingest_process)
    ctx = ApiContext.build(settings, travel)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        features.start_features(app)
        yield
        features.stop_features(app)
        ctx.close()

    app = FastAPI(
        title="Baton API", version=__version__, lifespan=lifespan,
        description="Last-mile delivery orchestration: orders, fleet, plans, dispatch, execution, KPIs. "
                    "Authenticate with `POST /api/v1/auth/token` (OAuth2 password flow) or an API key "
                    "(`X-API-Key`). Errors are `application/problem+json` naming the field at fault.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.ctx = ctx
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    for module in (routes_auth, routes_orders, routes_fleet, routes_plans, routes_live, routes_ops):
        api.include_router(module.router)

    @api.get("/health", tags=["operations"], summary="Liveness and database check (no authentication)")
    def health() -> dict[str, Any]:
        from sqlalchemy import text

        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    app.include_router(api)

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI served from the package's static folder (no CDN)."""
        return get_swagger_ui_html(openapi_url=f"{API_PREFIX}/openapi.json", title="Baton API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
                                   oauth2_redirect_url=None)

    from baton.entrypoints.web import dashboard

    dashboard.mount(app)

    # --- routers of other feature areas (customer tracking page, ...) are included here ---
    for spec in EXTRA_ROUTERS:
        router = _optional_router(spec)
        if router is not None:
            app.include_router(router)
    from baton.entrypoints.web.tracking import configure_tracking

    configure_tracking(app, ctx.sessions, travel)  # tracking pages share the API's database
    features.mount_execution(app, ctx, API_PREFIX)
    features.mount_driver(app, ctx, API_PREFIX)
    features.mount_dispatch(app, ctx, API_PREFIX)
    return app
