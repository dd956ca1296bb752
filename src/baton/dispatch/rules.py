"""Dispatch rules: a declarative, versioned policy in YAML or JSON, validated with line numbers.

The grammar is documented in ``docs/dispatch-rules.md``; in short::

    version: 3                       # integer, required; a new policy needs a new version
    name: default-policy
    timezone: America/Sao_Paulo      # for window conditions (local HH:MM)
    zones:                           # named areas used by `zone` conditions
      captive_core: {h3: [...], polygons: [...]}
    rules:                           # evaluated top to bottom; the first that matches AND has a
      - id: cold-chain               # candidate left after filtering fires
        when:
          order: {tags: {any: [cold_chain]}, sla: [same_day], value: {lt: 100}, zone: {not_in: [x]},
                  window: {ends_before: "12:00"}, features: {all: [refrigerated]}, parcels: {gt: 3}}
          fleet: {captive_full: true}
        candidates: {fleet_type: [3pl, gig], carriers: [a, b], features: [refrigerated], max_cost: 40,
                     max_distance_km: 30, min_rating: 4, min_on_time_pct: 0.9, min_capacity_left: 1}
        action: {type: cascade, order_by: [cost, -rating], limit: 3, timeout_s: 120, fallback: captive}
    default: {type: captive}

Actions: ``captive`` (captive planning), ``tender`` (to ``carrier``), ``cascade`` (every remaining
candidate in ``order_by`` order), ``gig`` (gig networks only, cheapest first unless ``order_by``),
``unassigned`` (with ``reason``). ``fallback`` (``captive`` | ``unassigned``) applies once every
offer is refused or timed out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baton.dispatch.carrier_file import _area
from baton.dispatch.carriers import ServiceArea
from baton.dispatch.source import Doc, Node, SourceError, load_document
from baton.domain.fleet import FleetType
from baton.domain.order import SlaTier

NUMERIC_FIELDS = ("value", "parcels", "weight_kg", "volume_l", "priority")
SET_FIELDS = ("tags", "features")
ORDER_FIELDS = (*SET_FIELDS, "sla", *NUMERIC_FIELDS, "zone", "window")
NUMERIC_OPS = ("lt", "lte", "gt", "gte", "eq", "between")
SET_OPS = ("any", "all", "none")
WINDOW_OPS = ("starts_after", "starts_before", "ends_after", "ends_before", "length_max_min", "length_min_min")
ACTIONS = ("captive", "tender", "cascade", "gig", "unassigned")
SORT_KEYS = ("cost", "rating", "distance", "on_time", "capacity_left", "acceptance")
CANDIDATE_FIELDS = ("fleet_type", "carriers", "features", "max_cost", "max_distance_km", "min_rating",
                    "min_on_time_pct", "min_capacity_left")


@dataclass(frozen=True)
class Condition:
    """One test on the order or the fleet: ``subject`` (``tags``, ``value``, ``captive_full``...),
    ``op`` (``any``, ``lt``, ``in``, ``is``...), ``operand``; ``line`` in the rules file."""

    subject: str
    op: str
    operand: Any
    line: int | None = None

    def describe(self) -> str:
        return f"{self.subject} {self.op} {self.operand}"


@dataclass(frozen=True)
class CandidateFilter:
    """Which resources a rule may use (``None``: no constraint)."""

    fleet_types: frozenset[FleetType] | None = None
    carriers: frozenset[str] | None = None
    features: frozenset[str] = frozenset()
    max_cost: float | None = None
    max_distance_km: float | None = None
    min_rating: float | None = None
    min_on_time_pct: float | None = None
    min_capacity_left: int | None = None


@dataclass(frozen=True)
class Action:
    """What to do with the order (see the module docstring). ``order_by`` keys are ascending;
    ``-key`` is descending (``-rating``: best rated first)."""

    type: str
    carrier: str | None = None
    order_by: tuple[str, ...] = ("cost", "-rating")
    limit: int | None = None
    timeout_s: int | None = None
    fallback: str = "unassigned"
    reason: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    action: Action
    conditions: tuple[Condition, ...] = ()
    candidates: CandidateFilter = field(default_factory=CandidateFilter)
    description: str = ""
    line: int | None = None


@dataclass(frozen=True)
class RuleSet:
    """A validated dispatch policy. ``source`` is the text it was parsed from (stored with it)."""

    version: int
    name: str
    rules: tuple[Rule, ...]
    default: Action = field(default_factory=lambda: Action("captive"))
    zones: dict[str, ServiceArea] = field(default_factory=dict)
    timezone: str = "UTC"
    source: str = ""


def _hhmm(node: Node, key: str) -> time:
    text = node.raw(key)
    if not isinstance(text, str):
        raise node.error(key, f"must be a local time \"HH:MM\" (quoted), got {text!r}")
    try:
        return time.fromisoformat(text)
    except ValueError as exc:
        raise node.error(key, f"must be a local time HH:MM, got {text!r}") from exc


def _order_conditions(node: Node, zones: dict[str, ServiceArea]) -> list[Condition]:
    out: list[Condition] = []
    doc = node.doc
    for subject, value in node.data.items():
        path = (*node.path, subject)
        line = doc.line(path)
        if subject in SET_FIELDS:
            sub = Node(doc, path, SET_OPS)
            if not sub.data:
                raise doc.error(path, f"needs one of {', '.join(SET_OPS)}")
            for op in sub.data:
                out.append(Condition(subject, op, frozenset(v.lower() for v in sub.str_list(op)), doc.line(
                    (*path, op))))
        elif subject == "sla":
            tiers = [t.value for t in SlaTier]
            if isinstance(value, dict):
                sub = Node(doc, path, ("in", "not_in"))
                for op in sub.data:
                    out.append(Condition("sla", op, frozenset(sub.str_list(op, choices=tiers)), line))
            else:
                out.append(Condition("sla", "in", frozenset(node.str_list("sla", choices=tiers)), line))
        elif subject in NUMERIC_FIELDS:
            sub = Node(doc, path, NUMERIC_OPS)
            if not sub.data:
                raise doc.error(path, f"needs one of {', '.join(NUMERIC_OPS)}")
            for op in sub.data:
                if op == "between":
                    pair = sub.raw(op)
                    if (not isinstance(pair, list) or len(pair) != 2
                            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
                            or pair[0] > pair[1]):
                        raise doc.error((*path, op), f"must be [low, high] numbers with low <= high, got {pair!r}")
                    operand: Any = (float(pair[0]), float(pair[1]))
                else:
                    operand = float(sub.number(op))
                out.append(Condition(subject, op, operand, doc.line((*path, op))))
        elif subject == "zone":
            sub = Node(doc, path, ("in", "not_in"))
            if not sub.data:
                raise doc.error(path, "needs 'in' or 'not_in'")
            for op in sub.data:
                names = sub.str_list(op)
                for i, name in enumerate(names):
                    if name not in zones:
                        known = ", ".join(sorted(zones)) or "none defined"
                        raise doc.error((*path, op, i), f"unknown zone {name!r} (zones: {known})")
                out.append(Condition("zone", op, frozenset(names), doc.line((*path, op))))
        elif subject == "window":
            sub = Node(doc, path, WINDOW_OPS)
            if not sub.data:
                raise doc.error(path, f"needs one of {', '.join(WINDOW_OPS)}")
            for op in sub.data:
                operand = float(sub.number(op, minimum=0)) if op.startswith("length") else _hhmm(sub, op)
                out.append(Condition("window", op, operand, doc.line((*path, op))))
        else:
            raise doc.error(path, f"unknown order condition {subject!r} (allowed: {', '.join(ORDER_FIELDS)})")
    return out


def _candidates(node: Node) -> CandidateFilter:
    fleets = node.str_list("fleet_type", None, choices=[f.value for f in FleetType])
    carriers = node.str_list("carriers", None)
    return CandidateFilter(
        fleet_types=None if fleets is None else frozenset(FleetType(f) for f in fleets),
        carriers=None if carriers is None else frozenset(carriers),
        features=frozenset(f.lower() for f in node.str_list("features", [])),
        max_cost=node.number("max_cost", None, minimum=0),
        max_distance_km=node.number("max_distance_km", None, minimum=0),
        min_rating=node.number("min_rating", None, minimum=0, maximum=5),
        min_on_time_pct=node.number("min_on_time_pct", None, minimum=0, maximum=1),
        min_capacity_left=node.integer("min_capacity_left", None, minimum=0),
    )


def _action(node: Node) -> Action:
    kind = node.text("type")
    if kind not in ACTIONS:
        raise node.error("type", f"unknown action {kind!r} (allowed: {', '.join(ACTIONS)})")
    carrier = node.text("carrier", None)
    if kind == "tender" and carrier is None:
        raise node.error(None, "action 'tender' needs 'carrier'")
    if kind != "tender" and carrier is not None:
        raise node.error("carrier", f"only action 'tender' takes a carrier, not {kind!r}")
    default_order = ("cost",) if kind == "gig" else ("cost", "-rating")
    order_by = tuple(node.str_list("order_by", list(default_order)))
    for i, key in enumerate(order_by):
        if key.lstrip("-") not in SORT_KEYS:
            raise node.doc.error((*node.path, "order_by", i),
                                 f"unknown sort key {key!r} (allowed: {', '.join(SORT_KEYS)}, '-' for descending)")
    fallback = node.text("fallback", "unassigned")
    if fallback not in ("captive", "unassigned"):
        raise node.error("fallback", f"must be captive or unassigned, got {fallback!r}")
    return Action(kind, carrier, order_by, node.integer("limit", None, minimum=1),
                  node.integer("timeout_s", None, minimum=1), fallback, node.text("reason", None))


ACTION_FIELDS = ("type", "carrier", "order_by", "limit", "timeout_s", "fallback", "reason")


def parse_rules(text: str, source: str = "<text>") -> RuleSet:
    """Parse and validate a dispatch policy.

    Raises:
        SourceError: on any syntax or grammar error; the message gives ``file:line: field: problem``.
    """
    doc: Doc = load_document(text, source)
    if not isinstance(doc.value, dict):
        raise doc.error((), "a rules document must be a mapping with version, rules and default")
    root = Node(doc, (), ("version", "name", "timezone", "zones", "rules", "default"))
    version = root.integer("version", minimum=1)
    zones: dict[str, ServiceArea] = {}
    if root.has("zones"):
        zone_root = root.child("zones")
        for name in zone_root.data:
            zones[name] = _area(_ZoneNode(doc, (*zone_root.path, name)))
    rules: list[Rule] = []
    seen: set[str] = set()
    for rn in root.list_of_nodes("rules", ("id", "description", "when", "candidates", "action")):
        try:
            rules.append(_rule(rn, zones, seen))
        except SourceError as exc:
            named = rn.data.get("id")
            if not isinstance(named, str) or not named.strip():
                raise
            raise SourceError(f"rule {named.strip()!r}: {exc.detail}", line=exc.line, path=exc.path,
                              source=exc.source) from None
    default = _action(root.child("default", ACTION_FIELDS)) if root.has("default") else Action("captive")
    timezone = root.text("timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise root.error("timezone", f"unknown IANA timezone {timezone!r}") from exc
    return RuleSet(version, root.text("name", "dispatch-policy"), tuple(rules), default, zones, timezone, text)


def _rule(rn: Node, zones: dict[str, ServiceArea], seen: set[str]) -> Rule:
    doc = rn.doc
    rule_id = rn.text("id")
    if rule_id in seen:
        raise rn.error("id", f"duplicate rule id {rule_id!r}")
    seen.add(rule_id)
    conditions: list[Condition] = []
    if rn.has("when"):
        when = rn.child("when", ("order", "fleet"))
        if when.has("order"):
            conditions += _order_conditions(when.child("order"), zones)
        if when.has("fleet"):
            fleet = when.child("fleet", ("captive_full",))
            conditions.append(Condition("captive_full", "is", fleet.boolean("captive_full"),
                                        doc.line((*fleet.path, "captive_full"))))
    cands = _candidates(rn.child("candidates", CANDIDATE_FIELDS)) if rn.has("candidates") else CandidateFilter()
    return Rule(rule_id, _action(rn.child("action", ACTION_FIELDS)), tuple(conditions), cands,
                rn.text("description", ""), doc.line(rn.path))


class _ZoneNode(Node):
    """Adapter so :func:`baton.dispatch.carrier_file._area` can read a zone mapping in place."""

    def __init__(self, doc: Doc, path: tuple[str | int, ...]) -> None:
        self.doc, self.path, self.data = doc, path, {"service_area": None}

    def child(self, key: str, allowed: Any = None) -> Node:
        return Node(self.doc, self.path, allowed)
