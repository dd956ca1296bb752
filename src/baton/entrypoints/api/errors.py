"""Errors as ``application/problem+json`` (RFC 9457), one shape for every failure.

Every error body is ``{"type", "title", "status", "detail", "errors": [{"field", "message",
"loc"}]}``; ``errors`` names each field at fault (``time_windows[0].end``, ``limit``,
``If-Match``) with ``loc``, the path to it (``["body", "time_windows", 0, "end"]``), and is
empty when no particular field is. ``type`` is ``urn:baton:problem:<slug>``.

Domain exceptions map to statuses here, so routers let them propagate: ``NotFound`` → 404,
``IllegalTransition``/``ConcurrencyError``/other domain refusals/duplicate ids → 409, domain
``ValidationError``/``PlanningError`` → 422, ``TravelTimeError`` → 503, anything else → 500
without details.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from baton.adapters.travel.base import TravelTimeError
from baton.domain.errors import DomainError, IllegalTransition, NotFound, ValidationError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Sent with every 401, as RFC 6750 asks.
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="baton"'}


@dataclass(frozen=True)
class FieldError:
    """One field at fault: its dotted/indexed ``field`` name, a ``message`` and its ``loc`` path."""

    field: str
    message: str
    loc: tuple[str | int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "loc": list(self.loc or (self.field,))}


@dataclass(eq=False)
class ApiProblem(Exception):
    """Raise to answer with a problem document: ``status`` (HTTP code), ``slug`` (type), ``detail``.

    ``extra`` members are added to the body (e.g. ``{"error": "invalid_grant"}``).
    """

    status: int
    slug: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)


def unauthenticated(detail: str = "authentication required: send a bearer token or an API key") -> ApiProblem:
    """A 401 problem with ``WWW-Authenticate``."""
    return ApiProblem(401, "unauthenticated", detail, headers=dict(WWW_AUTHENTICATE))


def forbidden(detail: str) -> ApiProblem:
    return ApiProblem(403, "forbidden", detail)


def not_found(detail: str) -> ApiProblem:
    return ApiProblem(404, "not-found", detail)


def invalid(field_name: str, message: str, loc: Sequence[str | int] = ()) -> ApiProblem:
    """A 422 problem about one field (``loc`` defaults to ``[field_name]``)."""
    return ApiProblem(422, "validation-error", f"{field_name}: {message}",
                      [FieldError(field_name, message, tuple(loc) or (field_name,))])


def problem_response(
    status: int,
    slug: str,
    detail: str,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """The ``application/problem+json`` response for these facts."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": f"urn:baton:problem:{slug}", "title": title, "status": status,
                            "detail": detail, "errors": [e.to_dict() for e in errors]}
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


def field_name(loc: Sequence[str | int]) -> str:
    """``("body", "time_windows", 0, "end")`` → ``time_windows[0].end``; the source part is dropped."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        source = parts.pop(0)
        if source == "header" and parts:
            parts[0] = "-".join(p.capitalize() for p in str(parts[0]).split("-"))
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(body)"


def describe(error: Mapping[str, Any]) -> str:
    """A one-line message for a pydantic error, without pydantic's ``Value error,`` prefix."""
    kind = error.get("type")
    if kind == "missing":
        return "is required"
    ctx = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    message = str(error.get("msg", "is invalid")).replace("Input should be", "must be", 1)
    message = message[:1].lower() + message[1:]
    return f"{message}, got {error['input']!r}" if "input" in error and kind != "json_invalid" else message


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> JSONResponse:
    """The 422 response for pydantic/FastAPI validation errors, one entry per field."""
    fields = [FieldError(field_name(e.get("loc", ())), describe(e), tuple(e.get("loc", ()))) for e in errors]
    detail = "; ".join(f"{f.field}: {f.message}" for f in fields[:5]) or "the request is invalid"
    if len(fields) > 5:
        detail += f" (and {len(fields) - 5} more)"
    return problem_response(422, "validation-error", detail, fields)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc.status, exc.slug, exc.detail, exc.errors, exc.headers, exc.extra)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return validation_problem(list(exc.errors()))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slugs = {401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed"}
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE["WWW-Authenticate"])
    return problem_response(exc.status_code, slugs.get(exc.status_code, "http-error"), str(exc.detail),
                            headers=headers)


async def _on_domain(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, NotFound):
        return problem_response(404, "not-found", str(exc).strip("'\""))
    if isinstance(exc, IllegalTransition):
        return problem_response(409, "illegal-transition", str(exc),
                                extra={"from_status": exc.from_status, "to_status": exc.to_status})
    if isinstance(exc, ValidationError | ValueError):  # domain ValidationError, PlanningError
        return problem_response(422, "validation-error", str(exc))
    return problem_response(409, "conflict", str(exc))


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(409, "conflict", "the request conflicts with stored data (an id already exists?)")


async def _on_travel(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(503, "travel-times-unavailable", f"travel times unavailable: {exc}")


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "internal-error", "an unexpected error occurred; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem document (see the module docstring)."""
    app.add_exception_handler(ApiProblem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(DomainError, _on_domain)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(TravelTimeError, _on_travel)
    app.add_exception_handler(Exception, _on_unexpected)
