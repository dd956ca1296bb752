"""``baton bench ...``: benchmarks. Each prints a table with a progress bar on stderr and, with
``--json``, exactly one JSON object on stdout. Results are recorded in ``docs/benchmarks.md``."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks (tables; --json prints one JSON object).", no_args_is_help=True)

from baton.entrypoints.cli_bench_vrp import convergence, planning, scale, vrptw  # noqa: E402

bench_app.command("vrptw")(vrptw)
bench_app.command("planning")(planning)
bench_app.command("scale")(scale)
bench_app.command("convergence")(convergence)

from baton.entrypoints.cli_execute import bench_ingest  # noqa: E402

bench_app.command("ingest")(bench_ingest)

from baton.entrypoints.cli_dispatch_bench import bench_dispatch_failover  # noqa: E402

bench_app.command("dispatch-failover")(bench_dispatch_failover)

from baton.entrypoints.cli_live import outcome, replan  # noqa: E402

bench_app.command("replan")(replan)
bench_app.command("outcome")(outcome)

from baton.entrypoints.cli_bench_dynamic import dynamic  # noqa: E402

bench_app.command("dynamic")(dynamic)

from baton.entrypoints.cli_bench_improve import bench_improve  # noqa: E402

bench_app.command("improve")(bench_improve)
