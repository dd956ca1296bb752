"""``baton notify …``: configure customer notifications, run the sender, read the message log."""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

notify_app = typer.Typer(help="Customer notifications: settings, preferences, sender, message log.",
                         no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DbOption = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: BATON_DATABASE_URL).")]
OrgOption = Annotated[str, typer.Option("--org", help="Organisation id.")]


def _factory(database_url: str | None):  # type: ignore[no-untyped-def]
    from baton.adapters.db import make_engine, migrate, session_factory

    engine = make_engine(database_url)
    migrate(engine)
    return session_factory(engine)


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@notify_app.command("enable")
def enable(
    brand: Annotated[str, typer.Option(help="Brand name shown in messages.")] = "Baton",
    color: Annotated[str, typer.Option(help="Brand colour (CSS).")] = "#1f5fbf",
    support: Annotated[str, typer.Option(help="Support contact shown in messages.")] = "",
    timezone: Annotated[str, typer.Option(help="Default customer timezone (IANA).")] = "America/Sao_Paulo",
    language: Annotated[str, typer.Option(help="Default language (en, pt-BR).")] = "pt-BR",
    channels: Annotated[str, typer.Option(help="Default channel order, comma-separated.")] = "email,sms",
    quiet: Annotated[str, typer.Option(help="Quiet hours HH:MM-HH:MM, local ('00:00-00:00' = none).")] = "21:00-08:00",
    eta_threshold_min: Annotated[int, typer.Option(help="Smallest ETA change worth a message, minutes.")] = 15,
    tracking_url: Annotated[str, typer.Option(help="Public base URL of the tracking page.")] = "http://localhost:8000",
    webhook_url: Annotated[str | None, typer.Option(help="Also POST every notification to this URL.")] = None,
    email_from: Annotated[str, typer.Option(help="From address.")] = "entregas@example.com",
    sms_from: Annotated[str, typer.Option(help="SMS/WhatsApp sender number (E.164).")] = "+15005550006",
    disable: Annotated[bool, typer.Option("--disable", help="Switch notifications off.")] = False,
    org: OrgOption = "default",
    database_url: DbOption = None,
) -> None:
    """Switch notifications on (or off) for an organisation and set its branding and defaults."""
    from baton.domain.errors import ValidationError
    from baton.notify import store
    from baton.notify.model import NotifySettings

    start, _, end = quiet.partition("-")
    sf = _factory(database_url)
    with sf() as session, session.begin():
        current = store.load_settings(session, org)
        try:
            settings = NotifySettings(
                org_id=org, enabled=not disable, brand_name=brand, brand_color=color, support_contact=support,
                timezone=timezone, default_language=language,
                channels=tuple(c.strip() for c in channels.split(",") if c.strip()), quiet_start=start,
                quiet_end=end, eta_threshold_s=eta_threshold_min * 60, email_from=email_from, sms_from=sms_from,
                whatsapp_from=sms_from, webhook_url=webhook_url, tracking_base_url=tracking_url,
                signing_secret=current.signing_secret if current else "")
        except ValidationError as exc:
            _fail(str(exc))
            return
        store.save_settings(session, settings)
    out.print(f"notifications {'disabled' if disable else 'enabled'} for organisation {org}")


@notify_app.command("prefs")
def prefs(
    customer: Annotated[str, typer.Argument(help="Customer e-mail (lower-cased) or E.164 phone.")],
    channels: Annotated[str | None, typer.Option(help="Channel order, comma-separated (email,sms,whatsapp).")] = None,
    opt_out: Annotated[bool | None, typer.Option("--opt-out/--opt-in", help="Stop or resume all messages.")] = None,
    language: Annotated[str | None, typer.Option(help="en or pt-BR.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA timezone.")] = None,
    quiet: Annotated[str | None, typer.Option(help="Quiet hours HH:MM-HH:MM, local.")] = None,
    org: OrgOption = "default",
    database_url: DbOption = None,
) -> None:
    """Set one customer's channel order, opt-out, language, timezone or quiet hours."""
    from baton.domain.errors import ValidationError
    from baton.notify import store
    from baton.notify.model import CUSTOMER_CHANNELS, Preference, parse_hhmm, zone

    key = customer.strip().lower() if "@" in customer else customer.strip()
    sf = _factory(database_url)
    with sf() as session, session.begin():
        pref = store.load_preferences(session, org, [key]).get(key, Preference(key))
        try:
            if channels is not None:
                chosen = tuple(c.strip() for c in channels.split(",") if c.strip())
                bad = [c for c in chosen if c not in CUSTOMER_CHANNELS]
                if bad:
                    raise ValidationError(f"channels: unknown channel {bad[0]!r}")
                pref = replace(pref, channels=chosen)
            if opt_out is not None:
                pref = replace(pref, opted_out=opt_out)
            if language is not None:
                pref = replace(pref, language=language)
            if timezone is not None:
                zone(timezone)
                pref = replace(pref, timezone=timezone)
            if quiet is not None:
                start, _, end = quiet.partition("-")
                parse_hhmm(start, "quiet"), parse_hhmm(end, "quiet")
                pref = replace(pref, quiet_start=start, quiet_end=end)
        except ValidationError as exc:
            _fail(str(exc))
        store.save_preference(session, org, pref)
    out.print(f"preferences saved for {key}")


