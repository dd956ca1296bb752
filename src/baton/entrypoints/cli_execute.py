"""``baton execute ...``: exceptions (list, show, acknowledge, resolve), rejected pings, trail pruning,
ETA accuracy; and ``baton bench ingest``.

Every command takes ``--database-url`` (default ``BATON_DATABASE_URL`` or the embedded SQLite file)
and ``--json`` (exactly one JSON object or array on stdout).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from baton.domain.errors import DomainError
from baton.execute.records import ExceptionRecord, ExecutionRecords
from baton.service_layer import commands
from baton.service_layer.messagebus import MessageBus

execute_app = typer.Typer(help="Execution: exceptions, positions, ETA accuracy.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: BATON_DATABASE_URL).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def _bus(url: str | None) -> MessageBus:
    from baton.adapters.travel.greatcircle import GreatCircleProvider
    from baton.service_layer.bootstrap import bootstrap

    return bootstrap(url, travel=GreatCircleProvider())


def _exc_dict(e: ExceptionRecord) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in e.__dict__.items()}


@execute_app.command("exceptions")
def list_exceptions(status: Annotated[str | None, typer.Option(help="open, acknowledged or resolved")] = None,
                    kind: Annotated[str | None, typer.Option(help="late_risk, long_dwell, ...")] = None,
                    database_url: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List exceptions (oldest first) with their status and who handled them."""
    bus = _bus(database_url)
    uow: Any = bus.uow
    with uow:
        found = ExecutionRecords(uow.session, uow.org_id).exceptions(status, kind)
    if as_json:
        print(json.dumps([_exc_dict(e) for e in found]))
        return
    table = Table("id", "kind", "status", "route", "order", "opened", "dispatcher", "resolution")
    for e in found:
        table.add_row(e.id, e.kind, e.status, e.route_id or "", e.order_id or "", e.opened_at.isoformat(),
                      "yes" if e.needs_dispatcher else "", e.resolution or "")
    out.print(table)


@execute_app.command("show")
def show_exception(exception_id: str, database_url: DbOpt = None, as_json: JsonOpt = False) -> None:
    """One exception with its action log."""
    bus = _bus(database_url)
    uow: Any = bus.uow
    with uow:
        records = ExecutionRecords(uow.session, uow.org_id)
        found = records.get_exception(exception_id)
        if found is None:
            err.print(f"[red]exception_id: unknown exception {exception_id}")
            raise typer.Exit(1)
        actions = records.actions(exception_id)
    body = _exc_dict(found) | {"actions": [{"at": a.at.isoformat(), "action": a.action, "outcome": a.outcome,
                                             "detail": a.detail, "actor": a.actor} for a in actions]}
    if as_json:
        print(json.dumps(body))
        return
    out.print(f"[bold]{found.id}[/] {found.kind} ({found.status}) route={found.route_id} details={found.details}")
    table = Table("at", "action", "outcome", "detail", "actor")
    for a in body["actions"]:
        table.add_row(a["at"], a["action"], a["outcome"], a["detail"], a["actor"])
    out.print(table)


def _handle(database_url: str | None, command: commands.Command) -> None:
    try:
        _bus(database_url).handle(command)
    except DomainError as exc:
        err.print(f"[red]{exc}")
        raise typer.Exit(1) from exc


@execute_app.command("ack")
def acknowledge(exception_id: str,
                actor: Annotated[str, typer.Option(help="Who, as kind:id (e.g. user:ana).")],
                note: Annotated[str | None, typer.Option(help="Free text.")] = None,
                database_url: DbOpt = None) -> None:
    """Acknowledge an open exception (a dispatcher owns it now)."""
    _handle(database_url, commands.AcknowledgeException(at=datetime.now(UTC), actor=actor,
                                                        exception_id=exception_id, note=note))
    err.print(f"acknowledged {exception_id}")


@execute_app.command("resolve")
def resolve(exception_id: str,
            resolution: Annotated[str, typer.Option(help="How it was resolved.")],
            actor: Annotated[str, typer.Option(help="Who, as kind:id (e.g. user:ana).")],
            database_url: DbOpt = None) -> None:
    """Resolve an exception, saying how."""
    _handle(database_url, commands.ResolveException(at=datetime.now(UTC), actor=actor, exception_id=exception_id,
                                                    resolution=resolution))
    err.print(f"resolved {exception_id}")


@execute_app.command("rejections")
def rejections(database_url: DbOpt = None, as_json: JsonOpt = False) -> None:
    """How many GPS pings were refused, per reason."""
    from baton.adapters.repository.positions import PositionRepository

    bus = _bus(database_url)
    uow: Any = bus.uow
    with uow:
        counts = PositionRepository(uow.session, uow.org_id).rejection_counts()
    if as_json:
        print(json.dumps(counts))
        return
    table = Table("reason", "pings")
    for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        table.add_row(reason, str(n))
    out.print(table)


