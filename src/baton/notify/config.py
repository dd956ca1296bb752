"""Channel configuration from the environment.

=================================  ==========================================================
variable                           meaning
=================================  ==========================================================
``BATON_SMTP_HOST``                SMTP server (enables e-mail)
``BATON_SMTP_PORT``                port (default 587)
``BATON_SMTP_TLS``                 ``starttls`` (default), ``ssl`` or ``none``
``BATON_SMTP_USER``/``_PASSWORD``  AUTH credentials (optional)
``BATON_SMTP_CA_FILE``             extra CA bundle to trust (self-hosted relays)
``BATON_SMTP_FROM``                default From address
``BATON_TWILIO_BASE_URL``          Twilio-compatible API (default ``https://api.twilio.com``)
``BATON_TWILIO_ACCOUNT_SID``       account (enables SMS and WhatsApp)
``BATON_TWILIO_AUTH_TOKEN``        auth token (also checks delivery-receipt signatures)
``BATON_TWILIO_FROM``              default sender number (E.164)
``BATON_TWILIO_STATUS_CALLBACK``   public URL of ``/t/hooks/twilio/status``
``BATON_WEBHOOK_SECRET``           HMAC secret of outbound webhooks (enables webhooks)
=================================  ==========================================================
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

from baton.adapters.channels.base import Channel
from baton.adapters.channels.smtp import SmtpChannel
from baton.adapters.channels.twilio import TwilioChannel
from baton.adapters.channels.webhook import WebhookChannel


def channels_from_env(env: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """The channels the environment configures (missing configuration = channel absent)."""
    env = os.environ if env is None else env
    out: dict[str, Channel] = {}
    if env.get("BATON_SMTP_HOST"):
        ctx = None
        if env.get("BATON_SMTP_CA_FILE"):
            ctx = ssl.create_default_context(cafile=env["BATON_SMTP_CA_FILE"])
        out["email"] = SmtpChannel(
            host=env["BATON_SMTP_HOST"], port=int(env.get("BATON_SMTP_PORT", "587")),
            sender=env.get("BATON_SMTP_FROM", "no-reply@example.com"), username=env.get("BATON_SMTP_USER"),
            password=env.get("BATON_SMTP_PASSWORD"), tls=env.get("BATON_SMTP_TLS", "starttls"), ssl_context=ctx)
    if env.get("BATON_TWILIO_ACCOUNT_SID"):
        common = {
            "base_url": env.get("BATON_TWILIO_BASE_URL", "https://api.twilio.com"),
            "account_sid": env["BATON_TWILIO_ACCOUNT_SID"], "auth_token": env.get("BATON_TWILIO_AUTH_TOKEN", ""),
            "from_number": env.get("BATON_TWILIO_FROM", ""),
            "status_callback": env.get("BATON_TWILIO_STATUS_CALLBACK"),
        }
        out["sms"] = TwilioChannel(**common)  # type: ignore[arg-type]
        out["whatsapp"] = TwilioChannel(**common, whatsapp=True)  # type: ignore[arg-type]
    if env.get("BATON_WEBHOOK_SECRET"):
        out["webhook"] = WebhookChannel(secret=env["BATON_WEBHOOK_SECRET"])
    return out
