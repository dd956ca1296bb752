"""HTTP API of the driver app and of proof of delivery (mounted under ``/api/v1`` by
:func:`baton.entrypoints.api.features.mount_driver`). The contract is documented in
``docs/proof-of-delivery.md``.

Drivers (role ``driver``, or an API key bound to a driver) use ``/driver/*`` on their own route only;
PODs and custody chains are readable by the organisation's users with ``orders:read`` and by the driver
who captured the POD / whose route holds the order; claims are moved by users with ``orders:write``.
Another organisation's ids answer 404. Errors are ``application/problem+json`` naming the field.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from baton.adapters.objectstore import ObjectStore
from baton.domain.errors import IllegalTransition, NotFound
from baton.entrypoints.api.access import Principal
from baton.entrypoints.api.auth import authenticate, require
from baton.entrypoints.api.context import ApiContext
from baton.entrypoints.api.errors import ApiProblem, forbidden, not_found
from baton.prove.requirements import RuleSet
from baton.service_layer.commands import ApplyDriverActions, MoveClaim, RegisterMedia
from baton.service_layer.prove_contact import (
    CONTACT_TEMPLATES,
    ContactRateLimited,
    ContactUnavailable,
    MessageCustomer,
    NotYourStop,
)
from baton.service_layer.prove_views import driver_route_json, find_driver_route, sync_route_version, verify_pod

#: Largest accepted media upload, bytes (413 above).
MAX_MEDIA_BYTES = 5 * 1024 * 1024
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")
_MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "image/webp": (b"RIFF",)}
MAX_ACTIONS = 500
#: Seconds one SSE connection stays open before the browser's EventSource reconnects.
SSE_MAX_S = 300.0
KEEPALIVE_S = 15.0

router = APIRouter(tags=["driver & proof of delivery"])


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def store_of(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.object_store
    return store


def rules_of(request: Request) -> RuleSet:
    rules: RuleSet = request.app.state.pod_rules
    return rules


def driver(principal: Annotated[Principal, Depends(require("routes:read"))]) -> Principal:
    """The caller when it is a driver (403 otherwise)."""
    if principal.driver_id is None:
        raise forbidden("only driver credentials (a user or key bound to a driver) may use /driver")
    return principal


def driver_writer(principal: Annotated[Principal, Depends(require("execution:write"))]) -> Principal:
    return driver(principal)


@router.get("/driver/route", summary="The driver's current route with stops, parcels and requirements")
def get_route(request: Request, principal: Annotated[Principal, Depends(driver)],
              day: Annotated[date | None, Query(alias="date")] = None) -> dict[str, Any]:
    ctx = _ctx(request)
    uow = ctx.uow(principal.org_id)
    with uow:
        assert principal.driver_id is not None
        route = find_driver_route(uow, principal.driver_id, day)
        if route is None:
            raise not_found(f"driver {principal.driver_id} has no open route" + (f" on {day}" if day else ""))
        body = driver_route_json(uow, route, rules_of(request).for_org(principal.org_id))
    proxy = contact_proxy_number()
    for stop in body["stops"]:
        stop["contact"] = {"message_templates": list(CONTACT_TEMPLATES),
                           "call_url": call_url(proxy, principal.org_id, stop["order_id"]) if proxy else None,
                           "short_code": short_code(principal.org_id, stop["order_id"]) if proxy else None}
    return body


def contact_proxy_number() -> str | None:
    """``BATON_CONTACT_PROXY_NUMBER`` (E.164, e.g. ``+556130001234``) or ``None`` when unset/invalid."""
    raw = os.environ.get("BATON_CONTACT_PROXY_NUMBER", "").strip()
    digits = raw.lstrip("+")
    return raw if digits.isdigit() and 6 <= len(digits) <= 15 else None


def short_code(org_id: str, order_id: str) -> str:
    """The order's 6-digit contact code (stable: first 6 decimal digits of SHA-256 of ``org_id/order_id``);
    the proxy's IVR resolves it to the customer's number (see docs/driver-app.md, "Contact")."""
    return f"{int(hashlib.sha256(f'{org_id}/{order_id}'.encode()).hexdigest(), 16) % 1_000_000:06d}"


def call_url(proxy: str, org_id: str, order_id: str) -> str:
    """``tel:<proxy>,,<code>#``: dial the proxy number, pause ~4 s, then send the code as DTMF."""
    return f"tel:{proxy},,{short_code(org_id, order_id)}#"


@router.post("/driver/stops/{order_id}/message",
             summary="Send the customer a templated message through the notification outbox (own stops only)")
