"""Authentication and authorisation of API requests.

A request is authenticated by, in order:

1. ``Authorization: Bearer <jwt>`` — an access token from ``POST /api/v1/auth/token`` (OAuth2
   password flow);
2. ``Authorization: Bearer bk_...`` or ``X-API-Key: bk_...`` — an API key;
3. the dashboard's signed session cookie (:data:`SESSION_COOKIE`). Unsafe methods (POST, PUT,
   PATCH, DELETE) authenticated by cookie must also send the session's CSRF token in
   ``X-CSRF-Token``.

No credentials → 401; a credential that lacks an endpoint's scope → 403. Each request sees
only its principal's organisation (every query and command is scoped by ``org_id``), so another
tenant's ids answer 404, never their data. Drivers and carriers (and keys bound to one) see
only their own routes and the orders on them (403 otherwise).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from itsdangerous import BadSignature, URLSafeTimedSerializer

from baton.domain.fleet import Vehicle
from baton.domain.plan import Route
from baton.entrypoints.api.access import SCOPES, Principal, role_scopes
from baton.entrypoints.api.accounts import User
from baton.entrypoints.api.context import ApiContext
from baton.entrypoints.api.errors import ApiProblem, forbidden, unauthenticated
from baton.entrypoints.api.security import InvalidToken, api_key_matches, api_key_prefix

SESSION_COOKIE = "baton_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", scopes=SCOPES, auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)


def context(request: Request) -> ApiContext:
    """The process's :class:`ApiContext` (``app.state.ctx``)."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _serializer(ctx: ApiContext) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx.secret, salt="baton-session")


def new_session_cookie(ctx: ApiContext, user: User) -> tuple[str, str]:
    """A signed session value for ``user`` and its CSRF token: ``(cookie value, csrf token)``."""
    csrf = secrets.token_urlsafe(24)
    return _serializer(ctx).dumps({"uid": user.id, "org": user.org_id, "csrf": csrf}), csrf


def read_session(ctx: ApiContext, value: str | None) -> dict[str, Any] | None:
    """The session in a cookie value, ``None`` when absent, forged or older than the token lifetime."""
    if not value:
        return None
    try:
        data = _serializer(ctx).loads(value, max_age=ctx.settings.token_ttl_s)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and {"uid", "org", "csrf"} <= data.keys() else None


def user_principal(ctx: ApiContext, user: User) -> Principal:
    return Principal(kind="user", id=user.id, org_id=user.org_id,
                     scopes=role_scopes(user.role, user.org_id, ctx.settings.operator_org), role=user.role,
                     name=user.name, email=user.email, driver_id=user.driver_id, carrier_id=user.carrier_id)


def _active_user(ctx: ApiContext, user_id: str, org_id: str) -> User:
    user = ctx.accounts.user_by_id(user_id)
    if user is None or not user.active or user.org_id != org_id:
        raise unauthenticated("the credentials belong to no active user")
    return user


def _from_api_key(ctx: ApiContext, key: str) -> Principal:
    prefix = api_key_prefix(key)
    stored = ctx.accounts.api_key_by_prefix(prefix) if prefix else None
    if stored is None or not api_key_matches(key, stored.key_hash) or not stored.usable(datetime.now(UTC)):
        raise unauthenticated("invalid, revoked or expired API key")
    return Principal(kind="api_key", id=stored.id, org_id=stored.org_id, scopes=frozenset(stored.scopes),
                     name=stored.name, driver_id=stored.driver_id, carrier_id=stored.carrier_id)


def authenticate(
    request: Request,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """The caller of ``request``.

    Raises:
        ApiProblem: 401 without valid credentials; 403 for a cookie-authenticated unsafe request
            without the session's CSRF token.
    """
    ctx = context(request)
    if bearer:
        if bearer.startswith("bk_"):
            return _from_api_key(ctx, bearer)
        try:
            claims = ctx.tokens.verify(bearer)
        except InvalidToken as exc:
            raise unauthenticated(str(exc)) from None
        return user_principal(ctx, _active_user(ctx, claims.user_id, claims.org_id))
    if api_key:
        return _from_api_key(ctx, api_key)
    session = read_session(ctx, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise unauthenticated()
    if request.method not in _SAFE_METHODS and not secrets.compare_digest(
            request.headers.get(CSRF_HEADER, ""), str(session["csrf"])):
        raise forbidden(f"a session-cookie request must send the session's {CSRF_HEADER} header")
    return user_principal(ctx, _active_user(ctx, str(session["uid"]), str(session["org"])))


def require(*scopes: str) -> Callable[..., Principal]:
    """A dependency: the authenticated principal, when it holds every one of ``scopes`` (403 otherwise)."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s): {unknown}")

    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        missing = principal.missing(list(scopes))
        if missing:
            who = f"role {principal.role}" if principal.role else "this API key"
            raise forbidden(f"{who} lacks the scope(s) {', '.join(missing)}")
        return principal

    dependency.required_scopes = scopes  # type: ignore[attr-defined]
    return dependency


def check_route_access(principal: Principal, route: Route, vehicles: dict[str, Vehicle]) -> None:
    """Refuse a restricted principal (driver, carrier) a route that is not theirs.

    Raises:
        ApiProblem: 403 when the route is driven by another driver or run by another carrier.
    """
    if not principal.restricted:
        return
    if principal.driver_id is not None and route.driver_id == principal.driver_id:
        return
    vehicle = vehicles.get(route.vehicle_id)
    if principal.carrier_id is not None and vehicle is not None and vehicle.carrier_id == principal.carrier_id:
        return
    raise forbidden(f"route {route.id} is not assigned to you")


def refuse_restricted(principal: Principal, what: str) -> None:
    """Drivers and carriers may not list ``what`` across the organisation (403)."""
    if principal.restricted:
        raise ApiProblem(403, "forbidden", f"{what}: not available to driver or carrier credentials")
