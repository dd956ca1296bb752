"""The channel interface and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to send.

    ``message_id`` is unique per message and stable across retries: channels pass it to the
    provider as the idempotency key (HTTP ``Idempotency-Key``; e-mail ``Message-ID``), so a
    retry after a crash cannot deliver twice at a provider that honours it. ``sender``: the
    organisation's From address/number, overriding the channel's default.
    """

    message_id: str
    channel: str
    recipient: str
    subject: str
    body: str
    html: str | None = None
    sender: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message: ``provider_id`` (e.g. Twilio's ``SM…`` sid) and its ``status``."""

    provider_id: str
    status: str = "sent"


class ChannelError(Exception):
    """Sending failed; ``code`` is the provider's code or HTTP/SMTP status when known."""

    def __init__(self, message: str, code: str | int | None = None) -> None:
        self.code = code
        super().__init__(message)


class TransientChannelError(ChannelError):
    """Worth retrying later (network error, timeout, HTTP 429/5xx, SMTP 4xx)."""


class PermanentChannelError(ChannelError):
    """Retrying cannot help (HTTP 4xx such as an invalid number, SMTP 5xx such as an unknown mailbox)."""


class Channel(Protocol):
    """Sends one message or raises a :class:`ChannelError`."""

    def send(self, message: OutgoingMessage) -> SendResult: ...
