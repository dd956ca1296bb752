"""``baton bench dynamic``: the organisers' dynamic environment driven in place (needs ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from baton.bench.dynamic import DynamicBenchError, demand_model, dynamic_runs, load_harness, wave_state
from baton.entrypoints.cli import app
from baton.live.waves import WaveState, must_dispatch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ORTEC = SHARED / "ortec"
needs_data = pytest.mark.skipif(not (ORTEC / "harness" / "environment.py").is_file(),
                                reason="../shared/data/ortec (the EURO-NeurIPS harness) not present")


def test_missing_shared_data_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "dynamic", "--data", str(tmp_path), "--json"])
    assert result.exit_code == 2
    assert "ORTEC harness was not found" in result.output


@needs_data
def test_first_runs_and_seeds_come_from_configs() -> None:
    configs = [c for c in json.loads((ORTEC / "final" / "configs.json").read_text()) if not c["static"]]
    runs = dynamic_runs(ORTEC, 2)
    assert [(p.name, s) for p, s in runs] == [(c["instance"], c["instance_seed"]) for c in configs[:2]]
    assert [s for _, s in dynamic_runs(ORTEC, 2, seed=9)] == [9, 9]
    with pytest.raises(DynamicBenchError, match="--instances"):
        dynamic_runs(ORTEC, 0)


@needs_data
def test_must_dispatch_matches_the_environment() -> None:
    environment, tools = load_harness(ORTEC)
    path, seed = dynamic_runs(ORTEC, 1)[0]
    instance = tools.read_vrplib(str(path))
    env = environment.VRPEnvironment(seed=seed, instance=instance, epoch_tlim=60)
    observation, info = env.reset()
    model = demand_model(instance, env)
    done, checked = False, 0
    while not done:
        state = wave_state(observation, info["end_epoch"])
        env_mask = np.asarray(observation["epoch_instance"]["must_dispatch"], dtype=bool)
        # our rule alone (the environment's own flags removed from the state)
        ours = must_dispatch(WaveState(**{**state.__dict__, "must": np.zeros(state.size, dtype=bool)}), model)
        assert (ours == env_mask).all()
        checked += int(env_mask.sum())
        ids = observation["epoch_instance"]["request_idx"]
        routes = [[int(ids[i])] for i in np.flatnonzero(env_mask)]  # lazy: one route each
        observation, _reward, done, step = env.step(routes)
        assert not step["error"]
    assert checked > 0


@needs_data
def test_bench_dynamic_on_one_instance_with_short_epochs() -> None:
    result = CliRunner().invoke(app, ["bench", "dynamic", "--instances", "1", "--epoch-seconds", "1.5", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["epoch_seconds"] == 1.5
    for policy in ("greedy", "lazy", "baton"):
        assert out[policy]["failed"] == 0
        assert out[policy]["mean_cost"] > 0
    row = out["instances"][0]
    assert row["instance"].startswith("ORTEC-VRPTW-ASYM-") and row["requests"] > 100
    assert row["dispatched"] == {"greedy": row["requests"], "lazy": row["requests"], "baton": row["requests"]}
    assert row["errors"] == {}
    assert out["ratio_baton_greedy"] == pytest.approx(row["baton"] / row["greedy"])
    # lazy sends nearly every request out on its own last-minute route: the costliest by far
    assert row["lazy"] > max(row["greedy"], row["baton"])


def test_report_and_table_from_results() -> None:
    from rich.console import Console

    from baton.bench.dynamic import DynamicResult, PolicyRun, report
    from baton.entrypoints.cli_bench_dynamic import _table

    results = [DynamicResult("ORTEC-VRPTW-ASYM-aaaa-d1-n200-k10", 1, 6, 400,
                             {"greedy": PolicyRun(cost=1000), "lazy": PolicyRun(cost=1500),
                              "baton": PolicyRun(cost=900)}),
               DynamicResult("ORTEC-VRPTW-ASYM-bbbb-d1-n300-k10", 2, 6, 450,
                             {"greedy": PolicyRun(cost=2000), "lazy": PolicyRun(error="Time exceeded"),
                              "baton": PolicyRun(cost=1700)})]
    out = report(results, 10.0)
    assert out["greedy"]["mean_cost"] == 1500 and out["baton"]["mean_cost"] == 1300
    assert out["lazy"] == {"mean_cost": 1500, "costs": [1500, None], "failed": 1}
    assert out["ratio_baton_greedy"] == pytest.approx(2600 / 3000)
    assert out["instances"][1]["errors"] == {"lazy": "Time exceeded"}
    console = Console(record=True, width=200)
    console.print(_table(out, ("greedy", "lazy", "baton")))
    text = console.export_text()
    assert "failed" in text and "0.867" in text and "0.900" in text
