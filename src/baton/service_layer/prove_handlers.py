"""Command handlers of proof of delivery (issue 9), registered in ``COMMAND_HANDLERS`` (claims: :mod:`prove_claims`).

``ApplyDriverActions`` applies a driver's queued actions **in order**, each idempotent by its
``client_action_id``: a retried action answers ``duplicate`` (with the POD it created), never a second
POD. Order state changes reuse the existing lifecycle handlers (start route, arrive, complete, fail,
reattempt, customer notification, exceptions), each committed before the POD that proves it; a crash
in between is healed by the retry (those handlers are idempotent, the POD is written once).

Conflict rule: an action for a stop that is no longer on the caller's route (order reassigned to another
route, route given to another driver, order cancelled) answers ``conflict`` and changes no order; a POD
captured offline for such a stop is still stored, flagged ``reassigned``, and chained (custody evidence).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baton.domain.errors import NotFound, ValidationError
from baton.domain.lifecycle import OrderStatus
from baton.domain.order import Order
from baton.domain.plan import Route, RouteStatus
from baton.prove.claims import Claim
from baton.prove.custody import next_event
from baton.prove.events import CustodyRecorded, DriverActionRecorded, PodCaptured
from baton.prove.model import (
    ACTION_TYPES,
    ISSUE_KINDS,
    NEXT_STEP,
    FailReason,
    NextStep,
    Pod,
    PodKind,
    PodSource,
    location_flags,
    parcel_flags,
)
from baton.prove.requirements import RuleSet, parcels_of, requirements_for, unmet
from baton.service_layer import commands
from baton.service_layer.commands import (
    ApplyDriverActions,
    MoveClaim,
    RecordCarrierPod,
    RegisterMedia,
    RegisterMediaMany,
)
from baton.service_layer.prove_claims import move_claim, new_claim, open_claim, records
from baton.service_layer.prove_contact import MessageCustomer, message_customer
from baton.service_layer.prove_media import register_media, register_media_many
from baton.service_layer.prove_parse import Action, parse_action
from baton.service_layer.unit_of_work import AbstractUnitOfWork

S = OrderStatus


class _Outcome(Exception):
    """Ends one action early with a status and message (not an error of the batch)."""

    def __init__(self, status: str, message: str, pod_id: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.pod_id = status, message, pod_id


@dataclass
class _Run:
    cmd: ApplyDriverActions
    uow: AbstractUnitOfWork
    deps: Any
    rules: RuleSet
    actor: str

    def handle(self, fn: Callable[..., object], command: commands.Command) -> Any:
        return fn(command, self.uow, self.deps)


def apply_driver_actions(cmd: ApplyDriverActions, uow: AbstractUnitOfWork, deps: Any) -> list[dict[str, Any]]:
    rules = (cmd.rules or RuleSet()).for_org(getattr(uow, "org_id", "default"))
    run = _Run(cmd, uow, deps, rules, f"driver:{cmd.driver_id}")
    return [_apply_one(run, raw) for raw in cmd.actions]


def _apply_one(run: _Run, raw: Any) -> dict[str, Any]:
    cid = str(raw.get("client_action_id")) if isinstance(raw, dict) and raw.get("client_action_id") else None
    try:
        action = parse_action(raw)
    except ValidationError as exc:
        return {"client_action_id": cid, "status": "rejected", "message": str(exc)}
    with run.uow:
        prior = records(run.uow).action(action.client_action_id)
    if prior is not None:
        return {"client_action_id": action.client_action_id, "status": "duplicate",
                "message": f"already received ({prior.status}): {prior.message}", "pod_id": prior.pod_id}
    try:
        fn = _APPLY[action.type]
        status, message, pod_id = fn(run, action)
    except _Outcome as out:
        status, message, pod_id = out.status, out.message, out.pod_id
        if status == "conflict":
            _log_action(run, action, status, message, pod_id, record_event=True)
    result = {"client_action_id": action.client_action_id, "status": status, "message": message}
    if pod_id is not None:
        result["pod_id"] = pod_id
    return result


def _log_action(run: _Run, a: Action, status: str, message: str, pod_id: str | None = None,
                *, record_event: bool = False, details: dict[str, Any] | None = None) -> None:
    with run.uow:
        rec = records(run.uow)
        if rec.action(a.client_action_id) is None:
            rec.add_action(**a.row(run.cmd.driver_id, status, message, pod_id, run.cmd.at))
        if record_event and a.route_id:
            run.uow.record(DriverActionRecorded(
                occurred_at=run.cmd.at, actor=run.actor, route_id=a.route_id, action=a.type,
                client_action_id=a.client_action_id, status=status, order_id=a.order_id,
                device_time=a.device_time.isoformat(), details=(details or {}) | {"message": message}))
        run.uow.commit()


def _read_route(run: _Run, a: Action) -> Route | None:
    """The action's route (inside an open ``with run.uow``); ``None`` when it no longer exists."""
    try:
        return run.uow.plans.get_route(a.route_id or "")
    except NotFound:
        return None


