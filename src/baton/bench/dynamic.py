"""``baton bench dynamic``: the EURO Meets NeurIPS 2022 dynamic VRPTW, driven through the organisers'
own environment (``shared/data/ortec/harness/environment.py``, MIT, imported in place from its folder,
never copied), on the first K dynamic runs of ``shared/data/ortec/final/configs.json`` (the instances are
CC BY-NC 4.0: read in place for benchmarking only).

Each epoch (one hour of the simulated day; vehicles leave one hour after the decision) a policy returns
routes for a subset of the open requests that contains every must-dispatch one; the score of a run is
the total driving time (s) over all epochs, lower is better. Policies, all with the same environment
seed, the same wall time per epoch and Baton's planner (PyVRP, one core) for the routing:

* ``greedy``: dispatch every open request each epoch (the organisers' greedy baseline);
* ``lazy``: dispatch only the must-dispatch requests (the organisers' lazy baseline);
* ``baton``: Baton's wave policy (:mod:`baton.live.waves`): sampled futures decide what waits.

The environment's clock counts from the previous ``step``; each policy uses ``epoch_s - SAFETY_S`` of it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from baton.live.waves import (
    DemandModel,
    Routes,
    WaveOptions,
    WaveState,
    must_dispatch,
    plan_wave,
    planned_ok,
    route_requests,
)

POLICIES = ("greedy", "lazy", "baton")
EXTRA_POLICIES = ("baton_scenarios",)
"""Run only when asked (``--policies``): the wave policy's sampled-scenario method."""
SAFETY_S = 1.0
"""Seconds of each epoch's wall time kept free for building data and stepping the environment."""
TARGET_RATIO = 0.88
"""Issue 5's target: ``baton`` mean cost at most this times ``greedy``'s, same epoch time."""


class DynamicBenchError(ValueError):
    """Bad request: shared data or harness missing, bad count or epoch time."""


def ortec_dir(explicit: Path | None = None) -> Path:
    """The ``ortec`` folder of the shared data (holding ``harness/`` and ``final/``): under ``explicit``
    when given (only there), else ``$BATON_SHARED_DATA``, ``../shared/data`` beside the checkout, or
    ``[./|../]shared/data`` from the working directory.

    Raises:
        DynamicBenchError: when none holds ``ortec/harness/environment.py`` and ``ortec/final/configs.json``.
    """
    candidates: list[Path] = [explicit] if explicit else []
    if explicit is None and os.environ.get("BATON_SHARED_DATA"):
        candidates.append(Path(os.environ["BATON_SHARED_DATA"]))
    if explicit is None:
        candidates += [Path(__file__).resolve().parents[4] / "shared" / "data",
                       Path.cwd() / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for root in candidates:
        for path in (root / "ortec", root):
            if (path / "harness" / "environment.py").is_file() and (path / "final" / "configs.json").is_file():
                return path
    raise DynamicBenchError("the ORTEC harness was not found: expected ../shared/data/ortec/harness and "
                            "ortec/final/configs.json (pass --data DIR, the folder holding ortec/)")


def load_harness(ortec: Path) -> tuple[ModuleType, ModuleType]:
    """The organisers' ``environment`` and ``tools`` modules, imported from ``ortec/harness`` in place.

    Raises:
        DynamicBenchError: when another module of that name is already imported.
    """
    harness = str((ortec / "harness").resolve())
    if harness not in sys.path:
        sys.path.insert(0, harness)
    modules = []
    for name in ("tools", "environment"):
        module = importlib.import_module(name)
        if not str(Path(module.__file__ or "").resolve()).startswith(harness):
            raise DynamicBenchError(f"module {name!r} is already imported from {module.__file__}, not the harness")
        modules.append(module)
    return modules[1], modules[0]


def dynamic_runs(ortec: Path, instances: int, seed: int | None = None) -> list[tuple[Path, int]]:
    """The first ``instances`` dynamic runs of ``final/configs.json``: ``(instance file, seed)``, the
    seed being the run's ``instance_seed`` unless ``seed`` is given.

    Raises:
        DynamicBenchError: when ``instances`` is not in 1..100 or a file is missing.
    """
    configs = [c for c in json.loads((ortec / "final" / "configs.json").read_text()) if not c["static"]]
    if not 1 <= instances <= len(configs):
        raise DynamicBenchError(f"--instances must be in 1..{len(configs)}, got {instances}")
    runs = []
    for c in configs[:instances]:
        path = ortec / "final" / c["instance"]
        if not path.is_file():
            raise DynamicBenchError(f"instance file {path} not found")
        runs.append((path, int(c["instance_seed"]) if seed is None else seed))
    return runs


def demand_model(instance: dict[str, Any], env: Any) -> DemandModel:
    """The day's history for the wave policy: the static instance's customers (the distribution the
    environment samples requests from) and the environment's published rules (candidates per epoch,
    epoch length, dispatch margin)."""
    tw = np.asarray(instance["time_windows"], dtype=np.int64)
    n = len(tw)
    return DemandModel(
        duration=np.asarray(instance["duration_matrix"], dtype=np.int64),
        location=np.arange(1, n, dtype=np.int64), early=tw[1:, 0], late=tw[1:, 1],
        service=np.asarray(instance["service_times"], dtype=np.int64)[1:],
        demand=np.asarray(instance["demands"], dtype=np.int64)[1:], depot_late=int(tw[0, 1]),
        candidates_per_wave=int(env.MAX_REQUESTS_PER_EPOCH), wave_s=int(env.EPOCH_DURATION),
        margin_s=int(env.MARGIN_DISPATCH))


def wave_state(observation: dict[str, Any], end_epoch: int) -> WaveState:
    """A :class:`WaveState` of the environment's observation (node i = the epoch instance's row i)."""
    ei = observation["epoch_instance"]
    tw = np.asarray(ei["time_windows"], dtype=np.int64)
    return WaveState(location=np.asarray(ei["customer_idx"], dtype=np.int64), early=tw[:, 0], late=tw[:, 1],
                     service=np.asarray(ei["service_times"], dtype=np.int64),
                     demand=np.asarray(ei["demands"], dtype=np.int64),
                     must=np.asarray(ei["must_dispatch"], dtype=bool), capacity=int(ei["capacity"]),
                     planning_start=int(observation["planning_starttime"]),
                     waves_left=end_epoch - int(observation["current_epoch"]))


def policy_routes(policy: str, state: WaveState, model: DemandModel, budget_s: float, options: WaveOptions
                  ) -> Routes:
    """One epoch's routes (node indices of ``state``) under ``policy`` within ``budget_s`` seconds."""
    if policy == "greedy":
        return route_requests(state, model, np.ones(state.size, dtype=bool), budget_s, options.seed)
    if policy == "lazy":
        return route_requests(state, model, must_dispatch(state, model), budget_s, options.seed)
    if policy == "baton":
        return plan_wave(state, model, options, budget_s)[0]
    if policy == "baton_scenarios":
        return plan_wave(state, model, replace(options, method="scenarios"), budget_s)[0]
    raise DynamicBenchError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES + EXTRA_POLICIES)}")


