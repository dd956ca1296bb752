"""Notification settings, customer preferences, message kinds and quiet hours (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baton.domain.errors import ValidationError
from baton.domain.values import Customer


class Kind(StrEnum):
    """What a message tells the customer."""

    ORDER_PLANNED = "order_planned"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ETA_CHANGED = "eta_changed"
    LATE_RISK = "late_risk"
    ARRIVING_SOON = "arriving_soon"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    CANCELLED = "cancelled"
    #: A message the driver sent from the app (``POST /api/v1/driver/stops/{order_id}/message``).
    DRIVER_MESSAGE = "driver_message"


#: Kinds counted together by the "running late" rate limit.
RUNNING_LATE: frozenset[str] = frozenset({Kind.ETA_CHANGED, Kind.LATE_RISK})
#: At most this many "running late" messages per customer within :data:`RATE_WINDOW`.
RATE_LIMIT = 2
RATE_WINDOW = timedelta(minutes=10)
#: At most this many "running late" and ETA-update messages per order (delay notices, new ETAs
#: that break the promised window, "back on time"): the promised window, "out for delivery" and
#: "arriving soon" already tell the customer when to expect the van; the tracking page shows the rest.
MAX_DELAY_MESSAGES = 2
#: One "running late" message per delay episode: another only when the announced arrival moved at
#: least this much from the last one the customer got.
DELAY_STEP = timedelta(minutes=30)

CUSTOMER_CHANNELS: tuple[str, ...] = ("email", "sms", "whatsapp")
LANGUAGES: tuple[str, ...] = ("en", "pt-BR")


def normalise_language(code: str | None, default: str = "en") -> str:
    """``pt``, ``pt_BR``, ``pt-br`` → ``pt-BR``; ``en-GB`` → ``en``; unknown → ``default``."""
    if not code:
        return default
    c = code.replace("_", "-").lower()
    if c.startswith("pt"):
        return "pt-BR"
    if c.startswith("en"):
        return "en"
    return default


def parse_hhmm(text: str, name: str) -> time:
    """``"21:30"`` → ``time(21, 30)``.

    Raises:
        ValidationError: naming ``name`` when the text is not ``HH:MM``.
    """
    try:
        hh, mm = text.split(":")
        return time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValidationError(f"{name}: expected HH:MM, got {text!r}") from None


def zone(name: str, field_name: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name``.

    Raises:
        ValidationError: naming ``field_name`` when the zone is unknown.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{field_name}: unknown IANA timezone {name!r}") from None


@dataclass(frozen=True)
class NotifySettings:
    """An organisation's notification settings (see ``notify_settings``).

    ``channels``: default channel order for customers without preferences; ``quiet_*``:
    local ``HH:MM`` in the customer's ``timezone``; ``eta_threshold_s``: smallest ETA move
    (seconds) worth a message; ``link_ttl_s``: lifetime of tracking links (seconds).
    """

    org_id: str = "default"
    enabled: bool = True
    brand_name: str = "Baton"
    brand_color: str = "#1f5fbf"
    support_contact: str = ""
    timezone: str = "America/Sao_Paulo"
    default_language: str = "pt-BR"
    channels: tuple[str, ...] = ("email", "sms")
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    eta_threshold_s: int = 900
    email_from: str = "entregas@example.com"
    sms_from: str = "+15005550006"
    whatsapp_from: str = "+15005550006"
    webhook_url: str | None = None
    tracking_base_url: str = "http://localhost:8000"
    signing_secret: str = ""
    link_ttl_s: int = 14 * 86400

    def __post_init__(self) -> None:
        zone(self.timezone)
        parse_hhmm(self.quiet_start, "quiet_start")
        parse_hhmm(self.quiet_end, "quiet_end")
        for c in self.channels:
            if c not in CUSTOMER_CHANNELS:
                raise ValidationError(f"channels: unknown channel {c!r} (known: {', '.join(CUSTOMER_CHANNELS)})")
        if self.eta_threshold_s < 0:
            raise ValidationError(f"eta_threshold_s must be >= 0, got {self.eta_threshold_s}")


@dataclass(frozen=True)
class Preference:
    """A customer's choices; ``None`` fields fall back to the organisation's settings."""

    customer_key: str
    channels: tuple[str, ...] | None = None
    opted_out: bool = False
    language: str | None = None
    timezone: str | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None


def customer_key(customer: Customer) -> str:
    """The key preferences and rate limits use: lower-cased e-mail, else phone, else the name."""
    if customer.email:
        return customer.email.strip().lower()
    if customer.phone:
        return customer.phone.strip()
    return f"name:{customer.name.strip().lower()}"


@dataclass(frozen=True)
class Delivery:
    """Where one message goes: ``channel`` and ``recipient`` (address or E.164 number)."""

    channel: str
    recipient: str


@dataclass(frozen=True)
class Audience:
    """Who gets a message and how: the channels in order (first = primary, rest = fallbacks)."""

    customer_key: str
    deliveries: list[Delivery] = field(default_factory=list)
    language: str = "en"
    timezone: str = "UTC"
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"
    opted_out: bool = False


def audience(customer: Customer, settings: NotifySettings, pref: Preference | None) -> Audience:
    """The channels (in preference order, only those with a contact), language, zone and quiet hours."""
    order = list(pref.channels) if pref and pref.channels else list(settings.channels)
    deliveries: list[Delivery] = []
    for ch in order:
        if ch == "email" and customer.email:
            deliveries.append(Delivery("email", customer.email))
        elif ch in ("sms", "whatsapp") and customer.phone:
            deliveries.append(Delivery(ch, customer.phone))
    lang = normalise_language(
        (pref.language if pref and pref.language else None) or customer.language or settings.default_language,
        normalise_language(settings.default_language),
    )
    return Audience(
        customer_key=customer_key(customer),
        deliveries=deliveries,
        language=lang,
        timezone=(pref.timezone if pref and pref.timezone else settings.timezone),
        quiet_start=(pref.quiet_start if pref and pref.quiet_start else settings.quiet_start),
        quiet_end=(pref.quiet_end if pref and pref.quiet_end else settings.quiet_end),
        opted_out=bool(pref and pref.opted_out),
    )


def quiet_until(at: datetime, tz_name: str, quiet_start: str, quiet_end: str) -> datetime | None:
    """When quiet hours are over if ``at`` falls inside them (aware, same zone as ``tz_name``), else ``None``.

    Quiet hours ``[quiet_start, quiet_end)`` are local times in ``tz_name`` and may wrap
    midnight (``21:00``-``08:00``). Equal start and end mean no quiet hours.
    """
    start, end = parse_hhmm(quiet_start, "quiet_start"), parse_hhmm(quiet_end, "quiet_end")
    if start == end:
        return None
    local = at.astimezone(zone(tz_name))
    t = local.time().replace(tzinfo=None)
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date()
    if start > end and t >= start:
        day = day + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo)
