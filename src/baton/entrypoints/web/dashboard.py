"""The control-tower dashboard: login page, signed-cookie session, the page and its static assets.

Server-rendered (Jinja2) shell plus a small vanilla-JS client (``static/dashboard.js``) that reads
``GET /api/v1/dashboard`` and listens to ``GET /api/v1/stream`` (SSE), refreshing the map, tables
and tiles as events arrive. Actions (exception reattempt/reassign) are API calls carrying the
session's CSRF token. Leaflet is served from ``static/leaflet`` (see ``static/README.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from baton import __version__
from baton.entrypoints.api.auth import SESSION_COOKIE, context, new_session_cookie, read_session
from baton.entrypoints.api.security import verify_password

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def dashboard_page(request: Request) -> Response:
    """The dashboard for a logged-in user; otherwise a redirect (303) to ``/login``."""
    ctx = context(request)
    session = read_session(ctx, request.cookies.get(SESSION_COOKIE))
    user = ctx.accounts.user_by_id(str(session["uid"])) if session else None
    if session is None or user is None or not user.active:
        return RedirectResponse("/login", status_code=303)
    return templates.TemplateResponse(request, "dashboard.html", {
        "user": user, "csrf": session["csrf"], "tiles_url": ctx.settings.tiles_url or "", "version": __version__,
    })


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": None, "email": ""})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, email: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
    """Check the e-mail and password; on success set the session cookie and go to ``/``."""
    ctx = context(request)
    user = ctx.accounts.user_by_email(email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return templates.TemplateResponse(request, "login.html",
                                          {"error": "Wrong e-mail or password.", "email": email}, status_code=401)
    value, _csrf = new_session_cookie(ctx, user)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, value, max_age=ctx.settings.token_ttl_s, httponly=True, samesite="lax",
                        secure=ctx.settings.secure_cookies, path="/")
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def mount(app: FastAPI) -> None:
    """Add the dashboard's pages and ``/static`` to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
