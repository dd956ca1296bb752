"""``baton rules ...`` and ``baton dispatch ...``: dispatch policy, carriers, tendering, explanations.

Every command takes ``--database-url`` (default ``BATON_DATABASE_URL`` or the embedded SQLite file);
with ``--json`` a command prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from baton.dispatch.source import SourceError

rules_app = typer.Typer(help="Dispatch rules: check and load policies.", no_args_is_help=True)
dispatch_app = typer.Typer(help="Dispatch: carriers, tendering, carrier health, explanations.",
                           no_args_is_help=True)
carriers_app = typer.Typer(help="Carriers (captive, 3PL, gig).", no_args_is_help=True)
dispatch_app.add_typer(carriers_app, name="carriers")

out = Console()
err = Console(stderr=True)

DbUrl = Annotated[str | None, typer.Option(help="Default: BATON_DATABASE_URL or the embedded SQLite file.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _now() -> datetime:
    return datetime.now(UTC)


def _bus(database_url: str | None) -> Any:
    from baton.service_layer.bootstrap import bootstrap

    return bootstrap(database_url)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {path}: {exc.strerror}")
        raise typer.Exit(2) from exc


@rules_app.command("check")
def rules_check(file: Annotated[Path, typer.Argument(help="Rules file (YAML or JSON).")],
                as_json: AsJson = False) -> None:
    """Validate a rules file; on error print ``file:line: field: problem`` and exit 1."""
    from baton.dispatch.rules import parse_rules

    try:
        rules = parse_rules(_read(file), str(file))
    except SourceError as exc:
        if as_json:
            _emit({"valid": False, "line": exc.line, "field": exc.path, "error": exc.detail})
        else:
            err.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(1) from exc
    summary = {"valid": True, "name": rules.name, "version": rules.version, "zones": sorted(rules.zones),
               "rules": [{"id": r.id, "line": r.line, "conditions": [c.describe() for c in r.conditions],
                          "action": r.action.type} for r in rules.rules], "default": rules.default.type}
    if as_json:
        _emit(summary)
        return
    table = Table(title=f"{rules.name} v{rules.version}: valid")
    for col in ("rule", "line", "when", "action"):
        table.add_column(col)
    for r in rules.rules:
        action = r.action.type + (f" {r.action.carrier}" if r.action.carrier else "")
        table.add_row(r.id, str(r.line), "; ".join(c.describe() for c in r.conditions) or "always", action)
    table.add_row("default", "", "", rules.default.type)
    out.print(table)


@rules_app.command("load")
def rules_load(file: Annotated[Path, typer.Argument(help="Rules file (YAML or JSON).")],
               database_url: DbUrl = None) -> None:
    """Validate FILE and make it the active dispatch policy."""
    from baton.dispatch.rules import parse_rules
    from baton.service_layer import commands

    try:
        rules = parse_rules(_read(file), str(file))
    except SourceError as exc:
        err.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(1) from exc
    try:
        changed = _bus(database_url).handle(commands.LoadDispatchRules(at=_now(), actor="user:cli", rules=rules))
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    out.print(f"Rules {rules.name} v{rules.version} {'active' if changed else 'already active'}.")


@carriers_app.command("load")
def carriers_load(file: Annotated[Path, typer.Argument(help="Carriers file (YAML or JSON).")],
                  database_url: DbUrl = None) -> None:
    """Add or replace the carriers in FILE."""
    from baton.dispatch.carrier_file import load_carriers
    from baton.service_layer import commands

    try:
        carriers = load_carriers(_read(file), str(file))
    except SourceError as exc:
        err.print(f"[red]invalid:[/red] {exc}")
        raise typer.Exit(1) from exc
    n = _bus(database_url).handle(commands.RegisterCarriers(at=_now(), actor="user:cli", carriers=carriers))
    out.print(f"Loaded {n} carriers.")


@carriers_app.command("list")
def carriers_list(database_url: DbUrl = None, as_json: AsJson = False) -> None:
    """Carriers with their health (circuit breaker) and current load."""
    from baton.adapters.carriers.repository import dispatch_store

    bus = _bus(database_url)
    with bus.uow:
        store = dispatch_store(bus.uow)
        carriers = store.carriers()
        load = store.load_by_carrier(_now(), {c.id: c.timezone for c in carriers})
        rows: list[dict[str, Any]] = [
            {"id": c.id, "name": c.name, "fleet_type": c.fleet_type.value, "health": store.health(c.id).state.value,
                 "load": load.get(c.id, 0), "daily_capacity": c.daily_capacity, "rating": c.performance.rating,
                 "endpoint": c.endpoint} for c in carriers]
    if as_json:
        _emit({"carriers": rows})
        return
    table = Table(title="Carriers")
    for col in ("id", "fleet", "health", "load / capacity", "rating", "endpoint"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["fleet_type"], r["health"], f"{r['load']} / {r['daily_capacity']}",
                      f"{r['rating']:.1f}", r["endpoint"] or "")
    out.print(table)


@dispatch_app.command("run")
def dispatch_run(order: Annotated[list[str] | None, typer.Option(help="Only these order ids.")] = None,
                 database_url: DbUrl = None, as_json: AsJson = False) -> None:
    """Decide a resource for every created order without a decision (or --order ...) and tender it."""
    from baton.adapters.carriers.repository import dispatch_store
    from baton.domain.lifecycle import OrderStatus
    from baton.service_layer import commands

    bus = _bus(database_url)
    if order:
        ids = list(order)
    else:
        with bus.uow:
            known = dispatch_store(bus.uow).order_ids()
            ids = [o.id for o in bus.uow.orders.list(status=OrderStatus.CREATED) if o.id not in known]
    summary: dict[str, int] = {}
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                        TimeElapsedColumn(), console=err)
    with progress:
        task = progress.add_task(f"Dispatching {len(ids)} orders", total=max(1, len(ids)))
        for i in range(0, len(ids), 25):
            chunk = ids[i:i + 25]
            for state, n in bus.handle(commands.DispatchOrders(at=_now(), actor="user:cli", order_ids=chunk)).items():
                summary[state] = summary.get(state, 0) + n
            progress.advance(task, len(chunk))
    if as_json:
        _emit({"orders": len(ids), **summary})
        return
    out.print(f"Dispatched {len(ids)} orders: " + (", ".join(f"{n} {s}" for s, n in sorted(summary.items())) or "none"))


@dispatch_app.command("explain")
def dispatch_explain(order_id: Annotated[str, typer.Argument(help="Order id.")], database_url: DbUrl = None,
                     as_json: AsJson = False) -> None:
    """Why an order went where it went: rules evaluated, candidates scored, tenders, event trail."""
    from baton.domain.errors import NotFound
    from baton.service_layer.dispatch_views import explain_order

    try:
        info = explain_order(_bus(database_url).uow, order_id)
    except NotFound as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        _emit(info)
        return
    p = info["process"]
    out.print(f"[bold]{order_id}[/bold]: {p['state']}" + (f" with {p['carrier']}" if p["carrier"] else "")
              + (f" ([yellow]{p['reason']}[/yellow])" if p["reason"] else ""))
    for d in info["decisions"]:
        ex = d["explanation"]
        out.print(f"\nDecision at {d['decided_at']}: rules v{d['ruleset_version']}, fired [bold]{d['rule_id']}[/bold]"
                  f" -> {d['action']} {ex.get('queue', [])}")
        for r in ex["rules"]:
            out.print(f"  rule {r['rule']}{' (line ' + str(r['line']) + ')' if r.get('line') else ''}: {r['outcome']}")
            for c in r.get("conditions", []):
                out.print(f"    {'✓' if c['holds'] else '✗'} {c['condition']} ({c['seen']})")
        table = Table(title="Candidates")
        for col in ("carrier", "fleet", "cost", "km", "rating", "on-time", "capacity left", "excluded"):
            table.add_column(col)
        for c in ex["candidates"]:
            table.add_row(c["carrier"], c["fleet_type"], f"{c['cost']:.2f} {c['currency']}", f"{c['distance_km']:.1f}",
                          f"{c['rating']:.1f}", f"{c['on_time_pct']:.0%}", str(c["capacity_left"]), c["excluded"] or "")
        out.print(table)
    table = Table(title="Trail")
    for col in ("at", "event", "detail"):
        table.add_column(col)
    for e in info["trail"]:
        detail = {k: v for k, v in e.items() if k not in ("at", "event", "actor", "order_id")}
        table.add_row(e["at"], e["event"], ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, [])))
    out.print(table)


@dispatch_app.command("expire")
def dispatch_expire(database_url: DbUrl = None) -> None:
    """Time out offers past their deadline and move their orders to the next candidate."""
    from baton.service_layer import commands

    n = _bus(database_url).handle(commands.ExpireTenders(at=_now(), actor="user:cli"))
    out.print(f"{n} offers timed out.")


@dispatch_app.command("health")
def dispatch_health(database_url: DbUrl = None, no_probe: Annotated[bool, typer.Option(
        "--no-probe", help="Only check feed silence and cool-downs.")] = False, as_json: AsJson = False) -> None:
    """Probe carriers; carriers found down get their open orders re-tendered."""
    from baton.service_layer import commands

    result = _bus(database_url).handle(commands.CheckCarrierHealth(at=_now(), actor="user:cli", probe=not no_probe))
    if as_json:
        _emit(result)
        return
    out.print(f"Down: {', '.join(result['down']) or 'none'}; re-tendered {result['retendered']} orders.")


@dispatch_app.command("down")
def dispatch_down(carrier_id: Annotated[str, typer.Argument(help="Carrier id.")],
                  reason: Annotated[str, typer.Option(help="Why (logged with the incident).")],
                  database_url: DbUrl = None) -> None:
    """Take a carrier out of service now and re-tender its open, not-picked-up orders."""
    from baton.domain.errors import NotFound
    from baton.service_layer import commands

    try:
        n = _bus(database_url).handle(commands.MarkCarrierDown(at=_now(), actor="user:cli", carrier_id=carrier_id,
                                                               reason=reason))
    except NotFound as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    out.print(f"{carrier_id} is down; re-tendered {n} orders.")


@dispatch_app.command("watch")
def dispatch_watch(every: Annotated[float, typer.Option(help="Seconds between rounds.", min=1)] = 15.0,
                   rounds: Annotated[int | None, typer.Option(help="Stop after N rounds (default: until Ctrl-C).",
                                                              min=1)] = None,
                   database_url: DbUrl = None) -> None:
    """Run the dispatch clock: every EVERY seconds time out expired offers, check carrier health
    (re-tendering the orders of carriers found down) and dispatch new orders."""
    from baton.service_layer import commands

    bus = _bus(database_url)
    done = 0
    try:
        while rounds is None or done < rounds:
            now = _now()
            expired = bus.handle(commands.ExpireTenders(at=now, actor="system:dispatch-clock"))
            health = bus.handle(commands.CheckCarrierHealth(at=now, actor="system:dispatch-clock"))
            new = bus.handle(commands.DispatchOrders(at=now, actor="system:dispatch-clock"))
            err.print(f"{now:%H:%M:%S} expired {expired}, down {health['down'] or 'none'}, "
                      f"re-tendered {health['retendered']}, dispatched {sum(new.values())}")
            done += 1
            if rounds is None or done < rounds:
                time.sleep(every)
    except KeyboardInterrupt:
        err.print("stopped")


@dispatch_app.command("assign-drivers")
def dispatch_assign_drivers(route: Annotated[list[str] | None, typer.Option(help="Only these route ids.")] = None,
                            database_url: DbUrl = None, as_json: AsJson = False) -> None:
    """Match the current plan's routes to drivers (shift, skills, zone familiarity, workload)."""
    from baton.domain.errors import NotFound
    from baton.service_layer import commands

    try:
        result = _bus(database_url).handle(commands.AssignDrivers(at=_now(), actor="user:cli",
                                                                  route_ids=list(route) if route else None))
    except NotFound as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        _emit(result)
        return
    table = Table(title="Driver assignment")
    for col in ("route", "driver", "familiarity", "workload before", "note"):
        table.add_column(col)
    for route_id, options in result["explanations"].items():
        driver = result["assigned"].get(route_id)
        chosen = next((o for o in options if o["driver"] == driver), None)
        table.add_row(route_id, driver or "-", f"{chosen['familiarity']:.0%}" if chosen else "",
                      f"{chosen['workload']:.0%}" if chosen else "", result["unassigned"].get(route_id, ""))
    out.print(table)


