"""The customer's tracking page: ``/t/{token}`` (a signed, expiring link), live via SSE, with actions.

Routes (``router``, include it in any FastAPI app; call :func:`configure_tracking` to give it a
database, else it uses ``BATON_DATABASE_URL``):

* ``GET /t/{token}``: the page (HTML, mobile-first, works without JavaScript and map tiles);
* ``GET /t/{token}/status.json``: the live status; ``GET /t/{token}/events``: Server-Sent Events,
  one ``status`` event whenever it changes (``?max_s=`` bounds the stream, default 300 s);
* ``POST /t/{token}/instructions|reschedule|cancel|rating``: customer actions (HTML forms),
  each a service-layer command, answered with ``303`` back to the page;
* ``GET /t/{token}/pod/{sha256}``: a signature/photo of the order's delivered POD (only media of THAT
  order's POD; 404 otherwise), from ``app.state.object_store`` (else ``BATON_OBJECT_STORE``);
* ``POST /t/hooks/twilio/status``: delivery receipts of the SMS/WhatsApp provider (signed).

Invalid or tampered links get ``404``, expired ones ``410``. Importing this module installs the
notification outbox hook (:func:`baton.notify.outbox.install`).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

import baton.notify.actions as actions
from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.errors import DomainError, NotFound
from baton.notify import store
from baton.notify.model import NotifySettings, Preference, customer_key, zone
from baton.notify.outbox import install as install_outbox
from baton.notify.tokens import TokenError, TrackingClaim, read_claim, verify_token
from baton.notify.tracking_pod import PodSummary, latest_delivered_pod, pod_summary, sniff
from baton.notify.tracking_view import TrackingView, build_view
from baton.service_layer.handlers import Dependencies
from baton.service_layer.messagebus import MessageBus
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

router = APIRouter(tags=["tracking"])
# An app that mounts this router also gets the notification outbox on its units of work (apps that
# build their bus without ``bootstrap()`` would otherwise write no messages for their events).
install_outbox()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

TEXT = {
    "en": {"title": "Track your delivery", "eta": "Expected", "between": "between", "and": "and",
           "driver": "Driver", "vehicle": "Vehicle", "stops_before": "stops before yours",
           "away": "km away", "live_hidden": "The driver's position appears when you are among the next stops.",
           "timeline": "History", "delivered": "Delivered at", "pod": "Proof of delivery",
           "received_by": "Received by", "signature": "Signature",
           "photos": "Photos", "left_safe": "Left in a safe place", "rel_self": "self",
           "instructions": "Delivery instructions", "instructions_hint": "Gate code, leave with a neighbour, ...",
           "safe_place": "I authorise leaving the parcel in a safe place", "save": "Save",
           "reschedule": "Choose another time", "no_slots": "No other time is available today.",
           "move": "Reschedule", "cancel": "Cancel this delivery", "cancel_confirm": "Cancel delivery",
           "rate": "How was your delivery?", "comment": "Comment (optional)", "send": "Send",
           "thanks": "Thank you for your rating", "saved": "Saved.", "invalid": "This link is not valid.",
           "expired": "This link has expired.", "error": "Could not do that"},
    "pt-BR": {"title": "Acompanhe sua entrega", "eta": "Previsão", "between": "entre", "and": "e",
              "driver": "Entregador", "vehicle": "Veículo", "stops_before": "paradas antes da sua",
              "away": "km de distância",
              "live_hidden": "A posição do entregador aparece quando você estiver entre as próximas paradas.",
              "timeline": "Histórico", "delivered": "Entregue às", "pod": "Comprovante de entrega",
              "received_by": "Recebido por", "signature": "Assinatura",
              "photos": "Fotos", "left_safe": "Deixado em local seguro", "rel_self": "o próprio",
              "instructions": "Instruções de entrega", "instructions_hint": "Código do portão, deixar com vizinho, ...",
              "safe_place": "Autorizo deixar o pacote em local seguro", "save": "Salvar",
              "reschedule": "Escolher outro horário", "no_slots": "Não há outro horário disponível hoje.",
              "move": "Reagendar", "cancel": "Cancelar esta entrega", "cancel_confirm": "Cancelar entrega",
              "rate": "Como foi sua entrega?", "comment": "Comentário (opcional)", "send": "Enviar",
              "thanks": "Obrigado pela avaliação", "saved": "Salvo.", "invalid": "Este link não é válido.",
              "expired": "Este link expirou.", "error": "Não foi possível"},
}


@dataclass
class TrackingContext:
    """What the router needs: a session factory, a travel-time provider (reschedule slots) and a clock."""

    session_factory: sessionmaker[Session]
    travel: TravelTimeProvider
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def configure_tracking(app: Any, session_factory: sessionmaker[Session], travel: TravelTimeProvider | None = None,
                       clock: Callable[[], datetime] | None = None) -> None:
    """Give the tracking router of ``app`` its database (and optionally travel provider and clock)."""
    from baton.adapters.travel import make_provider

    app.state.baton_tracking = TrackingContext(
        session_factory, travel or make_provider(os.environ.get("BATON_TRAVEL", "great-circle")),
        clock or (lambda: datetime.now(UTC)))


def _context(request: Request) -> TrackingContext:
    ctx = getattr(request.app.state, "baton_tracking", None)
    if ctx is None:
        from baton.adapters.db import make_engine, session_factory

        configure_tracking(request.app, session_factory(make_engine(None)))
        ctx = request.app.state.baton_tracking
    assert isinstance(ctx, TrackingContext)
    return ctx


@dataclass
class _Opened:
    claim: TrackingClaim
    settings: NotifySettings
    pref: Preference | None


class _LinkError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason


def _open(ctx: TrackingContext, token: str) -> _Opened:
    try:
        claim = read_claim(token)
        with ctx.session_factory() as session:
            settings = store.load_settings(session, claim.org_id)
            if settings is None:
                raise TokenError("invalid")
            verify_token(token, settings.signing_secret, ctx.clock())
    except TokenError as exc:
        raise _LinkError(410 if exc.reason == "expired" else 404, exc.reason) from None
    return _Opened(claim, settings, None)


def _view(ctx: TrackingContext, opened: _Opened, with_slots: bool = True) -> TrackingView:
    uow = SqlAlchemyUnitOfWork(ctx.session_factory, opened.claim.org_id)
    with uow:
        try:
            order = uow.orders.get(opened.claim.order_id)
        except NotFound:
            raise _LinkError(404, "invalid") from None
        assert uow.session is not None
        key = customer_key(order.customer)
        pref = store.load_preferences(uow.session, opened.claim.org_id, [key]).get(key)
        return build_view(uow, order.id, opened.settings, pref, ctx.travel, ctx.clock(), with_slots=with_slots)


def _link_error(request: Request, err: _LinkError) -> HTMLResponse:
    lang = "pt-BR" if request.headers.get("accept-language", "").lower().startswith("pt") else "en"
    return templates.TemplateResponse(request, "tracking/error.html",
                                      {"t": TEXT[lang], "lang": lang, "reason": err.reason}, status_code=err.status)


def _pod(ctx: TrackingContext, opened: _Opened) -> PodSummary | None:
    uow = SqlAlchemyUnitOfWork(ctx.session_factory, opened.claim.org_id)
    with uow:
        assert uow.session is not None
        order = uow.orders.get(opened.claim.order_id)
        key = customer_key(order.customer)
        pref = store.load_preferences(uow.session, opened.claim.org_id, [key]).get(key)
        tz = zone(pref.timezone if pref is not None and pref.timezone else opened.settings.timezone)
        return pod_summary(uow.session, opened.claim.org_id, order.id, tz)


@router.get("/t/{token}", response_class=HTMLResponse)
def tracking_page(request: Request, token: str, done: str | None = None, error: str | None = None) -> Response:
    """The tracking page of the order the link names."""
    ctx = _context(request)
    try:
        opened = _open(ctx, token)
        view = _view(ctx, opened)
    except _LinkError as err:
        return _link_error(request, err)
    pod = _pod(ctx, opened) if view.delivered_at else None
    return templates.TemplateResponse(request, "tracking/page.html", {
        "v": view, "t": TEXT[view.language], "token": token, "done": done, "error": error, "pod": pod,
        "initial": json.dumps(view.public()).replace("</", "<\\/")})


@router.get("/t/{token}/pod/{sha256}")
def tracking_pod_media(request: Request, token: str, sha256: str) -> Response:
    """A signature or photo of the order's delivered POD (``image/*``, cached privately for a day).
    404 for any hash not in THAT order's delivered POD, a bad or tampered link; 410 for an expired one."""
    from baton.adapters.objectstore import ObjectMissing, make_object_store

    ctx = _context(request)
    try:
        opened = _open(ctx, token)
    except _LinkError as err:
        return Response(status_code=err.status)
    with ctx.session_factory() as session:
        pod = latest_delivered_pod(session, opened.claim.org_id, opened.claim.order_id)
    allowed = set(pod.photo_sha256s) | ({pod.signature_sha256} if pod and pod.signature_sha256 else set()) \
        if pod is not None else set()
    if sha256 not in allowed:
        return Response(status_code=404)
    store = getattr(request.app.state, "object_store", None) or make_object_store()
    try:
        data = store.get(sha256)
    except (ObjectMissing, ValueError):
        return Response(status_code=404)
    return Response(data, media_type=sniff(data),
                    headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})


