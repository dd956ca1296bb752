"""E-mail over SMTP with :mod:`smtplib`: STARTTLS or implicit TLS, optional AUTH.

The message's id becomes the ``Message-ID`` header (``<id@domain>``), so mail systems that
de-duplicate on it drop a retried copy. A plain-text body is sent, with an HTML alternative
when the message has one.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from baton.adapters.channels.base import (
    OutgoingMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)


@dataclass
class SmtpChannel:
    """An SMTP submission client.

    ``tls``: ``starttls`` (port 587), ``ssl`` (implicit TLS, port 465) or ``none`` (local
    relays only); ``ssl_context``: certificate checks (default: the system's trust store).
    ``timeout_s``: socket timeout in seconds.
    """

    host: str
    port: int = 587
    sender: str = "no-reply@example.com"
    username: str | None = None
    password: str | None = None
    tls: str = "starttls"
    ssl_context: ssl.SSLContext | None = None
    timeout_s: float = 10.0
    domain: str = "baton.local"

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message for ``message`` (headers From, To, Subject, Date, Message-ID)."""
        mail = EmailMessage()
        mail["From"] = message.sender or self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.message_id}@{self.domain}>"
        mail.set_content(message.body)
        if message.html:
            mail.add_alternative(message.html, subtype="html")
        return mail

    def send(self, message: OutgoingMessage) -> SendResult:
        """Submit ``message``.

        Raises:
            TransientChannelError: connection/TLS failure, timeout or an SMTP 4xx reply.
            PermanentChannelError: an SMTP 5xx reply (e.g. recipient refused, auth refused), or a
                feature the server does not offer (e.g. AUTH without TLS).
        """
        mail = self.build(message)
        context = self.ssl_context or ssl.create_default_context()
        try:
            client: smtplib.SMTP
            if self.tls == "ssl":
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with client:
                client.ehlo(self.domain)
                if self.tls == "starttls":
                    client.starttls(context=context)
                    client.ehlo(self.domain)
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [c for c, _ in exc.recipients.values()]
            error = PermanentChannelError if all(c >= 500 for c in codes) else TransientChannelError
            raise error(f"recipient refused: {exc.recipients}", codes[0] if codes else None) from None
        except smtplib.SMTPResponseException as exc:
            error = PermanentChannelError if exc.smtp_code >= 500 else TransientChannelError
            raise error(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError as exc:  # e.g. AUTH offered only after STARTTLS: configuration
            raise PermanentChannelError(f"SMTP server does not support this: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientChannelError(f"SMTP connection failed: {exc}") from None
        return SendResult(provider_id=mail["Message-ID"], status="sent")