@dispatch_app.command("validate")
def dispatch_validate(route: Annotated[list[str] | None, typer.Argument(help="Route ids (default: the current "
                                                                              "plan's planned routes).")] = None,
                      database_url: DbUrl = None, as_json: AsJson = False) -> None:
    """Pre-dispatch validation: orders valid, vehicle capacity, features, driver shift and hours. Exit 1 on problems."""
    from baton.domain.errors import NotFound
    from baton.service_layer.dispatch_views import validate_routes

    try:
        problems = validate_routes(_bus(database_url).uow, list(route) if route else None)
    except NotFound as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    bad = {r: p for r, p in problems.items() if p}
    if as_json:
        _emit({"routes": len(problems), "ready": len(problems) - len(bad), "problems": bad})
    else:
        for route_id, found in problems.items():
            verdict = "[green]ready[/green]" if not found else "[red]" + "; ".join(found) + "[/red]"
            out.print(f"{route_id}: {verdict}")
    if bad:
        raise typer.Exit(1)


@dispatch_app.command("fake-carrier")
def fake_carrier(port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1.")] = 8701,
                 accept_rate: Annotated[float, typer.Option(help="Share of offers accepted, 0..1.")] = 0.9,
                 latency_ms: Annotated[int, typer.Option(help="Delay before each answer, ms.")] = 50,
                 pending: Annotated[bool, typer.Option(help="Answer 'pending' (decide later).")] = False,
                 seed: Annotated[int, typer.Option(help="Seed of accept/reject draws.")] = 1) -> None:
    """Run a fake carrier speaking Baton's tender protocol on loopback until Ctrl-C."""
    from baton.adapters.carriers.fake_server import FakeCarrierServer

    server = FakeCarrierServer(accept_rate, latency_ms / 1000, seed, pending, port).start()
    err.print(f"fake carrier on {server.url} (accept {accept_rate:.0%}, latency {latency_ms} ms); Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


# gig couriers' commands (offers, accept, decline) register themselves on ``dispatch_app``
from baton.entrypoints import cli_dispatch_offers  # noqa: E402,F401