def _route_conflict(run: _Run, a: Action, route: Route | None) -> str | None:
    if route is None:
        return f"route_id: route {a.route_id} no longer exists"
    if route.driver_id != run.cmd.driver_id:
        return f"route_id: route {route.id} was reassigned to another driver"
    return None


def _route(run: _Run, a: Action) -> Route:
    with run.uow:
        route = _read_route(run, a)
    conflict = _route_conflict(run, a, route)
    if conflict is not None or route is None:
        raise _Outcome("conflict", conflict or "route unavailable")
    return route


def _stop(run: _Run, a: Action) -> tuple[Route | None, Order, str | None]:
    """The route, the order, and why the stop is no longer this driver's (``None``: it is); one read."""
    with run.uow:
        try:
            order = run.uow.orders.get(a.order_id or "")
        except NotFound:
            raise _Outcome("rejected", f"order_id: unknown order {a.order_id}") from None
        route: Route | None = _read_route(run, a)
    conflict = _route_conflict(run, a, route)
    if conflict is not None or route is None:
        return None, order, conflict
    if order.status == S.CANCELLED:
        return route, order, f"order_id: order {order.id} was cancelled"
    if order.id not in route.order_ids or (order.route_id not in (None, route.id)):
        return route, order, f"order_id: stop {order.id} is no longer on your route (reassigned)"
    return route, order, None


def _at(run: _Run, a: Action) -> datetime:
    """When it happened: the device time, unless the device clock is ahead of the server."""
    return min(a.device_time, run.cmd.at)


def _ensure_arrived(run: _Run, a: Action, route: Route, order: Order) -> None:
    at, actor = _at(run, a), run.actor
    if route.status == RouteStatus.PLANNED:
        raise _Outcome("conflict", f"route_id: route {route.id} is not dispatched yet")
    status = order.status  # read in this action, before anything changed it
    if route.status == RouteStatus.DISPATCHED:
        run.handle(handlers.start_route, commands.StartRoute(at=at, actor=actor, route_id=route.id))
        with run.uow:
            status = run.uow.orders.get(order.id).status
    if status == S.DISPATCHED:
        raise _Outcome("conflict", f"order_id: order {order.id} is not on board (status dispatched)")
    if status == S.OUT_FOR_DELIVERY:
        run.handle(handlers.arrive_at_stop, commands.ArriveAtStop(at=at, actor=actor, route_id=route.id,
                                                                  order_id=order.id))


def _arrive(run: _Run, a: Action) -> tuple[str, str, str | None]:
    route, order, conflict = _stop(run, a)
    if conflict is not None or route is None:
        raise _Outcome("conflict", conflict or "route unavailable")
    if order.status not in (S.DISPATCHED, S.OUT_FOR_DELIVERY, S.ARRIVED):
        raise _Outcome("conflict", f"order_id: order {order.id} is {order.status.value}, cannot arrive")
    _ensure_arrived(run, a, route, order)
    _log_action(run, a, "applied", "arrived")
    return "applied", "arrived", None


def _media_problems(run: _Run, shas: list[str]) -> list[str]:
    with run.uow:
        known = records(run.uow).known_media(shas)
    return [f"media: {sha} was not uploaded (POST /api/v1/driver/media first)" for sha in shas if sha not in known]


def _pod(run: _Run, a: Action, order: Order, route: Route | None, kind: PodKind) -> Pod:
    p = a.payload
    return Pod(id=f"pod-{uuid.uuid4().hex[:16]}", order_id=order.id, kind=kind, source=PodSource.DRIVER,
               device_time=a.device_time, server_time=run.cmd.at, route_id=a.route_id, driver_id=run.cmd.driver_id,
               carrier_id=None, recipient_name=p.get("recipient_name"), recipient_relation=p.get("recipient_relation"),
               signature_sha256=p.get("signature_sha256"), photo_sha256s=list(p.get("photo_sha256s") or []),
               expected_barcodes=[x["barcode"] for x in parcels_of(order)],
               scanned_barcodes=list(p.get("scanned_barcodes") or []), age_verified=p.get("age_verified"),
               safe_place=p.get("safe_place"), notes=p.get("notes"), lat=a.lat, lng=a.lng, accuracy_m=a.accuracy_m,
               stop_lat=order.location.lat, stop_lng=order.location.lng, client_action_id=a.client_action_id)


