"""``baton bench ...``: benchmarks. Each prints a table with a progress bar on stderr and, with
``--json``, exactly one JSON object on stdout. Results are recorded in ``docs/benchmarks.md``."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks (tables; --json prints one JSON object).", no_args_is_help=True)
