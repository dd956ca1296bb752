"""Routers of other feature areas, mounted under ``/api/v1`` behind the API's authentication.

* ``/api/v1/execution/...``: GPS ping ingestion, positions, ETAs and exceptions
  (:mod:`baton.entrypoints.api_execute`). Reads need the ``routes:read`` scope, writes
  ``execution:write``; drivers and carriers may only post positions. The execution runtime
  (ETA refresher, exception monitor) runs over one message bus, that of the operator
  organisation (``ApiSettings.operator_org``); until it is
  made per-tenant, credentials of any other organisation get 403 there, never data.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import authenticate
from baton.entrypoints.api.context import ApiContext
from baton.entrypoints.api.errors import forbidden


def _operator_access(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """The caller, when it may use a single-tenant feature router (403 otherwise)."""
    needed = "routes:read" if request.method in ("GET", "HEAD") else "execution:write"
    if principal.missing([needed]):
        raise forbidden(f"this credential lacks the scope {needed}")
    if principal.restricted and not (request.method == "POST" and request.url.path.endswith("/positions")):
        raise forbidden("drivers and carriers may only report positions here")
    ctx: ApiContext = request.app.state.ctx
    if principal.org_id != ctx.settings.operator_org:
        raise forbidden("this endpoint is available to the operator organisation only")
    return principal


def mount_execution(app: FastAPI, ctx: ApiContext, api_prefix: str) -> None:
    """Include the execution router under ``{api_prefix}/execution`` and attach its runtime
    (``app.state.execution``); the ETA refresher thread is started by :func:`start_features`."""
    from baton.entrypoints import api_execute
    from baton.execute.runtime import ExecutionRuntime
    from baton.execute.service import ExecutionService

    app.state.execution = ExecutionRuntime(ExecutionService(ctx.bus(ctx.settings.operator_org)))
    secured = APIRouter(prefix=f"{api_prefix}/execution", dependencies=[Depends(_operator_access)])
    secured.include_router(api_execute.router)
    app.include_router(secured)


def start_features(app: FastAPI) -> None:
    """Start the background workers of mounted feature routers (at application start-up)."""
    runtime = getattr(app.state, "execution", None)
    if runtime is not None:
        runtime.start()


def stop_features(app: FastAPI) -> None:
    """Stop what :func:`start_features` started (at shutdown)."""
    runtime = getattr(app.state, "execution", None)
    if runtime is not None:
        runtime.stop()
