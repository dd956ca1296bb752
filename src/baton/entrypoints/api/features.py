"""Routers of other feature areas, mounted under ``/api/v1`` behind the API's authentication.

* ``/api/v1/execution/...``: GPS ping ingestion, positions, ETAs and exceptions
  (:mod:`baton.entrypoints.api_execute`). Reads need the ``routes:read`` scope, writes
  ``execution:write``; drivers and carriers may only post positions. Every organisation has its own
  execution runtime (ETA refresher, exception monitor) over its own message bus and unit of work,
  created on its first request (:class:`baton.execute.runtime.TenantRuntimes`): an organisation only
  ever sees its own positions, ETAs and exceptions.
* ``/api/v1/dispatch/...``: carriers, dispatch decisions and tenders, gig couriers' offers
  (:mod:`baton.entrypoints.api_dispatch`), per tenant, each endpoint with its own scopes; carriers'
  HMAC-signed webhooks in a sub-application at ``/api/v1/hooks/dispatch/{org_id}/...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request

from baton.domain.events import Event
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import authenticate
from baton.entrypoints.api.context import ApiContext
from baton.entrypoints.api.errors import forbidden


def _execution_access(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """The caller, when it may use the execution router (403 otherwise); its organisation chooses the
    execution runtime (``request.state.execution_org``)."""
    needed = "routes:read" if request.method in ("GET", "HEAD") else "execution:write"
    if principal.missing([needed]):
        raise forbidden(f"this credential lacks the scope {needed}")
    if principal.restricted and not (request.method == "POST" and request.url.path.endswith("/positions")):
        raise forbidden("drivers and carriers may only report positions here")
    request.state.execution_org = principal.org_id
    request.state.execution_vehicles = _own_vehicles(request, principal) if principal.restricted else None
    return principal


def _own_vehicles(request: Request, principal: Principal) -> frozenset[str]:
    """The vehicles a driver may report positions for: those of the routes assigned to them that are
    not completed (a carrier credential or a key bound to no driver gets none)."""
    if principal.driver_id is None:
        return frozenset()
    from sqlalchemy import select

    from baton.adapters import orm

    t = orm.routes
    with request.app.state.ctx.sessions() as session:
        rows = session.execute(select(t.c.vehicle_id).where(
            t.c.org_id == principal.org_id, t.c.driver_id == principal.driver_id,
            t.c.status != "completed")).scalars().all()
    return frozenset(rows)


def positions_message(pings: Sequence[Any], org_id: str) -> dict[str, Any] | None:
    """The live message for one accepted batch of GPS pings: the latest fix per vehicle, shaped like an
    event message (``name`` ``vehicle.positions``, ``payload.vehicles``: ``[{vehicle_id, lat, lng, ts,
    speed_mps, heading_deg}]``). ``None`` for an empty batch. Not stored as an event: the positions
    tables are the record; this only moves dashboard markers."""
    latest: dict[str, Any] = {}
    for p in pings:
        if p.vehicle_id not in latest or p.ts > latest[p.vehicle_id].ts:
            latest[p.vehicle_id] = p
    if not latest:
        return None
    newest = max(p.ts for p in latest.values())
    return {"name": "vehicle.positions", "aggregate_id": org_id, "occurred_at": newest.isoformat(),
            "actor": "system:gps", "payload": {"vehicles": [
                {"vehicle_id": v, "lat": p.lat, "lng": p.lng, "ts": p.ts.isoformat(), "speed_mps": p.speed_mps,
                 "heading_deg": p.heading_deg} for v, p in sorted(latest.items())]}}


def mount_execution(app: FastAPI, ctx: ApiContext, api_prefix: str) -> None:
    """Include the execution router under ``{api_prefix}/execution`` and attach one runtime per
    organisation (``app.state.execution``: a :class:`~baton.execute.runtime.TenantRuntimes`, each runtime
    over ``ctx.bus(org_id)``, created on the organisation's first request); the ETA refresher threads
    are started by :func:`start_features`. Each accepted batch of GPS pings is also published live on the
    organisation's channel (:func:`positions_message`)."""
    from baton.entrypoints import api_execute
    from baton.entrypoints.api.live_runtime import LiveRepair
    from baton.execute.pings import IngestResult
    from baton.execute.runtime import ExecutionRuntime, TenantRuntimes
    from baton.execute.service import ExecutionService

    class PublishingRuntime(ExecutionRuntime):
        def __init__(self, service: ExecutionService, org_id: str) -> None:
            super().__init__(service, ingest_process=ctx.settings.ingest_process)
            self.org_id = org_id

        def after_ingest(self, result: IngestResult) -> None:
            message = positions_message(result.stored, self.org_id)
            if message is not None and result.accepted:
                ctx.pubsub.publish(ctx.channel(self.org_id), message)

    def runtime_of(org_id: str) -> PublishingRuntime:
        """The organisation's execution over its own bus; routes at risk are repaired by the live board
        while the day is orchestrated (:class:`LiveRepair`)."""
        holder: list[ExecutionService] = []
        repair = LiveRepair(ctx.live, org_id, lambda rid: holder[0].vehicle_pace(rid),
                            current_leg=lambda rid, at: holder[0].current_leg(rid, at))
        holder.append(ExecutionService(ctx.bus(org_id), replanner=repair))
        return PublishingRuntime(holder[0], org_id)

    def to_execution(org_id: str, event: Event) -> None:
        runtime = app.state.execution.get(org_id)
        if runtime is not None:
            runtime.foreign(event)

    app.state.execution = TenantRuntimes(runtime_of)
    ctx.live.listeners.append(to_execution)  # re-planned routes and breakdowns reach execution
    secured = APIRouter(prefix=f"{api_prefix}/execution", dependencies=[Depends(_execution_access)])
    secured.include_router(api_execute.router)
    app.include_router(secured)


def mount_dispatch(app: FastAPI, ctx: ApiContext, api_prefix: str) -> None:
    """Include the dispatch router under ``{api_prefix}/dispatch`` (per-tenant, user credentials) and
    mount the carriers' webhook sub-application at ``{api_prefix}/hooks`` (HMAC-signed, per
    ``{org_id}`` in the path)."""
    from baton.entrypoints import api_dispatch
    from baton.entrypoints.api.errors import install_error_handlers

    app.include_router(api_dispatch.router, prefix=api_prefix)
    hooks = FastAPI(title="Baton carrier webhooks", openapi_url=None, docs_url=None, redoc_url=None)
    install_error_handlers(hooks)
    hooks.include_router(api_dispatch.make_webhook_router(lambda request: ctx.bus(request.path_params["org_id"]),
                                                          prefix="/dispatch/{org_id}"))
    app.mount(f"{api_prefix}/hooks", hooks)


def mount_driver(app: FastAPI, ctx: ApiContext, api_prefix: str) -> None:
    """Include the driver-app and proof-of-delivery router (:mod:`baton.entrypoints.api_driver`) under
    ``api_prefix``, with the media object store (``BATON_OBJECT_STORE``; default ``<BATON_HOME>/objects``)
    in ``app.state.object_store`` and the completion rules (``BATON_POD_RULES``) in ``app.state.pod_rules``.
    Every endpoint authenticates per request and is scoped to the caller's organisation."""
    from baton.adapters.objectstore import make_object_store
    from baton.entrypoints import api_driver
    from baton.prove.requirements import load_rules
    from baton.service_layer.prove_hooks import install

    install()  # custody links (pickup, hand-over, carrier POD) written with the events that cause them
    if not hasattr(app.state, "object_store"):
        app.state.object_store = ctx.extra.get("object_store") or make_object_store()
    app.state.pod_rules = ctx.extra.get("pod_rules") or load_rules()
    app.include_router(api_driver.router, prefix=api_prefix)


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