def _store_pod(run: _Run, a: Action, pod: Pod, status: str, message: str, claim: Claim | None = None) -> None:
    """POD, custody link, action row, events and (optionally) a claim: one transaction."""
    with run.uow:
        rec = records(run.uow)
        link = next_event(rec.last_link(pod.order_id), order_id=pod.order_id,
                          kind="delivered" if pod.kind == PodKind.DELIVERED else "failed_attempt",
                          at=_at(run, a), actor=run.actor, route_id=pod.route_id, pod=pod)
        rec.add_pod(pod)
        rec.add_link(link)
        rec.add_action(**a.row(run.cmd.driver_id, status, message, pod.id, run.cmd.at))
        run.uow.record(PodCaptured(occurred_at=run.cmd.at, actor=run.actor, order_id=pod.order_id, pod_id=pod.id,
                                   kind=pod.kind.value, source=pod.source.value, route_id=pod.route_id,
                                   content_hash=pod.content_hash, flags=sorted(pod.flags),
                                   device_time=a.device_time.isoformat()),
                       CustodyRecorded(occurred_at=run.cmd.at, actor=run.actor, order_id=pod.order_id, seq=link.seq,
                                       kind=link.kind, hash=link.hash))
        if claim is not None:
            open_claim(run.uow, claim, run.cmd.at, run.actor)
        run.uow.commit()


def _existing_pod(run: _Run, order_id: str, kind: PodKind) -> str | None:
    with run.uow:
        pods = [p for p in records(run.uow).pods_of(order_id) if p.kind == kind and "reassigned" not in p.flags]
    return pods[-1].id if pods else None


def _complete(run: _Run, a: Action) -> tuple[str, str, str | None]:
    route, order, conflict = _stop(run, a)
    if conflict is None and order.status == S.DELIVERED:
        raise _Outcome("duplicate", f"order_id: order {order.id} is already delivered",
                       _existing_pod(run, order.id, PodKind.DELIVERED))
    pod = _pod(run, a, order, route, PodKind.DELIVERED)
    pod.missing_barcodes, pod.extra_barcodes = parcel_flags(pod.expected_barcodes, pod.scanned_barcodes)
    req = requirements_for(order, run.rules)
    problems = unmet(req, signature=bool(pod.signature_sha256), photos=len(pod.photo_sha256s),
                     age_verified=pod.age_verified, safe_place=pod.safe_place, missing_barcodes=pod.missing_barcodes)
    if not pod.recipient_name and not pod.safe_place:
        problems.insert(0, "recipient_name: required (or a safe-place drop)")
    problems += _media_problems(run, pod.media)
    route = _settle(run, a, pod, order, route, conflict, problems, "complete")
    _ensure_arrived(run, a, route, order)
    run.handle(handlers.complete_delivery, commands.CompleteDelivery(
        at=_at(run, a), actor=run.actor, route_id=route.id, order_id=order.id, recipient=pod.recipient_name))
    message = "delivered" + (f" (flagged: {', '.join(sorted(pod.flags))})" if pod.flags else "")
    _store_pod(run, a, pod, "applied", message)
    return "applied", message, pod.id


def _settle(run: _Run, a: Action, pod: Pod, order: Order, route: Route | None, conflict: str | None,
            problems: list[str], verb: str) -> Route:
    """Flag ``pod`` and decide whether its completion/failure may go ahead: a stop taken away from the
    driver keeps its POD as custody evidence and answers ``conflict``; unmet requirements answer
    ``rejected``; an order not on the road any more answers ``conflict``. Returns the stop's route."""
    _flag(pod, run.rules)
    pod.complete = not problems
    if conflict is not None:
        pod.flags.append("reassigned")
        _store_pod(run, a, pod, "conflict", conflict + "; the POD is kept as custody evidence")
        raise _Outcome("conflict", conflict + "; the POD is kept as custody evidence", pod.id)
    if problems:
        raise _Outcome("rejected", "; ".join(problems))
    if order.status not in (S.DISPATCHED, S.OUT_FOR_DELIVERY, S.ARRIVED):
        raise _Outcome("conflict", f"order_id: order {order.id} is {order.status.value}, cannot {verb}")
    assert route is not None
    return route


def _flag(pod: Pod, rules: RuleSet) -> None:
    if pod.missing_barcodes:
        pod.flags.append("missing_parcels")
    if pod.extra_barcodes:
        pod.flags.append("extra_parcels")
    if pod.accuracy_m is not None and pod.accuracy_m > rules.radius_m:
        pod.flags.append("low_accuracy")
    location_flags(pod, rules.radius_m)