def post_stop_message(request: Request, order_id: str, principal: Annotated[Principal, Depends(driver_writer)],
                      body: Any = Body(...)) -> dict[str, Any]:  # noqa: B008
    """Body ``{"template": "arriving_soon|cannot_find_address|at_door", "text"?: str (≤ 300),
    "client_message_id"?: str}``; answers the queued message (see
    :class:`baton.service_layer.prove_contact.MessageCustomer`). 403 not your stop, 404 unknown order,
    409 notifications not enabled, 422 bad field, 429 rate-limited (``Retry-After``)."""
    if not isinstance(body, dict):
        raise ApiProblem(422, "validation-error", "body: expected a JSON object")
    template, text, cid = body.get("template"), body.get("text") or "", body.get("client_message_id")
    if not isinstance(template, str):
        raise ApiProblem(422, "validation-error", f"template: required, one of {', '.join(CONTACT_TEMPLATES)}")
    if not isinstance(text, str):
        raise ApiProblem(422, "validation-error", "text: must be a string")
    if cid is not None and not isinstance(cid, str):
        raise ApiProblem(422, "validation-error", "client_message_id: must be a string")
    assert principal.driver_id is not None
    try:
        result: dict[str, Any] = _ctx(request).bus(principal.org_id).handle(MessageCustomer(
            at=datetime.now(UTC), actor=principal.actor, driver_id=principal.driver_id, order_id=order_id,
            template=template, text=text, client_message_id=cid))
    except NotFound:
        raise not_found(f"order_id: unknown order {order_id}") from None
    except NotYourStop as exc:
        raise forbidden(str(exc)) from None
    except ContactUnavailable as exc:
        raise ApiProblem(409, "conflict", str(exc)) from None
    except ContactRateLimited as exc:
        raise ApiProblem(429, "too-many-requests", str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
    return result


@router.post("/driver/media", summary="Upload a photo or signature (raw bytes); content-addressed, idempotent",
             openapi_extra={"requestBody": {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                        for t in MEDIA_TYPES}}})
