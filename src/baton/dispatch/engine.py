"""The rules engine: evaluate a :class:`~baton.dispatch.rules.RuleSet` for one order and explain it.

:func:`decide` scores every resource (cost from its rate card, distance, rating, on-time rate,
capacity left), evaluates the rules top to bottom and returns a :class:`Decision`: the rule that
fired, the ordered queue of resources to offer the order to, the fallback, and an explanation
(JSON-serialisable) with every rule's outcome and every candidate's metrics and exclusion reason.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from baton.dispatch.carriers import Carrier, haversine_km
from baton.dispatch.rules import Action, CandidateFilter, Condition, Rule, RuleSet
from baton.domain.fleet import FleetType
from baton.domain.order import Order
from baton.domain.values import LatLng

CAPTIVE_ID = "captive"


@dataclass(frozen=True)
class Resource:
    """A carrier as the engine sees it now: ``capacity_left`` orders today, ``down`` when its circuit
    breaker is open, ``origin`` where distances are measured from (hub or nearest depot)."""

    carrier: Carrier
    capacity_left: int
    down: bool = False
    origin: LatLng | None = None


@dataclass(frozen=True)
class Candidate:
    """A resource scored for one order: ``cost`` in ``currency``, ``distance_km``, and why it was
    excluded (``None``: eligible)."""

    carrier_id: str
    fleet_type: FleetType
    cost: float
    currency: str
    cost_parts: dict[str, float]
    distance_km: float
    rating: float
    on_time_pct: float
    acceptance_rate: float
    capacity_left: int
    excluded: str | None = None

    def metric(self, key: str) -> float:
        return {
            "cost": self.cost, "rating": self.rating, "distance": self.distance_km, "on_time": self.on_time_pct,
            "capacity_left": float(self.capacity_left), "acceptance": self.acceptance_rate,
        }[key]

    def to_dict(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier_id, "fleet_type": self.fleet_type.value, "cost": self.cost,
            "currency": self.currency, "cost_parts": self.cost_parts, "distance_km": round(self.distance_km, 2),
            "rating": self.rating, "on_time_pct": self.on_time_pct, "acceptance_rate": self.acceptance_rate,
            "capacity_left": self.capacity_left, "excluded": self.excluded,
        }


@dataclass(frozen=True)
class Decision:
    """What to do with one order. ``action``: ``captive`` (plan with the own fleet), ``tender``
    (offer to ``queue`` in order), ``unassigned`` (with ``reason``). ``fallback`` applies when
    every offer fails. ``explanation`` is JSON-serialisable."""

    order_id: str
    rule_id: str
    ruleset_version: int
    action: str
    queue: tuple[str, ...] = ()
    fallback: str = "unassigned"
    timeout_s: int | None = None
    reason: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict)


def score(order: Order, resources: list[Resource], now: datetime) -> list[Candidate]:
    """Every resource priced and checked for ``order`` (eligibility aside from rule filters)."""
    out = []
    for r in resources:
        c = r.carrier
        origin = c.origin or r.origin
        distance = haversine_km(origin, order.location) if origin is not None else 0.0
        quote = c.rate_card.quote(order, distance)
        excluded = "circuit breaker open (carrier down)" if r.down else c.why_not(order, now)
        if excluded is None and r.capacity_left < 1:
            excluded = "no capacity left today"
        out.append(Candidate(
            c.id, c.fleet_type, quote.total, quote.currency, quote.parts, distance, c.performance.rating,
            c.performance.on_time_pct, c.performance.acceptance_rate, r.capacity_left, excluded,
        ))
    return out


def _local_minutes(instant: datetime, tz: str) -> float:
    t = instant.astimezone(ZoneInfo(tz))
    return t.hour * 60 + t.minute + t.second / 60


def _check(cond: Condition, order: Order, rules: RuleSet, captive_full: bool) -> tuple[bool, str]:
    """Whether ``cond`` holds, and what the order had (for the explanation)."""
    s, op, v = cond.subject, cond.op, cond.operand
    if s in ("tags", "features"):
        have = order.tags if s == "tags" else order.required_features
        ok = {"any": bool(have & v), "all": v <= have, "none": not (have & v)}[op]
        return ok, f"order {s} {sorted(have)}"
    if s == "sla":
        ok = (order.sla_tier.value in v) == (op == "in")
        return ok, f"order sla {order.sla_tier.value}"
    if s in ("value", "parcels", "weight_kg", "volume_l", "priority"):
        x = float({"value": order.declared_value, "parcels": order.size.parcels, "weight_kg": order.size.weight_kg,
                   "volume_l": order.size.volume_l, "priority": order.priority}[s])
        if op == "between":
            ok = v[0] <= x <= v[1]
        else:
            ok = {"lt": x < v, "lte": x <= v, "gt": x > v, "gte": x >= v, "eq": x == v}[op]
        return ok, f"order {s} {x:g}"
    if s == "zone":
        inside = sorted(z for z in v if rules.zones[z].covers(order.location))
        ok = bool(inside) == (op == "in")
        return ok, f"order in zones {inside}" if inside else "order in none of them"
    if s == "window":
        if not order.time_windows:
            return False, "order has no time window"
        w = order.time_windows[0]
        if op.startswith("length"):
            minutes = w.duration.total_seconds() / 60
            ok = minutes <= v if op == "length_max_min" else minutes >= v
            return ok, f"window length {minutes:g} min"
        edge = w.start if op.startswith("starts") else w.end
        at = _local_minutes(edge, rules.timezone)
        limit = v.hour * 60 + v.minute
        ok = at > limit if op.endswith("after") else at < limit
        which = "starts" if op.startswith("starts") else "ends"
        return ok, f"window {which} {edge.astimezone(ZoneInfo(rules.timezone)):%H:%M}"
    if s == "captive_full":
        return captive_full == v, f"captive fleet {'full' if captive_full else 'has room'}"
    raise ValueError(f"unknown condition subject {s!r}")


def _filter(c: Candidate, f: CandidateFilter, features: dict[str, frozenset[str]], action: Action) -> str | None:
    """Why a rule's candidate filter or action excludes ``c`` (``None``: kept)."""
    if action.type == "gig" and c.fleet_type is not FleetType.GIG:
        return "action gig takes gig networks only"
    if action.type == "tender" and c.carrier_id != action.carrier:
        return f"action tenders to {action.carrier} only"
    if action.type == "captive" and c.fleet_type is not FleetType.CAPTIVE:
        return "action captive takes the captive fleet only"
    if f.fleet_types is not None and c.fleet_type not in f.fleet_types:
        return f"fleet type {c.fleet_type.value} not in {sorted(t.value for t in f.fleet_types)}"
    if f.carriers is not None and c.carrier_id not in f.carriers:
        return "not in the rule's carriers"
    missing = f.features - features.get(c.carrier_id, frozenset())
    if missing:
        return f"lacks {', '.join(sorted(missing))}"
    if f.max_cost is not None and c.cost > f.max_cost:
        return f"cost {c.cost:g} > max_cost {f.max_cost:g}"
    if f.max_distance_km is not None and c.distance_km > f.max_distance_km:
        return f"distance {c.distance_km:.1f} km > {f.max_distance_km:g} km"
    if f.min_rating is not None and c.rating < f.min_rating:
        return f"rating {c.rating:g} < {f.min_rating:g}"
    if f.min_on_time_pct is not None and c.on_time_pct < f.min_on_time_pct:
        return f"on-time {c.on_time_pct:g} < {f.min_on_time_pct:g}"
    if f.min_capacity_left is not None and c.capacity_left < f.min_capacity_left:
        return f"capacity left {c.capacity_left} < {f.min_capacity_left}"
    return None