def _fail(run: _Run, a: Action) -> tuple[str, str, str | None]:
    route, order, conflict = _stop(run, a)
    reason = FailReason(a.payload["reason"])
    if conflict is None and order.status in (S.FAILED_ATTEMPT, S.REATTEMPT, S.RETURNED_TO_DEPOT):
        raise _Outcome("duplicate", f"order_id: the attempt on {order.id} is already recorded as failed",
                       _existing_pod(run, order.id, PodKind.FAILED))
    pod = _pod(run, a, order, route, PodKind.FAILED)
    pod.reason, pod.next_step = reason.value, NEXT_STEP[reason].value
    problems = _media_problems(run, pod.media)
    if reason == FailReason.DAMAGED and not pod.photo_sha256s:
        problems.append("photo_sha256s: a photo of the damage is required")
    route = _settle(run, a, pod, order, route, conflict, problems, "fail")
    at = _at(run, a)
    _ensure_arrived(run, a, route, order)
    run.handle(handlers.fail_delivery, commands.FailDelivery(at=at, actor=run.actor, route_id=route.id,
                                                             order_id=order.id, reason=reason.value))
    claim = None
    if reason == FailReason.DAMAGED:
        claim = new_claim(order, at, "damaged at delivery: " + (pod.notes or ""), pod.id, pod.photo_sha256s)
    _store_pod(run, a, pod, "applied", f"failed ({reason.value}); next step: {pod.next_step}", claim)
    step = NEXT_STEP[reason]
    if step == NextStep.REATTEMPT:
        run.handle(handlers.reattempt_order, commands.ReattemptOrder(at=at, actor=run.actor, order_id=order.id,
                                                                     reason=reason.value))
    elif step == NextStep.CUSTOMER_CONTACT:
        from baton.service_layer.execute_handlers import request_customer_notifications

        run.handle(request_customer_notifications, commands.RequestCustomerNotifications(
            at=at, actor=run.actor, order_ids=[order.id], topic=f"delivery_failed:{reason.value}",
            message=f"We could not deliver your order ({reason.value.replace('_', ' ')}). Please contact us."))
    message = f"failed ({reason.value}); next step: {step.value}" + (f"; claim {claim.id} opened" if claim else "")
    return "applied", message, pod.id


def _break(run: _Run, a: Action) -> tuple[str, str, str | None]:
    _route(run, a)
    _log_action(run, a, "applied", a.type.replace("_", " "), record_event=True,
                details={"lat": a.lat, "lng": a.lng})
    return "applied", a.type.replace("_", " "), None


def _issue(run: _Run, a: Action) -> tuple[str, str, str | None]:
    route = _route(run, a)
    from baton.service_layer.execute_handlers import open_exception

    kind = a.payload["kind"]
    exception_id = run.handle(open_exception, commands.OpenException(
        at=_at(run, a), actor=run.actor, kind=f"driver_{kind}", subject=f"{route.id}:{a.client_action_id}",
        route_id=route.id, vehicle_id=route.vehicle_id, order_id=a.order_id,
        details={"notes": a.payload.get("notes"), "lat": a.lat, "lng": a.lng, "device_time": a.device_time.isoformat(),
                 "client_action_id": a.client_action_id}))
    message = f"exception {exception_id} opened for the dispatcher" if exception_id else "already reported"
    if kind == "damaged_parcel" and a.order_id:
        with run.uow:
            order = run.uow.orders.get(a.order_id)
            if not records(run.uow).claims(order_id=order.id):
                claim = new_claim(order, _at(run, a), "damaged parcel reported by the driver: "
                                  + str(a.payload.get("notes") or ""), None, list(a.payload.get("photo_sha256s") or []))
                open_claim(run.uow, claim, run.cmd.at, run.actor)
                message += f"; claim {claim.id} opened"
            run.uow.commit()
    _log_action(run, a, "applied", message, details={"exception_id": exception_id})
    return "applied", message, None


_APPLY: dict[str, Callable[[_Run, Action], tuple[str, str, str | None]]] = {
    "arrive": _arrive, "complete": _complete, "fail": _fail, "break_start": _break, "break_end": _break,
    "report_issue": _issue,
}
assert set(_APPLY) == set(ACTION_TYPES)
assert ISSUE_KINDS


def record_carrier_pod(cmd: RecordCarrierPod, uow: AbstractUnitOfWork, deps: Any) -> str | None:
    from baton.service_layer.prove_hooks import store_carrier_pod

    with uow:
        pod_id = store_carrier_pod(uow, cmd.carrier_id, cmd.pod, cmd.at)
        uow.commit()
    return pod_id


PROVE_HANDLERS: dict[type[commands.Command], Callable[..., object]] = {
    ApplyDriverActions: apply_driver_actions,
    RegisterMedia: register_media,
    RegisterMediaMany: register_media_many,
    MoveClaim: move_claim,
    RecordCarrierPod: record_carrier_pod,
    MessageCustomer: message_customer,
}

# Imported last: handlers.py registers PROVE_HANDLERS when it is imported, so whichever of the two
# modules is imported first, the other finds what it needs (the driver actions call handlers.*).
from baton.service_layer import handlers  # noqa: E402
