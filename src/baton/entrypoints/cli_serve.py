"""``baton serve`` (the API and dashboard under uvicorn) and ``baton admin ...`` (organisations, users, API keys)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

admin_app = typer.Typer(help="Access control: organisations, users and API keys.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DbOption = Annotated[str | None, typer.Option(help="Default: BATON_DATABASE_URL or the embedded SQLite file.")]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (set BATON_REDIS_URL for live updates "
                                                     "across them).")] = 1,
    database_url: DbOption = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    ingest_process: Annotated[bool, typer.Option(
        "--ingest-process/--in-process-ingest",
        help="Validate and store GPS pings in a separate process per organisation (BATON_INGEST_PROCESS; "
             "~1.5x the pings/s, docs/benchmarks.md).")] = False,
) -> None:
    """Run the HTTP API (/api/v1, docs at /api/v1/docs) and the live dashboard (/) with uvicorn."""
    import uvicorn

    from baton.adapters.db import database_url as default_url
    from baton.adapters.db import make_engine, migrate
    from baton.entrypoints.api.security import resolve_secret_key

    url = database_url or default_url()
    os.environ["BATON_DATABASE_URL"] = url  # the worker processes build the app from the environment
    if ingest_process:
        os.environ["BATON_INGEST_PROCESS"] = "1"
    os.environ["BATON_SERVER_WORKERS"] = str(workers)  # live orchestration needs one process (routes_live)
    migrate(make_engine(url))
    resolve_secret_key()  # fail early in production without BATON_SECRET_KEY; create the dev key once
    if workers > 1 and not os.environ.get("BATON_REDIS_URL"):
        err.print("[yellow]warning:[/yellow] several workers without BATON_REDIS_URL: a dashboard sees live "
                  "updates only from the worker it is connected to")
    err.print(f"Baton on http://{host}:{port}/  (API docs: http://{host}:{port}/api/v1/docs, database {url})")
    uvicorn.run("baton.entrypoints.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, timeout_graceful_shutdown=5)


def _store(database_url: str | None):  # type: ignore[no-untyped-def]
    from baton.adapters.db import make_engine, migrate, session_factory
    from baton.entrypoints.api.accounts import AccountStore

    engine = make_engine(database_url)
    migrate(engine)
    return AccountStore(session_factory(engine))


@admin_app.command("create-user")
def create_user(
    org: Annotated[str, typer.Option(help="Organisation id (created when new), e.g. acme.")],
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    role: Annotated[str, typer.Option(help="admin, dispatcher, viewer, driver or carrier.")] = "admin",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    driver_id: Annotated[str | None, typer.Option(help="For role driver: the driver id.")] = None,
    carrier_id: Annotated[str | None, typer.Option(help="For role carrier: the carrier id.")] = None,
    database_url: DbOption = None,
) -> None:
    """Create a user (the first admin, typically). The password comes from BATON_ADMIN_PASSWORD or a prompt."""
    from baton.entrypoints.api.accounts import AccountError

    password = os.environ.get("BATON_ADMIN_PASSWORD") or typer.prompt("Password", hide_input=True,
                                                                      confirmation_prompt=True)
    if len(password) < 8:
        err.print("[red]error:[/red] password: must have at least 8 characters")
        raise typer.Exit(2)
    store = _store(database_url)
    try:
        created = store.ensure_organisation(org)
        user = store.create_user(org, email, password, role, name=name, driver_id=driver_id, carrier_id=carrier_id)
    except AccountError as exc:
        err.print(f"[red]error:[/red] {exc.field}: {exc.message}")
        raise typer.Exit(2) from exc
    if created:
        out.print(f"Created organisation {org}.")
    out.print(f"Created {user.role} {user.email} in {user.org_id} (id {user.id}).")


@admin_app.command("create-api-key")
def create_api_key(
    org: Annotated[str, typer.Option(help="Organisation id.")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'shop integration'.")],
    scope: Annotated[list[str], typer.Option(help="A scope (repeat), e.g. orders:write.")],
    database_url: DbOption = None,
) -> None:
    """Create an API key and print it once (store it: only its hash is kept)."""
    from baton.entrypoints.api.accounts import AccountError

    store = _store(database_url)
    try:
        _stored, key = store.create_api_key(org, name, scope, created_by="system:cli")
    except AccountError as exc:
        err.print(f"[red]error:[/red] {exc.field}: {exc.message}")
        raise typer.Exit(2) from exc
    out.print(key)


@admin_app.command("list-users")
def list_users(org: Annotated[str, typer.Option(help="Organisation id.")], database_url: DbOption = None) -> None:
    """List an organisation's users."""
    for u in _store(database_url).list_users(org):
        out.print(f"{u.email}\t{u.role}\t{'active' if u.active else 'inactive'}\t{u.id}")


def watch_demo(*, day: Path | None, out_dir: Path, seed: int, seconds: float, limit: int | None,
               database_url: str | None, port: int, speed: float) -> None:
    """``baton demo --serve``: serve the dashboard and run the demo day through it, paced; Ctrl-C stops."""
    import threading
    from datetime import datetime

    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from baton.entrypoints.api.demo_live import LiveDemo, serve_demo

    if database_url is None:
        out_dir.mkdir(parents=True, exist_ok=True)
        db_file = out_dir / "live.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{db_file.resolve()}"
    stop = threading.Event()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=err) as bar:
        task = bar.add_task("Planning the day", total=None)

        def ready(demo: LiveDemo) -> None:
            err.print(f"Dashboard: [bold]{demo.url}[/bold]  login [bold]{demo.email}[/bold] / "
                      f"[bold]{demo.password}[/bold]  (Ctrl-C to stop)")

        def step(done: int, total: int, now: datetime) -> None:
            bar.update(task, total=total, completed=done, description=f"Running the day  {now.strftime('%H:%M')}")

        try:
            serve_demo(database_url=database_url, port=port, day_path=day, seed=seed, limit=limit,
                       seconds=seconds, speed=speed, on_ready=ready, on_step=step, stop=stop)
        except KeyboardInterrupt:
            stop.set()