@dataclass
class PolicyRun:
    """One policy on one instance: ``cost`` = total driving time (s), ``None`` when the environment
    refused a step (``error``); ``dispatched`` requests, ``routes`` driven, ``epochs`` stepped,
    wall ``seconds`` and the slowest epoch (``max_epoch_s``)."""

    cost: int | None = None
    epochs: int = 0
    dispatched: int = 0
    routes: int = 0
    seconds: float = 0.0
    max_epoch_s: float = 0.0
    error: str | None = None


@dataclass
class DynamicResult:
    """One instance: its name, environment seed, number of epochs, requests that arrived and the runs."""

    name: str
    seed: int
    epochs: int
    requests: int = 0
    runs: dict[str, PolicyRun] = field(default_factory=dict)


EpochCallback = Callable[[str, str, int, int], None]
"""``on_epoch(instance, policy, epoch, epochs)``: called after each epoch (1-based)."""


def run_policy(environment: ModuleType, tools: ModuleType, path: Path, seed: int, policy: str,
               epoch_s: float, options: WaveOptions, on_epoch: EpochCallback | None = None
               ) -> tuple[PolicyRun, int]:
    """Drive the organisers' environment through one day with ``policy``. Returns the run and the
    number of requests that arrived. Each epoch's routes are re-checked (:func:`planned_ok`) and must
    contain every must-dispatch request before they are stepped."""
    instance = tools.read_vrplib(str(path))
    env = environment.VRPEnvironment(seed=seed, instance=instance, epoch_tlim=epoch_s, is_static=False)
    observation, info = env.reset()
    model = demand_model(instance, env)
    run, done, started = PolicyRun(), False, time.perf_counter()
    while not done:
        t0 = time.perf_counter()
        state = wave_state(observation, int(info["end_epoch"]))
        routes = policy_routes(policy, state, model, max(0.2, epoch_s - SAFETY_S), options)
        served = {n for r in routes for n in r}
        missing = [i for i in range(1, state.size) if state.must[i] and i not in served]
        issues = planned_ok(routes, state, model)
        if missing or issues:
            run.error = f"epoch {observation['current_epoch']}: must-dispatch left {missing[:5]}; {issues[:3]}"
            break
        request_idx = observation["epoch_instance"]["request_idx"]
        observation, reward, done, step = env.step([[int(request_idx[n]) for n in r] for r in routes])
        run.max_epoch_s = max(run.max_epoch_s, time.perf_counter() - t0)
        if step["error"]:
            run.error = str(step["error"])
            break
        run.cost = (run.cost or 0) - int(reward)
        run.epochs += 1
        run.dispatched += len(served)
        run.routes += len(routes)
        if on_epoch:
            on_epoch(path.stem, policy, run.epochs, int(info["num_epochs"]))
    if run.error:
        run.cost = None
    run.seconds = time.perf_counter() - started
    return run, int(len(env.request_id) - 1)


