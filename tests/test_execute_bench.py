"""``baton bench ingest`` end to end on SQLite (tiny): real uvicorn, real HTTP, one JSON object out."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from baton.entrypoints.cli import app


def test_bench_ingest_prints_one_json_object() -> None:
    result = CliRunner().invoke(app, ["bench", "ingest", "--store", "sqlite", "--vehicles", "20", "--seconds", "6",
                                      "--batch", "10", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"store", "pings_per_s", "eta_lag_p50_ms", "eta_lag_p95_ms"} <= set(body)
    assert body["store"] == "sqlite" and body["pings"] > 0 and body["rejected"] == 0
    assert body["pings_per_s"] > 0 and body["eta_lag_p95_ms"] >= body["eta_lag_p50_ms"] > 0


def test_bench_ingest_refuses_an_unknown_store() -> None:
    result = CliRunner().invoke(app, ["bench", "ingest", "--store", "oracle", "--seconds", "1", "--json"])
    assert result.exit_code == 2
