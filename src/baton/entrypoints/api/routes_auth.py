"""``/api/v1/auth`` (OAuth2 password flow, who am I) and ``/api/v1/users``, ``/api/v1/api-keys`` (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.accounts import AccountConflict, AccountError, ApiKey, User
from baton.entrypoints.api.auth import authenticate, context, require
from baton.entrypoints.api.errors import ApiProblem, FieldError, invalid, not_found
from baton.entrypoints.api.schemas import ApiKeyIn, UserIn, iso
from baton.entrypoints.api.security import verify_password

router = APIRouter(tags=["access"])
Admin = Annotated[Principal, Depends(require("admin"))]


@router.post("/auth/token", summary="Log in: OAuth2 password flow, answers a bearer JWT")
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
    """``username`` is the e-mail. Answers ``{access_token, token_type: "bearer", expires_in (s)}``;
    400 ``invalid_grant`` on a wrong e-mail or password (the same answer for both)."""
    ctx = context(request)
    user = ctx.accounts.user_by_email(form.username)
    ok = verify_password(user.password_hash if user else None, form.password)
    if user is None or not ok or not user.active:
        raise ApiProblem(400, "invalid-grant", "wrong e-mail or password",
                         [FieldError("password", "wrong e-mail or password", ("form", "password"))],
                         extra={"error": "invalid_grant"})
    return {"access_token": ctx.tokens.issue(user.id, user.org_id, user.role), "token_type": "bearer",
            "expires_in": ctx.tokens.ttl_s}


@router.get("/auth/me", summary="Who the credentials belong to")
def me(principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    return {"kind": principal.kind, "id": principal.id, "org_id": principal.org_id, "role": principal.role,
            "email": principal.email, "name": principal.name, "scopes": sorted(principal.scopes),
            "driver_id": principal.driver_id, "carrier_id": principal.carrier_id}


def user_out(u: User) -> dict[str, Any]:
    return {"id": u.id, "org_id": u.org_id, "email": u.email, "name": u.name, "role": u.role,
            "driver_id": u.driver_id, "carrier_id": u.carrier_id, "active": u.active,
            "created_at": u.created_at.isoformat()}


def key_out(k: ApiKey) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes), "driver_id": k.driver_id,
            "carrier_id": k.carrier_id, "created_by": k.created_by, "created_at": k.created_at.isoformat(),
            "expires_at": iso(k.expires_at), "revoked_at": iso(k.revoked_at)}


def _account_problem(exc: AccountError) -> ApiProblem:
    status = 409 if isinstance(exc, AccountConflict) else 422
    problem = invalid(exc.field, exc.message, ("body", exc.field))
    problem.status = status
    return problem


@router.get("/users", summary="Users of the organisation")
def list_users(request: Request, principal: Admin) -> list[dict[str, Any]]:
    return [user_out(u) for u in context(request).accounts.list_users(principal.org_id)]


@router.post("/users", status_code=201, summary="Add a user to the organisation")
def create_user(request: Request, body: UserIn, principal: Admin) -> dict[str, Any]:
    try:
        user = context(request).accounts.create_user(principal.org_id, body.email, body.password, body.role,
                                                     name=body.name, driver_id=body.driver_id,
                                                     carrier_id=body.carrier_id)
    except AccountError as exc:
        raise _account_problem(exc) from None
    return user_out(user)


@router.post("/users/{user_id}/deactivate", summary="Stop a user from logging in")
def deactivate_user(request: Request, user_id: str, principal: Admin) -> dict[str, Any]:
    if not context(request).accounts.deactivate_user(principal.org_id, user_id):
        raise not_found(f"unknown user id: {user_id}")
    return {"id": user_id, "active": False}


@router.get("/api-keys", summary="API keys of the organisation (never the keys themselves)")
def list_keys(request: Request, principal: Admin) -> list[dict[str, Any]]:
    return [key_out(k) for k in context(request).accounts.list_api_keys(principal.org_id)]


@router.post("/api-keys", status_code=201, summary="Create an API key (shown once)")
def create_key(request: Request, body: ApiKeyIn, principal: Admin) -> dict[str, Any]:
    try:
        stored, key = context(request).accounts.create_api_key(
            principal.org_id, body.name, body.scopes, created_by=principal.actor, driver_id=body.driver_id,
            carrier_id=body.carrier_id, expires_at=body.expires_at)
    except AccountError as exc:
        raise _account_problem(exc) from None
    return key_out(stored) | {"key": key}


@router.delete("/api-keys/{key_id}", summary="Revoke an API key")
def revoke_key(request: Request, key_id: str, principal: Admin) -> dict[str, Any]:
    if not context(request).accounts.revoke_api_key(principal.org_id, key_id):
        raise not_found(f"unknown API key id: {key_id}")
    return {"id": key_id, "revoked": True}
