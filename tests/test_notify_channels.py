"""Channel adapters against real local servers; templates, tokens and quiet hours."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from baton.adapters.channels.base import OutgoingMessage, PermanentChannelError, TransientChannelError
from baton.adapters.channels.smtp import SmtpChannel
from baton.adapters.channels.twilio import TwilioChannel
from baton.adapters.channels.webhook import WebhookChannel, verify
from baton.domain.errors import ValidationError
from baton.notify.model import quiet_until
from baton.notify.render import Renderer, validate_template
from baton.notify.tokens import TokenError, make_token, verify_token
from notify_support import INVALID_NUMBER, SID, TOKEN, fake_twilio, smtp_server

MSG = OutgoingMessage("3f2b1c9e-0000-4000-8000-000000000001", "email", "ana@example.com", "Olá", "Corpo",
                      "<p>Corpo</p>")


def test_smtp_with_starttls_and_auth_delivers_a_parseable_message(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as box:
        ok = SmtpChannel("127.0.0.1", box.port, sender="loja@example.com", username="baton", password="s3cret",
                         ssl_context=box.ssl_context)
        result = ok.send(MSG)
        with pytest.raises(PermanentChannelError) as refused:
            SmtpChannel("127.0.0.1", box.port, username="baton", password="wrong",
                        ssl_context=box.ssl_context).send(MSG)
        with pytest.raises(PermanentChannelError):  # AUTH is refused before STARTTLS (530)
            SmtpChannel("127.0.0.1", box.port, username="baton", password="s3cret", tls="none").send(MSG)
    assert refused.value.code == 535
    (mail,) = box.messages
    assert result.provider_id == mail["Message-ID"] == f"<{MSG.message_id}@baton.local>"
    assert (mail["From"], mail["To"], mail["Subject"]) == ("loja@example.com", "ana@example.com", "Olá")
    assert mail.get_body(("plain",)).get_content().strip() == "Corpo"
    assert mail.get_body(("html",)).get_content().strip() == "<p>Corpo</p>"
    with pytest.raises(TransientChannelError):  # nobody listens there any more
        ok.send(MSG)


def test_twilio_compatible_api_maps_provider_errors(tmp_path: Path) -> None:
    with fake_twilio() as fake:
        sms = TwilioChannel(fake.url, SID, TOKEN, "+15005550006")
        wa = TwilioChannel(fake.url, SID, TOKEN, "+15005550006", whatsapp=True, status_callback="http://cb/x")
        first = sms.send(OutgoingMessage("m-1", "sms", "+5561990000001", "", "Olá"))
        again = sms.send(OutgoingMessage("m-1", "sms", "+5561990000001", "", "Olá"))  # same idempotency key
        wa.send(OutgoingMessage("m-2", "whatsapp", "+5561990000002", "", "Oi"))
        with pytest.raises(PermanentChannelError) as invalid:
            sms.send(OutgoingMessage("m-3", "sms", INVALID_NUMBER, "", "x"))
        fake.fail_next = 1
        with pytest.raises(TransientChannelError) as busy:
            sms.send(OutgoingMessage("m-4", "sms", "+5561990000001", "", "x"))
        with pytest.raises(PermanentChannelError):  # bad credentials: 401
            TwilioChannel(fake.url, SID, "wrong", "+1").send(OutgoingMessage("m-5", "sms", "+1", "", "x"))
    assert first.provider_id == again.provider_id and fake.duplicates == 1
    assert invalid.value.code == 21211 and busy.value.code == 503
    wa_form = fake.accepted[1]
    assert (wa_form["To"], wa_form["From"], wa_form["StatusCallback"]) == (
        "whatsapp:+5561990000002", "whatsapp:+15005550006", "http://cb/x")
    with pytest.raises(TransientChannelError):
        sms.send(OutgoingMessage("m-6", "sms", "+1", "", "x"))  # server gone


@contextmanager
def receiver(status: int = 204) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"body": body, "headers": dict(self.headers)})
            self.send_response(status)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", got
    finally:
        server.shutdown()
        server.server_close()


def test_outbound_webhooks_are_signed_with_hmac() -> None:
    body = json.dumps({"type": "late_risk", "order_id": "o-1"})
    with receiver() as (url, got):
        WebhookChannel(secret="whsec").send(OutgoingMessage("m-9", "webhook", url, "late_risk", body))
    (req,) = got
    sig = req["headers"]["X-Baton-Signature"]
    assert req["headers"]["Idempotency-Key"] == "m-9" and req["body"] == body.encode()
    assert verify(req["body"], sig, "whsec")
    assert not verify(req["body"] + b" ", sig, "whsec") and not verify(req["body"], sig, "other")
    assert not verify(req["body"], sig, "whsec", now=datetime.now(UTC).timestamp() + 3600)  # replayed later
    with receiver(503) as (url, _), pytest.raises(TransientChannelError):
        WebhookChannel(secret="s").send(OutgoingMessage("m", "webhook", url, "", "{}"))
    with receiver(410) as (url, _), pytest.raises(PermanentChannelError):
        WebhookChannel(secret="s").send(OutgoingMessage("m", "webhook", url, "", "{}"))


def test_templates_languages_overrides_and_the_sandbox() -> None:
    ctx = {"brand": {"name": "Loja", "color": "#000", "support": ""}, "first_name": "Ana", "order_ref": "P1",
           "eta_from": "10:00", "eta_to": "11:00", "tracking_url": "http://t/1", "reschedule_url": "http://t/1#r"}
    assert Renderer().render("late_risk", "pt-BR", "sms", ctx).body.startswith("Loja: desculpe, o pedido P1")
    email = Renderer().render("late_risk", "en", "email", ctx)
    assert email.subject == "Your delivery is running late" and "reschedule here: http://t/1#r" in email.body
    cancelled = Renderer().render("cancelled", "en", "email", ctx)
    assert cancelled.body.endswith("Track your delivery: http://t/1")
    assert email.html is not None and 'href="http://t/1"' in email.html
    custom = ("{% block subject %}Atraso{% endblock %}{% block email %}E{% endblock %}"
              "{% block sms %}Oi {{ first_name }}!{% endblock %}")
    validate_template(custom)
    assert Renderer({("late_risk", "pt-BR"): custom}).render("late_risk", "pt-BR", "sms", ctx).body == "Oi Ana!"
    with pytest.raises(ValidationError, match="lacks block"):
        validate_template("{% block subject %}x{% endblock %}")
    evil = ("{% block subject %}{{ ''.__class__.__mro__ }}{% endblock %}"
            "{% block email %}{% endblock %}{% block sms %}{% endblock %}")
    blocked = Renderer({("cancelled", "en"): evil}).render("cancelled", "en", "email", ctx)
    assert blocked.subject == "Your delivery was cancelled"  # the sandbox refused it: built-in template used
    with pytest.raises(ValidationError, match="language"):
        Renderer().render("cancelled", "fr", "sms", ctx)


def test_tracking_tokens_are_signed_and_expire() -> None:
    exp = datetime(2026, 3, 2, 12, tzinfo=UTC)
    token = make_token("o-1", "acme", exp, "secret")
    claim = verify_token(token, "secret", datetime(2026, 3, 2, 11, tzinfo=UTC))
    assert (claim.order_id, claim.org_id) == ("o-1", "acme")
    for bad in (token + "x", token.replace(".", ".A", 1), "nope", ""):
        with pytest.raises(TokenError, match="invalid"):
            verify_token(bad, "secret", datetime(2026, 3, 2, 11, tzinfo=UTC))
    with pytest.raises(TokenError, match="invalid"):
        verify_token(token, "other", datetime(2026, 3, 2, 11, tzinfo=UTC))
    with pytest.raises(TokenError, match="expired"):
        verify_token(token, "secret", datetime(2026, 3, 2, 12, 1, tzinfo=UTC))


def test_quiet_hours_defer_to_their_local_end() -> None:
    tz = "America/Sao_Paulo"
    late = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)  # 22:30 in Brasília
    assert quiet_until(late, tz, "21:00", "08:00") == datetime.fromisoformat("2026-03-03T08:00:00-03:00")
    early = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 06:00 in Brasília
    assert quiet_until(early, tz, "21:00", "08:00") == datetime.fromisoformat("2026-03-02T08:00:00-03:00")
    assert quiet_until(datetime(2026, 3, 2, 15, tzinfo=UTC), tz, "21:00", "08:00") is None
    assert quiet_until(late, tz, "00:00", "00:00") is None
    assert quiet_until(datetime(2026, 3, 2, 15, tzinfo=UTC), tz, "12:00", "14:00") == datetime.fromisoformat(
        "2026-03-02T14:00:00-03:00")
    with pytest.raises(ValidationError, match="quiet_start"):
        quiet_until(late, tz, "9pm", "08:00")
