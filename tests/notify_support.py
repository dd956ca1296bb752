"""Support for the notification tests: a fake Twilio-compatible provider over real HTTP, a local
SMTP server (aiosmtpd, STARTTLS + AUTH) and a small planned day with reachable customers."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from baton.adapters.channels.twilio import signature
from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.domain.values import Customer, TimeWindow
from baton.notify import store
from baton.notify.model import NotifySettings, Preference
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.messagebus import MessageBus
from factories import local, make_depot, make_driver, make_order, make_vehicle

SID, TOKEN = "AC0123456789", "secret-token"
INVALID_NUMBER = "+15005550001"


@dataclass
class FakeTwilio:
    """A Twilio-compatible ``Messages.json`` endpoint: honours ``Idempotency-Key``, refuses
    :data:`INVALID_NUMBER` with 400/21211, answers 503 ``fail_next`` times."""

    accepted: list[dict[str, str]] = field(default_factory=list)
    by_key: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0
    requests: int = 0
    fail_next: int = 0
    refuse: set[str] = field(default_factory=set)
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                import time

                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                auth = base64.b64decode(self.headers.get("Authorization", "Basic ")[6:]).decode()
                if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json" or auth != f"{SID}:{TOKEN}":
                    return self._reply(401, {"code": 20003, "message": "Authenticate"})
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                with fake.lock:
                    fake.requests += 1
                    if fake.fail_next > 0:
                        fake.fail_next -= 1
                        return self._reply(503, {"code": 20500, "message": "Service unavailable"})
                    if form.get("To", "").removeprefix("whatsapp:") in {INVALID_NUMBER, *fake.refuse}:
                        return self._reply(400, {"code": 21211, "message": "The 'To' number is not valid."})
                    key = self.headers.get("Idempotency-Key", "")
                    if key in fake.by_key:
                        fake.duplicates += 1
                        return self._reply(201, {"sid": fake.by_key[key], "status": "queued"})
                    sid = f"SM{len(fake.accepted):032d}"
                    fake.by_key[key] = sid
                    fake.accepted.append(form | {"sid": sid, "key": key})
                return self._reply(201, {"sid": sid, "status": "queued"})

        return Handler

    def callback(self, sid: str, status: str, url: str) -> tuple[dict[str, str], str]:
        """The form and ``X-Twilio-Signature`` the provider would POST to ``url`` for ``sid``."""
        form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": SID}
        return form, signature(url, form, TOKEN)


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    """Messages the local SMTP server received, parsed back; de-duplicated by Message-ID like real MTAs."""

    messages: list[Message] = field(default_factory=list)
    duplicates: int = 0
    port: int = 0
    ssl_context: ssl.SSLContext | None = None

    def unique_ids(self) -> set[str]:
        return {str(m["Message-ID"]) for m in self.messages}

    def by_recipient(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@contextmanager
def smtp_server(tmp: Path, user: str = "baton", password: str = "s3cret") -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1 with STARTTLS required before AUTH PLAIN."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = Mailbox()
    cert, key = self_signed(tmp)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(cert), str(key))
    box.ssl_context = ssl.create_default_context(cafile=str(cert))

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            if any(m["Message-ID"] == msg["Message-ID"] for m in box.messages):
                box.duplicates += 1
            else:
                box.messages.append(msg)
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, tls_context=server_ctx,
                            require_starttls=True, authenticator=authenticator, auth_require_tls=True,
                            auth_exclude_mechanism=["LOGIN"])
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


CUSTOMERS = {
    # id: (name, email, phone, language)
    "o-ana": ("Ana Souza", "ana@example.com", "+5561990000001", "pt-BR"),
    "o-bob": ("Bob Stone", "bob@example.com", "+5561990000002", "en"),
    "o-caio": ("Caio Reis", None, "+5561990000003", "pt-BR"),
    "o-dora": ("Dora Lima", "dora@example.com", "+5561990000004", "pt-BR"),
}


def enable(bus: MessageBus, settings: NotifySettings | None = None, prefs: Sequence[Preference] = ()) -> NotifySettings:
    """Switch notifications on for the default organisation (and store ``prefs``)."""
    session = bus.uow.session_factory()  # type: ignore[attr-defined]
    with session, session.begin():
        saved = store.save_settings(session, settings or NotifySettings(tracking_base_url="http://track.test"))
        for p in prefs:
            store.save_preference(session, "default", p)
    return saved


def planned_day(db_url: str, settings: NotifySettings | None = None, prefs: Sequence[Preference] = (),
                windows: dict[str, TimeWindow] | None = None) -> tuple[MessageBus, str]:
    """A bus with notifications on, one depot, one van and driver and the :data:`CUSTOMERS` orders,
    planned (0.2 s) at 07:00; returns the bus and the route id."""
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    enable(bus, settings, prefs)
    bus.handle(commands.RegisterFleet(at=local(6), depots=[make_depot()], vehicles=[make_vehicle()],
                                      drivers=[make_driver(name="Paulo Lima", vehicle_id="v-1")]))
    orders = []
    for oid, (name, mail, phone, lang) in CUSTOMERS.items():
        w = (windows or {}).get(oid, TimeWindow(local(8), local(17)))
        orders.append(make_order(oid, customer=Customer(name, phone, mail, lang), time_windows=[w],
                                 external_ref=f"PED-{oid[2:].upper()}"))
    bus.handle(commands.CreateOrders(at=local(6, 30), orders=orders))
    plan = bus.handle(commands.PlanOrders(at=local(7), day_start=local(0),
                                          options=PlanningOptions(time_limit_s=0.2, seed=1)))
    assert len(plan.routes) == 1 and not plan.unassigned
    return bus, str(plan.routes[0].id)


def start_day(bus: MessageBus, route_id: str) -> None:
    bus.handle(commands.DispatchRoute(at=local(7, 30), route_id=route_id))
    bus.handle(commands.StartRoute(at=local(8), route_id=route_id))



def messages(bus: MessageBus, **where: Any) -> list[dict[str, Any]]:
    """Rows of ``notify_messages`` matching ``where`` (column=value), oldest first."""
    from sqlalchemy import select

    from baton.adapters import orm_notify as tn

    m = tn.messages
    stmt = select(m).order_by(m.c.event_at, m.c.created_at, m.c.id)
    for k, v in where.items():
        stmt = stmt.where(m.c[k] == v)
    with bus.uow.session_factory() as session:  # type: ignore[attr-defined]
        return [dict(r) for r in session.execute(stmt).mappings()]