def run_dynamic(ortec: Path, instances: int, epoch_s: float, seed: int | None = None,
                policies: tuple[str, ...] = POLICIES, options: WaveOptions | None = None,
                on_epoch: EpochCallback | None = None) -> list[DynamicResult]:
    """Every policy on the first ``instances`` dynamic runs, same seeds and epoch time.

    Raises:
        DynamicBenchError: bad arguments or missing data.
    """
    if epoch_s < 1:
        raise DynamicBenchError(f"--epoch-seconds must be at least 1, got {epoch_s}")
    unknown = [p for p in policies if p not in POLICIES + EXTRA_POLICIES]
    if unknown:
        raise DynamicBenchError(f"unknown policy {', '.join(unknown)}; "
                                f"choose from {', '.join(POLICIES + EXTRA_POLICIES)}")
    environment, tools = load_harness(ortec)
    opts = options or WaveOptions()
    results = []
    for path, s in dynamic_runs(ortec, instances, seed):
        result = DynamicResult(path.stem, s, 0)
        for policy in policies:
            run, result.requests = run_policy(environment, tools, path, s, policy, epoch_s, opts, on_epoch)
            result.runs[policy] = run
            result.epochs = max(result.epochs, run.epochs)
        results.append(result)
    return results


def epochs_of(ortec: Path, instances: int, seed: int | None = None) -> int:
    """Total epochs of the chosen runs (for a progress bar), from each instance's windows."""
    environment, tools = load_harness(ortec)
    total = 0
    for path, s in dynamic_runs(ortec, instances, seed):
        tw = tools.read_vrplib(str(path))["time_windows"]
        env = environment.VRPEnvironment(seed=s, instance={"time_windows": tw})
        start = max((int(tw[1:, 0].min()) - env.MARGIN_DISPATCH) // env.EPOCH_DURATION, 0)
        end = max((int(tw[1:, 0].max()) - env.MARGIN_DISPATCH) // env.EPOCH_DURATION, 0)
        total += end - start + 1
    return total


def report(results: list[DynamicResult], epoch_s: float, policies: tuple[str, ...] = POLICIES) -> dict[str, Any]:
    """The JSON object: per policy ``mean_cost`` (s of driving, over instances it finished; ``None`` if
    none), ``costs`` and ``failed``; ``ratio_baton_greedy`` (means over instances both finished),
    ``target_ratio``, ``epoch_seconds`` and per instance its costs."""
    out: dict[str, Any] = {}
    for p in policies:
        costs = [r.runs[p].cost for r in results if p in r.runs]
        done = [c for c in costs if c is not None]
        out[p] = {"mean_cost": float(np.mean(done)) if done else None, "costs": costs,
                  "failed": sum(c is None for c in costs)}
    ratio = None
    if "baton" in policies and "greedy" in policies:
        pairs = [(r.runs["baton"].cost, r.runs["greedy"].cost) for r in results]
        both = [(b, g) for b, g in pairs if b is not None and g is not None]
        if both:
            ratio = float(np.mean([b for b, _ in both]) / np.mean([g for _, g in both]))
    out["ratio_baton_greedy"] = ratio
    out["target_ratio"] = TARGET_RATIO
    out["epoch_seconds"] = epoch_s
    out["instances"] = [
        {"instance": r.name, "seed": r.seed, "epochs": r.epochs, "requests": r.requests,
         **{p: r.runs[p].cost for p in r.runs},
         "dispatched": {p: r.runs[p].dispatched for p in r.runs},
         "routes": {p: r.runs[p].routes for p in r.runs},
         "max_epoch_s": {p: round(r.runs[p].max_epoch_s, 2) for p in r.runs},
         "errors": {p: r.runs[p].error for p in r.runs if r.runs[p].error}}
        for r in results]
    return out


__all__ = ["EXTRA_POLICIES", "POLICIES", "DynamicBenchError", "DynamicResult", "PolicyRun", "demand_model",
           "dynamic_runs", "epochs_of", "load_harness", "ortec_dir", "policy_routes", "report", "run_dynamic",
           "run_policy", "wave_state"]