async def post_media(request: Request, principal: Annotated[Principal, Depends(driver_writer)]) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in MEDIA_TYPES:
        raise ApiProblem(415, "unsupported-media-type",
                         f"Content-Type: must be one of {', '.join(MEDIA_TYPES)}, got {content_type or 'none'}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_MEDIA_BYTES:
        raise ApiProblem(413, "payload-too-large", f"body: at most {MAX_MEDIA_BYTES} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > MAX_MEDIA_BYTES:
            raise ApiProblem(413, "payload-too-large", f"body: at most {MAX_MEDIA_BYTES} bytes")
    if not data:
        raise ApiProblem(422, "validation-error", "body: empty upload")
    if not any(bytes(data).startswith(m) for m in _MAGIC[content_type]):
        raise ApiProblem(422, "validation-error", f"body: the bytes are not {content_type}")
    store = store_of(request)
    raw = bytes(data)
    sha = await asyncio.to_thread(store.put, raw, content_type)
    bus = _ctx(request).bus(principal.org_id)
    await asyncio.to_thread(bus.handle, RegisterMedia(at=datetime.now(UTC), actor=principal.actor, sha256=sha,
                                                      size=len(raw), content_type=content_type))
    return {"sha256": sha, "size": len(raw), "content_type": content_type}


@router.post("/driver/actions", summary="Apply queued driver actions in order (idempotent by client_action_id)")
def post_actions(request: Request, principal: Annotated[Principal, Depends(driver_writer)],
                 body: Any = Body(...)) -> dict[str, Any]:  # noqa: B008
    actions = body.get("actions") if isinstance(body, dict) else None
    if not isinstance(actions, list):
        raise ApiProblem(422, "validation-error", "actions: required list of actions")
    if len(actions) > MAX_ACTIONS:
        raise ApiProblem(413, "payload-too-large", f"actions: at most {MAX_ACTIONS} per request")
    assert principal.driver_id is not None
    bus = _ctx(request).bus(principal.org_id)
    results = bus.handle(ApplyDriverActions(at=datetime.now(UTC), actor=principal.actor,
                                            driver_id=principal.driver_id, actions=actions,
                                            store=store_of(request), rules=rules_of(request)))
    return {"results": results}


@router.get("/driver/events", summary="Server-Sent Events: route_changed when the driver's route changes",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def driver_events(request: Request, principal: Annotated[Principal, Depends(driver)],
                        max_s: Annotated[float, Query(gt=0, le=3600)] = SSE_MAX_S) -> StreamingResponse:
    """``event: route_changed`` ``data: {"route_id", "version", "changed_order_ids"}``, sent when a committed
    event touches the driver's route and its version moved. The connection closes after ``max_s`` seconds
    (the browser's EventSource reconnects)."""
    ctx = _ctx(request)
    assert principal.driver_id is not None
    driver_id = principal.driver_id

    def check() -> dict[str, Any] | None:
        uow = ctx.uow(principal.org_id)
        with uow:
            route = find_driver_route(uow, driver_id)
            if route is None:
                return None
            version, changed = sync_route_version(uow, route)
        return {"route_id": route.id, "version": version, "changed_order_ids": changed} if changed else None

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_s
        async with ctx.pubsub.subscribe(ctx.channel(principal.org_id)) as sub:
            first = await asyncio.to_thread(check)
            yield "retry: 3000\nevent: ready\ndata: {}\n\n"
            if first is not None:
                yield f"event: route_changed\ndata: {json.dumps(first)}\n\n"
            while loop.time() < deadline and not await request.is_disconnected():
                message = await sub.get(min(KEEPALIVE_S, max(0.05, deadline - loop.time())))
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                if not _touches_routes(message):
                    continue
                found = await asyncio.to_thread(check)
                if found is not None:
                    yield f"event: route_changed\ndata: {json.dumps(found)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


_ROUTE_EVENTS = ("live.", "plan.created", "route.", "order.status_changed", "dispatch.assigned")


def _touches_routes(message: dict[str, Any]) -> bool:
    name = str(message.get("name", ""))
    return name.startswith(_ROUTE_EVENTS)


# --- PODs, custody, claims -----------------------------------------------------------------------
def _may_read_order(request: Request, principal: Principal, order_id: str, pod_driver: str | None = None) -> None:
    if not principal.restricted:
        if principal.missing(["orders:read"]):
            raise forbidden("this credential lacks the scope orders:read")
        return
    if principal.driver_id is not None and pod_driver == principal.driver_id:
        return
    uow = _ctx(request).uow(principal.org_id)
    with uow:
        try:
            order = uow.orders.get(order_id)
        except NotFound:
            raise not_found(f"order_id: unknown order {order_id}") from None
        route = uow.plans.get_route(order.route_id) if order.route_id else None
    if principal.driver_id is not None and route is not None and route.driver_id == principal.driver_id:
        return
    raise forbidden(f"order {order_id} is not on your route")


def _pod(request: Request, principal: Principal, pod_id: str) -> Any:
    from baton.adapters.prove_records import ProveRecords

    uow = _ctx(request).uow(principal.org_id)
    with uow:
        assert uow.session is not None
        pod = ProveRecords(uow.session, uow.org_id).pod(pod_id)
    if pod is None:
        raise not_found(f"pod_id: unknown POD {pod_id}")
    _may_read_order(request, principal, pod.order_id, pod.driver_id)
    return pod


@router.get("/pods/{pod_id}.pdf", summary="The POD as a PDF (map, photos, signature, hashes)",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def get_pod_pdf(request: Request, pod_id: str, principal: Annotated[Principal, Depends(authenticate)]) -> Response:
    from baton.prove.pdf import render_pod_pdf

    pod = _pod(request, principal, pod_id)
    uow = _ctx(request).uow(principal.org_id)
    with uow:
        check = verify_pod(uow, store_of(request), pod_id)
        order = uow.orders.get(pod.order_id)
    pdf = render_pod_pdf(pod, order, store_of(request), check)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{pod_id}.pdf"'})


@router.get("/pods/{pod_id}", summary="One POD")
def get_pod(request: Request, pod_id: str, principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    result: dict[str, Any] = _pod(request, principal, pod_id).to_json()
    return result


@router.get("/pods/{pod_id}/verify", summary="Re-verify the POD's custody chain, media bytes included")
def get_pod_verify(request: Request, pod_id: str,
                   principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    _pod(request, principal, pod_id)
    uow = _ctx(request).uow(principal.org_id)
    with uow:
        return verify_pod(uow, store_of(request), pod_id)


@router.get("/orders/{order_id}/custody", summary="The order's chain of custody (with verification)")
def get_custody(request: Request, order_id: str,
                principal: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    from baton.service_layer.prove_views import verify_order_chain

    uow = _ctx(request).uow(principal.org_id)
    with uow:
        try:
            uow.orders.get(order_id)
        except NotFound:
            raise not_found(f"order_id: unknown order {order_id}") from None
    _may_read_order(request, principal, order_id)
    with uow:
        return verify_order_chain(uow, store_of(request), order_id)


@router.get("/claims", summary="Damage claims (filter by status or order)")
def list_claims(request: Request, principal: Annotated[Principal, Depends(require("orders:read"))],
                status: str | None = None, order_id: str | None = None) -> list[dict[str, Any]]:
    from baton.adapters.prove_records import ProveRecords

    if principal.restricted:
        raise forbidden("claims: not available to driver or carrier credentials")
    uow = _ctx(request).uow(principal.org_id)
    with uow:
        assert uow.session is not None
        return [c.to_json() for c in ProveRecords(uow.session, uow.org_id).claims(order_id, status)]


@router.post("/claims/{claim_id}/{action}", summary="Move a claim: review, refund or reject")
def act_on_claim(request: Request, claim_id: str, action: str,
                 principal: Annotated[Principal, Depends(require("orders:write"))],
                 body: Any = Body(default=None)) -> dict[str, Any]:  # noqa: B008
    targets = {"review": "under_review", "refund": "refunded", "reject": "rejected"}
    if principal.restricted:
        raise forbidden("claims: not available to driver or carrier credentials")
    if action not in targets:
        raise not_found(f"action: unknown claim action {action!r} (review, refund, reject)")
    note = body.get("note") if isinstance(body, dict) else None
    try:
        result: dict[str, Any] = _ctx(request).bus(principal.org_id).handle(MoveClaim(
            at=datetime.now(UTC), actor=principal.actor, claim_id=claim_id, to=targets[action],
            note=str(note) if note else None))
    except NotFound as exc:
        raise not_found(str(exc)) from None
    except IllegalTransition as exc:
        raise ApiProblem(409, "conflict", f"status: {exc}") from None
    return result
