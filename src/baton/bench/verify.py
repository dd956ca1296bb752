"""Independent check of a benchmark answer: routes are re-walked on the integer instance.

Shares nothing with any solver: a solver's own cost or feasibility flag is never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.bench.instance import IntInstance

Routes = list[list[int]]
"""Client node indices (1..n-1) per route, in visiting order, depot omitted."""


@dataclass(frozen=True)
class Verdict:
    """``cost``: total distance in integer units (divide by the instance's scale for the BKS
    unit); ``problems``: every violation found (empty = feasible); ``routes``: non-empty routes."""

    cost: int
    problems: tuple[str, ...]
    routes: int

    @property
    def feasible(self) -> bool:
        return not self.problems


def verify(inst: IntInstance, routes: Routes) -> Verdict:
    """Re-walk ``routes`` on ``inst``: every client exactly once, load <= capacity, service
    starting within each window (waiting allowed), back at the depot by its closing time, at
    most ``num_vehicles`` routes. Never raises for a bad answer (an out-of-range node is a
    problem)."""
    problems: list[str] = []
    seen: dict[int, int] = {}
    cost = 0
    used = [r for r in routes if r]
    if len(used) > inst.num_vehicles:
        problems.append(f"{len(used)} routes > fleet of {inst.num_vehicles}")
    for k, route in enumerate(used, start=1):
        if any(not 1 <= c < inst.size for c in route):
            problems.append(f"route {k}: node outside 1..{inst.size - 1}")
            continue
        load = int(inst.demand[route].sum())
        if load > inst.capacity:
            problems.append(f"route {k}: load {load} > capacity {inst.capacity}")
        here, clock = 0, int(inst.early[0])
        for c in route:
            seen[c] = seen.get(c, 0) + 1
            arrival = clock + int(inst.duration[here, c])
            if arrival > inst.late[c]:
                problems.append(f"route {k}: client {c} reached at {arrival} > window end {inst.late[c]}")
            clock = max(arrival, int(inst.early[c])) + int(inst.service[c])
            cost += int(inst.distance[here, c])
            here = c
        cost += int(inst.distance[here, 0])
        back = clock + int(inst.duration[here, 0])
        if back > inst.late[0]:
            problems.append(f"route {k}: back at the depot at {back} > closing {inst.late[0]}")
    missing = [c for c in range(1, inst.size) if c not in seen]
    if missing:
        problems.append(f"{len(missing)} clients not served (first: {missing[:5]})")
    twice = [c for c, n in seen.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} clients served more than once (first: {sorted(twice)[:5]})")
    return Verdict(cost, tuple(problems), len(used))


def gap_pct(cost: float | None, bks: float | None) -> float | None:
    """Gap of ``cost`` to the best-known solution ``bks`` in % of ``bks``; ``None`` when either is missing."""
    return None if cost is None or not bks else (cost - bks) / bks * 100


__all__ = ["Routes", "Verdict", "gap_pct", "verify"]