def rank(cands: list[Candidate], order_by: tuple[str, ...]) -> list[Candidate]:
    """Sort by ``order_by`` keys (``-key``: descending), ties broken by carrier id."""
    def key(c: Candidate) -> tuple[Any, ...]:
        return (*[(-c.metric(k[1:]) if k.startswith("-") else c.metric(k)) for k in order_by], c.carrier_id)
    return sorted(cands, key=key)


def _apply(rule_id: str, action: Action, f: CandidateFilter, scored: list[Candidate],
           features: dict[str, frozenset[str]]) -> tuple[list[Candidate], dict[str, str]]:
    kept, dropped = [], {}
    for c in scored:
        why = c.excluded or _filter(c, f, features, action)
        if why is None:
            kept.append(c)
        else:
            dropped[c.carrier_id] = why
    ranked = rank(kept, action.order_by)
    if action.limit is not None:
        ranked = ranked[: action.limit]
    return ranked, dropped


def decide(order: Order, rules: RuleSet, resources: list[Resource], now: datetime) -> Decision:
    """Evaluate ``rules`` for ``order`` at ``now`` (aware) over ``resources`` and explain the outcome.

    The first rule whose conditions all hold and which keeps at least one candidate fires
    (``unassigned`` actions fire without candidates); otherwise the ``default`` action applies.
    """
    scored = score(order, resources, now)
    features = {r.carrier.id: r.carrier.features for r in resources}
    captive = [c for c in scored if c.fleet_type is FleetType.CAPTIVE]
    captive_full = not captive or all(c.capacity_left < 1 for c in captive)
    trail: list[dict[str, Any]] = []
    explanation: dict[str, Any] = {
        "order": order.id, "ruleset": {"name": rules.name, "version": rules.version}, "at": now.isoformat(),
        "candidates": [c.to_dict() for c in scored], "rules": trail,
    }
    chosen: tuple[Rule | None, Action, list[Candidate], dict[str, str]] | None = None
    for rule in rules.rules:
        entry: dict[str, Any] = {"rule": rule.id, "line": rule.line}
        trail.append(entry)
        failed = None
        checks = []
        for cond in rule.conditions:
            ok, seen = _check(cond, order, rules, captive_full)
            checks.append({"condition": cond.describe(), "line": cond.line, "holds": ok, "seen": seen})
            if not ok:
                failed = cond
                break
        entry["conditions"] = checks
        if failed is not None:
            entry["outcome"] = f"not matched: {failed.describe()} is false"
            continue
        if rule.action.type == "unassigned":
            entry["outcome"] = "fired"
            chosen = (rule, rule.action, [], {})
            break
        ranked, dropped = _apply(rule.id, rule.action, rule.candidates, scored, features)
        entry["excluded"] = dropped
        if not ranked:
            entry["outcome"] = "matched but no candidate left; next rule"
            continue
        entry["outcome"] = "fired"
        entry["ranking"] = [c.carrier_id for c in ranked]
        chosen = (rule, rule.action, ranked, dropped)
        break
    if chosen is None:
        ranked, dropped = ([], {}) if rules.default.type == "unassigned" else _apply(
            "default", rules.default, CandidateFilter(), scored, features)
        trail.append({"rule": "default", "outcome": "applied", "excluded": dropped,
                      "ranking": [c.carrier_id for c in ranked]})
        chosen = (None, rules.default, ranked, dropped)
    fired, action, ranked, _ = chosen
    rule_id = fired.id if fired is not None else "default"
    explanation["fired"] = rule_id
    explanation["action"] = {"type": action.type, "order_by": list(action.order_by), "fallback": action.fallback,
                             **({"carrier": action.carrier} if action.carrier else {})}
    if action.type == "unassigned":
        reason = action.reason or f"rule {rule_id} leaves it unassigned"
        explanation["queue"] = []
        return Decision(order.id, rule_id, rules.version, "unassigned", reason=reason, explanation=explanation)
    if not ranked:
        if action.fallback == "captive" and not captive_full and action.type != "captive":
            explanation["queue"] = [CAPTIVE_ID]
            return Decision(order.id, rule_id, rules.version, "captive", (CAPTIVE_ID,), explanation=explanation)
        reason = "no eligible resource (see candidates' exclusion reasons)"
        explanation["queue"] = []
        return Decision(order.id, rule_id, rules.version, "unassigned", reason=reason, explanation=explanation)
    if ranked[0].fleet_type is FleetType.CAPTIVE:
        explanation["queue"] = [ranked[0].carrier_id]
        return Decision(order.id, rule_id, rules.version, "captive", (ranked[0].carrier_id,),
                        explanation=explanation)
    queue = tuple(c.carrier_id for c in ranked)
    explanation["queue"] = list(queue)
    kind = "tender"
    return Decision(order.id, rule_id, rules.version, kind, queue, action.fallback, action.timeout_s,
                    explanation=explanation)