@notify_app.command("template")
def template(
    kind: Annotated[str, typer.Argument(help="Message kind, e.g. late_risk.")],
    language: Annotated[str, typer.Argument(help="en or pt-BR.")],
    file: Annotated[Path, typer.Argument(help="Jinja2 file with blocks subject, email, sms.")],
    org: OrgOption = "default",
    database_url: DbOption = None,
) -> None:
    """Override one message template for an organisation."""
    from baton.domain.errors import ValidationError
    from baton.notify import store
    from baton.notify.model import LANGUAGES, Kind
    from baton.notify.render import validate_template

    try:
        Kind(kind)
    except ValueError:
        _fail(f"kind: unknown {kind!r} (known: {', '.join(k.value for k in Kind)})")
    if language not in LANGUAGES:
        _fail(f"language: unsupported {language!r} (supported: {', '.join(LANGUAGES)})")
    source = file.read_text(encoding="utf-8")
    try:
        validate_template(source)
    except ValidationError as exc:
        _fail(f"{file}: {exc}")
    sf = _factory(database_url)
    with sf() as session, session.begin():
        store.save_template(session, org, kind, language, source)
    out.print(f"template {language}/{kind} saved for organisation {org}")


@notify_app.command("link")
def link(
    order_id: Annotated[str, typer.Argument(help="Order id.")],
    org: OrgOption = "default",
    database_url: DbOption = None,
) -> None:
    """Print the signed tracking link of an order."""
    from sqlalchemy import select

    from baton.adapters import orm
    from baton.notify import store
    from baton.notify.outbox import tracking_url

    sf = _factory(database_url)
    with sf() as session:
        settings = store.load_settings(session, org)
        known = session.execute(select(orm.orders.c.id).where(orm.orders.c.org_id == org,
                                                              orm.orders.c.id == order_id)).first()
    if known is None:
        _fail(f"order_id: unknown order {order_id!r} in organisation {org}")
    if settings is None:
        _fail(f"notifications are not configured for organisation {org}: run `baton notify enable`")
        return
    out.print(tracking_url(settings, order_id, datetime.now(UTC)), soft_wrap=True)


@notify_app.command("log")
def log(
    order_id: Annotated[str, typer.Argument(help="Order id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    org: OrgOption = "default",
    database_url: DbOption = None,
) -> None:
    """Every message of one order with its channel and delivery status."""
    from baton.notify import store

    sf = _factory(database_url)
    with sf() as session:
        rows = store.message_log(session, org, order_id)
    keys = ("id", "kind", "channel", "recipient", "language", "status", "status_reason", "event_at", "not_before",
            "sent_at", "delivered_at", "provider_id", "attempts")
    if as_json:
        print(json.dumps({"order_id": order_id, "messages": [{k: r[k] for k in keys} for r in rows]}, default=str))
        return
    table = Table(title=f"messages of order {order_id}")
    for k in ("kind", "channel", "recipient", "status", "status_reason", "event_at", "sent_at"):
        table.add_column(k)
    for r in rows:
        table.add_row(*(str(r[k] or "") for k in ("kind", "channel", "recipient", "status", "status_reason",
                                                  "event_at", "sent_at")))
    out.print(table)


@notify_app.command("send")
def send(
    once: Annotated[bool, typer.Option("--once", help="Send what is due and exit (default: keep polling).")] = False,
    batch: Annotated[int, typer.Option(help="Rows claimed per batch.")] = 50,
    lease_s: Annotated[int, typer.Option(help="Seconds before a dead worker's claimed rows are retried.")] = 300,
    poll_s: Annotated[float, typer.Option(help="Seconds between polls when idle.")] = 2.0,
    attempts: Annotated[int, typer.Option(help="Tries per message and channel (transient errors).")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: print the counts as one JSON object.")] = False,
    database_url: DbOption = None,
) -> None:
    """Run the sender worker: claim due outbox rows, send them (channels from BATON_SMTP_*/BATON_TWILIO_*/
    BATON_WEBHOOK_SECRET), retry, fall back, record delivery status."""
    from baton.notify.config import channels_from_env
    from baton.notify.sender import RetryPolicy, Sender, SendStats

    channels = channels_from_env()
    if not channels:
        _fail("no channel configured: set BATON_SMTP_HOST and/or BATON_TWILIO_ACCOUNT_SID (see docs/notifications.md)")
    sender = Sender(_factory(database_url), channels, retry=RetryPolicy(attempts=attempts), lease_s=lease_s,
                    batch_size=batch)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    total = SendStats()
    with Progress(TextColumn("[bold]sending"), BarColumn(), TextColumn("{task.completed} messages"),
                  TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task("send", total=None)
        while True:
            stats = sender.run_once(on_progress=lambda n: progress.advance(task, n))
            for k, v in stats.as_dict().items():
                setattr(total, k, getattr(total, k) + v)
            if once or stopping:
                break
            time.sleep(poll_s)
    if as_json:
        print(json.dumps(total.as_dict()))
    else:
        err.print(f"sent {total.sent}, failed {total.failed}, fell back {total.fell_back}, skipped {total.skipped}")
    sys.stdout.flush()


@notify_app.command("wismo")
def wismo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    org: OrgOption = "default",
    database_url: DbOption = None,
) -> None:
    """WISMO measures: messages sent per order and the share of delays announced before the window starts."""
    from baton.notify.wismo import measure

    sf = _factory(database_url)
    with sf() as session:
        result = measure(session, org)
    if as_json:
        print(json.dumps(result.as_dict()))
        return
    table = Table(title=f"WISMO, organisation {org}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in result.as_dict().items():
        table.add_row(k, "-" if v is None else str(v))
    out.print(table)
