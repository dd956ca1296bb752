"""``Idempotency-Key`` on create requests: a retried request gets the first answer, not a second effect.

The first request with a key (per organisation and principal) records ``pending``, runs, then
stores its status and body (``done``). A repeat with the same method, path and body replays
the stored answer (with ``Idempotent-Replayed: true``); a repeat with a different request is
refused with 422 naming ``Idempotency-Key``; a repeat while the first is still running gets 409.
When the first request fails, its record is removed so that the client can retry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from baton.adapters import orm_auth
from baton.adapters.orm import utcnow
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.context import ApiContext
from baton.entrypoints.api.errors import ApiProblem, FieldError
from baton.entrypoints.api.security import request_fingerprint

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def run_idempotent(
    ctx: ApiContext, principal: Principal, key: str | None, method: str, path: str, body: Any,
    fn: Callable[[], tuple[int, Any, dict[str, str]]],
) -> JSONResponse:
    """Run ``fn`` (returning ``(status, json body, headers)``) at most once per ``key``.

    Raises:
        ApiProblem: 422 for a key that is too long or reused with another request; 409 while the
            first request with the key is still running. Whatever ``fn`` raises (then nothing is stored).
    """
    if key is None:
        status, content, headers = fn()
        return JSONResponse(content, status_code=status, headers=headers)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiProblem(422, "validation-error", f"{HEADER}: must be 1-{MAX_KEY_LENGTH} characters",
                         [FieldError(HEADER, f"must be 1-{MAX_KEY_LENGTH} characters", ("header", HEADER))])
    t = orm_auth.idempotency_keys
    who = f"{principal.kind}:{principal.id}"
    fingerprint = request_fingerprint(ctx.secret, method, path, body)
    ident = (t.c.org_id == principal.org_id) & (t.c.principal == who) & (t.c.key == key)
    try:
        with ctx.sessions.begin() as s:
            s.execute(insert(t).values(org_id=principal.org_id, principal=who, key=key, method=method, path=path,
                                       request_hash=fingerprint, state="pending", created_at=utcnow()))
    except IntegrityError:
        with ctx.sessions() as s:
            row = s.execute(select(t).where(ident)).first()
        if row is None:  # removed after a failure in between: run again
            return run_idempotent(ctx, principal, key, method, path, body, fn)
        if row.request_hash != fingerprint:
            message = "was already used with a different request"
            raise ApiProblem(422, "idempotency-key-reused", f"{HEADER}: {message}",
                             [FieldError(HEADER, message, ("header", HEADER))]) from None
        if row.state != "done":
            raise ApiProblem(409, "request-in-progress", f"a request with this {HEADER} is still running") from None
        headers = dict(row.response_headers or {}) | {"Idempotent-Replayed": "true"}
        return JSONResponse(row.response_body, status_code=row.status_code or 200, headers=headers)
    try:
        status, content, headers = fn()
    except BaseException:
        with ctx.sessions.begin() as s:
            s.execute(delete(t).where(ident))
        raise
    with ctx.sessions.begin() as s:
        s.execute(update(t).where(ident).values(state="done", status_code=status, response_body=content,
                                                response_headers=headers, completed_at=utcnow()))
    return JSONResponse(content, status_code=status, headers=headers)