@router.get("/t/{token}/status.json")
def tracking_status(request: Request, token: str) -> Response:
    """The live status as JSON (see :meth:`TrackingView.public`)."""
    ctx = _context(request)
    try:
        return JSONResponse(_view(ctx, _open(ctx, token), with_slots=False).public())
    except _LinkError as err:
        return JSONResponse({"error": err.reason}, status_code=err.status)


@router.get("/t/{token}/events")
async def tracking_events(request: Request, token: str, max_s: float = 300.0, poll_s: float = 2.0) -> Response:
    """Server-Sent Events: ``event: status`` with the JSON status, sent at once and on every change."""
    ctx = _context(request)
    try:
        opened = _open(ctx, token)
    except _LinkError as err:
        return JSONResponse({"error": err.reason}, status_code=err.status)

    async def stream() -> AsyncIterator[str]:
        last = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(max_s, 3600.0))
        while True:
            data = await asyncio.to_thread(lambda: json.dumps(_view(ctx, opened, with_slots=False).public()))
            if data != last:
                last = data
                yield f"event: status\ndata: {data}\n\n"
            if loop.time() >= deadline or await request.is_disconnected():
                return
            await asyncio.sleep(max(0.2, poll_s))

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _act(request: Request, token: str, make: Callable[[str, datetime], Any], done: str) -> Response:
    ctx = _context(request)
    try:
        opened = _open(ctx, token)
    except _LinkError as err:
        return _link_error(request, err)
    bus = MessageBus(SqlAlchemyUnitOfWork(ctx.session_factory, opened.claim.org_id), Dependencies(travel=ctx.travel))
    try:
        bus.handle(make(opened.claim.order_id, ctx.clock()))
    except DomainError as exc:
        from urllib.parse import quote

        return RedirectResponse(f"/t/{token}?error={quote(str(exc)[:200])}", status_code=303)
    return RedirectResponse(f"/t/{token}?done={done}#{done}", status_code=303)