@execute_app.command("prune")
def prune(retention_days: Annotated[float, typer.Option(help="Keep this many days of trail.")] = 7.0,
          database_url: DbOpt = None) -> None:
    """Delete GPS trail points older than the retention."""
    from baton.execute.service import ExecutionService, ExecutionSettings

    service = ExecutionService(_bus(database_url), ExecutionSettings(retention_s=int(retention_days * 86400)))
    err.print(f"deleted {service.prune_trail()} trail point(s)")


@execute_app.command("accuracy")
def accuracy(database_url: DbOpt = None, as_json: JsonOpt = False) -> None:
    """ETA accuracy: mean absolute error (minutes) of the last ETA before each arrival."""
    bus = _bus(database_url)
    uow: Any = bus.uow
    with uow:
        records = ExecutionRecords(uow.session, uow.org_id)
        n, mae = records.eta_accuracy()
        opened = records.exceptions()
    body = {"arrivals_with_eta": n, "eta_mae_min": None if mae is None else round(mae, 2),
            "exceptions_opened": len(opened), "exceptions_auto_resolved": sum(1 for e in opened if e.auto_resolved)}
    if as_json:
        print(json.dumps(body))
        return
    table = Table("metric", "value")
    for k, v in body.items():
        table.add_row(k, str(v))
    out.print(table)


def bench_ingest(
    store: Annotated[str, typer.Option(help="sqlite or postgresql")] = "sqlite",
    vehicles: Annotated[int, typer.Option(min=1, help="Vans on in-progress routes, one ping each per round.")] = 2000,
    seconds: Annotated[float, typer.Option(min=1, help="How long to send pings.")] = 10.0,
    batch: Annotated[int, typer.Option(min=1, max=5000, help="Pings per HTTP request.")] = 500,
    workers: Annotated[int, typer.Option(min=1, help="Concurrent HTTP connections of the load generator.")] = 4,
    refresh_interval: Annotated[float, typer.Option(min=0.01, help="Seconds between coalesced ETA passes.")] = 0.2,
    speed_mps: Annotated[float, typer.Option(min=0, max=40, help="How fast the vans drive towards their stops "
                                             "(m/s, real time; pings carry the real clock).")] = 8.0,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="PostgreSQL server to create the scratch database on "
                               "(default postgresql://postgres@127.0.0.1:5432/postgres).")] = None,
    speed_spread: Annotated[float, typer.Option(min=0, max=0.9, help="Each van drives at its own speed within "
                                                "this share of --speed-mps (0: the fleet in lockstep).")] = 0.25,
    ingest_process: Annotated[bool, typer.Option(
        "--ingest-process/--in-process", help="Validate and store pings in the ingest worker process "
                                              "(default), or in the server's own process.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Sustained pings/s through the HTTP API into the store, with ETA lag percentiles."""
    from baton.execute.bench import run_ingest_bench

    logging.getLogger("baton").setLevel(logging.WARNING)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=err) as progress:
        task = progress.add_task("seeding", total=1)

        def on_progress(phase: str, done: float, total: float) -> None:
            progress.update(task, description=phase, completed=done, total=total)

        try:
            result = run_ingest_bench(store, vehicles, seconds, database_url, batch, workers, refresh_interval,
                                      on_progress, speed_mps=speed_mps, ingest_process=ingest_process,
                                      speed_spread=speed_spread)
        except ValueError as exc:
            err.print(f"[red]{exc}")
            raise typer.Exit(2) from exc
    body = result.as_dict()
    if as_json:
        sys.stdout.write(json.dumps(body) + "\n")
        return
    table = Table("metric", "value", title="baton bench ingest")
    for k, v in body.items():
        table.add_row(k, str(v))
    out.print(table)


@execute_app.command("sla")
def sla(database_url: DbOpt = None, as_json: JsonOpt = False) -> None:
    """SLA now: per route and per carrier, orders on time / early / late / at risk / pending and OTD %."""
    from baton.execute.sla import sla_report

    bus = _bus(database_url)
    uow: Any = bus.uow
    with uow:
        orders, routes, carriers = sla_report(uow.session, uow.org_id)
    body = {"orders": [o.__dict__ for o in orders], "routes": [a.as_dict() for a in routes],
            "carriers": [a.as_dict() for a in carriers]}
    if as_json:
        print(json.dumps(body))
        return
    statuses = ("on_time", "early", "late", "at_risk", "pending")
    for title, aggs in (("route", routes), ("carrier", carriers)):
        table = Table(title, *statuses, "OTD %")
        for a in aggs:
            table.add_row(a.key, *(str(a.counts.get(s, 0)) for s in statuses),
                          "" if a.otd_pct is None else f"{a.otd_pct:.1f}")
        out.print(table)