ACTOR = "customer:tracking-page"


@router.post("/t/{token}/instructions")
def post_instructions(request: Request, token: str, instructions: Annotated[str, Form()] = "",
                      safe_place: Annotated[str | None, Form()] = None) -> Response:
    """Leave delivery instructions (and authorise a safe place)."""
    return _act(request, token, lambda oid, at: actions.LeaveInstructions(
        at=at, actor=ACTOR, order_id=oid, instructions=instructions, safe_place_ok=safe_place is not None),
        "instructions")


@router.post("/t/{token}/reschedule")
def post_reschedule(request: Request, token: str, slot: Annotated[str, Form()]) -> Response:
    """Move the delivery to an offered slot (``slot`` = ``<start ISO>/<end ISO>``)."""
    try:
        start, end = (datetime.fromisoformat(x) for x in slot.split("/", 1))
    except ValueError:
        return RedirectResponse(f"/t/{token}?error=slot", status_code=303)
    return _act(request, token, lambda oid, at: actions.RescheduleDelivery(
        at=at, actor=ACTOR, order_id=oid, window_start=start, window_end=end), "reschedule")


@router.post("/t/{token}/cancel")
def post_cancel(request: Request, token: str) -> Response:
    """Cancel the delivery (only before the parcel leaves the depot)."""
    return _act(request, token, lambda oid, at: actions.CustomerCancel(at=at, actor=ACTOR, order_id=oid), "cancel")


@router.post("/t/{token}/rating")
def post_rating(request: Request, token: str, rating: Annotated[int, Form()],
                comment: Annotated[str, Form()] = "") -> Response:
    """Rate the delivery 1-5 with an optional comment."""
    return _act(request, token, lambda oid, at: actions.RateDelivery(
        at=at, actor=ACTOR, order_id=oid, rating=rating, comment=comment), "rating")


@router.post("/t/hooks/twilio/status")
async def twilio_status(request: Request) -> Response:
    """Delivery receipt from the SMS/WhatsApp provider, checked against ``X-Twilio-Signature``
    (key ``BATON_TWILIO_AUTH_TOKEN``; URL ``BATON_TWILIO_STATUS_CALLBACK`` or the request URL)."""
    from baton.adapters.channels.twilio import valid_signature
    from baton.notify.sender import apply_provider_status

    form = {k: str(v) for k, v in (await request.form()).items()}
    url = os.environ.get("BATON_TWILIO_STATUS_CALLBACK") or str(request.url)
    if not valid_signature(url, form, os.environ.get("BATON_TWILIO_AUTH_TOKEN", ""),
                           request.headers.get("X-Twilio-Signature")):
        return JSONResponse({"error": "invalid signature"}, status_code=403)
    if "MessageSid" not in form or "MessageStatus" not in form:
        return JSONResponse({"error": "MessageSid and MessageStatus are required"}, status_code=422)
    ctx = _context(request)

    def apply() -> str | None:
        with ctx.session_factory() as session, session.begin():
            return apply_provider_status(session, form["MessageSid"], form["MessageStatus"], ctx.clock(),
                                         form.get("ErrorCode"))

    found = await asyncio.to_thread(apply)
    return JSONResponse({"message_id": found}, status_code=200 if found else 404)
