"""The rules grammar and engine (pure): every condition, every action, the shipped examples,
explanations, and invalid rules refused with the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baton.dispatch.carriers import Carrier, Performance, RateCard, ServiceArea, ServiceLevel
from baton.dispatch.engine import Resource, decide
from baton.dispatch.rules import parse_rules
from baton.dispatch.source import SourceError
from baton.domain import LatLng, Order, Size, SlaTier, TimeWindow
from baton.domain.fleet import FleetType
from factories import local, make_order

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "rules"
CORE_CELL = "87a8c249dffffff"  # H3 res 7 around Esplanada dos Ministérios
CENTRE = LatLng(-15.7939, -47.8828)
FAR = LatLng(-15.60, -47.65)
NOW = local(9)


def res(cid: str, fleet: str = "3pl", *, base: float = 10.0, rating: float = 4.0, capacity: int = 10,
        down: bool = False, **kw: object) -> Resource:
    c = Carrier(cid, cid, FleetType(fleet), rate_card=RateCard(base=base), performance=Performance(rating=rating),
                **kw)  # type: ignore[arg-type]
    return Resource(c, capacity, down, origin=LatLng(-15.60, -47.65))


FLEET = [res("captive", "captive", base=6, features=frozenset({"refrigerated"})), res("cheap3pl", base=8, rating=3.9),
         res("good3pl", base=9, rating=4.8, features=frozenset({"refrigerated"})), res("gig", "gig", base=7)]


def order(**kw: Any) -> Order:
    kw.setdefault("address", None)
    addr = kw.pop("address")
    o = make_order("o-1", **kw)
    if addr is not None:
        from dataclasses import replace

        o.address = replace(o.address, location=addr)
    return o


def rules(body: str, default: str = "{type: captive}"):  # type: ignore[no-untyped-def]
    return parse_rules(f"version: 1\ntimezone: America/Sao_Paulo\nzones:\n  core: {{h3: [{CORE_CELL}]}}\n"
                       f"rules:\n{body}\ndefault: {default}\n")


def fires(body: str, o: object, fleet: list[Resource] = FLEET) -> tuple[str, str, tuple[str, ...]]:
    d = decide(o, rules(body), fleet, NOW)  # type: ignore[arg-type]
    return d.rule_id, d.action, d.queue


@pytest.mark.parametrize(("condition", "matching", "other"), [
    ("tags: {any: [cold_chain, frozen]}", {"tags": frozenset({"frozen"})}, {}),
    ("tags: {all: [cold_chain, fragile]}", {"tags": frozenset({"cold_chain", "fragile"})},
     {"tags": frozenset({"cold_chain"})}),
    ("tags: {none: [fragile]}", {}, {"tags": frozenset({"fragile"})}),
    ("features: {any: [refrigerated]}", {"required_features": frozenset({"refrigerated"})}, {}),
    ("sla: [same_day, express]", {"sla_tier": SlaTier.SAME_DAY}, {}),
    ("sla: {not_in: [standard]}", {"sla_tier": SlaTier.EXPRESS}, {}),
    ("value: {lt: 100}", {"declared_value": 99.0}, {"declared_value": 100.0}),
    ("value: {gte: 100}", {"declared_value": 100.0}, {"declared_value": 99.0}),
    ("value: {between: [10, 20]}", {"declared_value": 15.0}, {"declared_value": 25.0}),
    ("parcels: {gt: 2}", {"size": Size(3, 1, 1)}, {}),
    ("weight_kg: {lte: 5}", {}, {"size": Size(1, 6, 1)}),
    ("volume_l: {eq: 12}", {}, {"size": Size(1, 2.5, 13)}),
    ("priority: {gte: 4}", {"priority": 5}, {}),
    ("zone: {in: [core]}", {"address": CENTRE}, {"address": FAR}),
    ("zone: {not_in: [core]}", {"address": FAR}, {"address": CENTRE}),
    ('window: {ends_before: "12:30"}', {}, {"time_windows": [TimeWindow(local(14), local(18))]}),
    ('window: {starts_after: "10:00"}', {"time_windows": [TimeWindow(local(14), local(18))]}, {}),
    ('window: {starts_before: "09:00"}', {}, {"time_windows": [TimeWindow(local(14), local(18))]}),
    ('window: {ends_after: "17:00"}', {"time_windows": [TimeWindow(local(14), local(18))]}, {}),
    ("window: {length_max_min: 120}", {"time_windows": [TimeWindow(local(8), local(9))]}, {}),
    ("window: {length_min_min: 180}", {}, {"time_windows": [TimeWindow(local(8), local(9))]}),
])
def test_every_order_condition(condition: str, matching: dict[str, object], other: dict[str, object]) -> None:
    body = f"  - id: r\n    when: {{order: {{{condition}}}}}\n    action: {{type: tender, carrier: good3pl}}"
    assert fires(body, order(**matching)) == ("r", "tender", ("good3pl",))
    rule_id, action, _ = fires(body, order(**other))
    assert (rule_id, action) == ("default", "captive")
    explanation = decide(order(**other), rules(body), FLEET, NOW).explanation
    assert explanation["rules"][0]["outcome"].startswith("not matched")
    assert explanation["rules"][0]["conditions"][0]["line"] == 7


def test_captive_full_condition_and_candidate_filters() -> None:
    body = ("  - id: full\n    when: {fleet: {captive_full: true}}\n    candidates: {fleet_type: [3pl]}\n"
            "    action: {type: cascade}")
    full = [res("captive", "captive", capacity=0), *FLEET[1:]]
    assert fires(body, order(), full) == ("full", "tender", ("cheap3pl", "good3pl"))
    assert fires(body, order())[0] == "default"
    for filt, queue in [("max_cost: 8.5", ("cheap3pl",)), ("min_rating: 4.5", ("good3pl",)),
                        ("carriers: [good3pl]", ("good3pl",)), ("min_capacity_left: 11", ()),
                        ("max_distance_km: 5", ()), ("min_on_time_pct: 0.5", ("cheap3pl", "good3pl")),
                        ("features: [refrigerated]", ("good3pl",))]:
        b = f"  - id: f\n    candidates: {{fleet_type: [3pl], {filt}}}\n    action: {{type: cascade}}"
        expected = ("f", "tender", queue) if queue else ("default", "captive", ("captive",))
        assert fires(b, order(), FLEET) == expected, filt


def test_every_action_and_ordering() -> None:
    assert fires("  - id: a\n    action: {type: captive}", order()) == ("a", "captive", ("captive",))
    assert fires("  - id: a\n    action: {type: tender, carrier: cheap3pl}", order()) == ("a", "tender", ("cheap3pl",))
    assert fires("  - id: a\n    action: {type: gig}", order()) == ("a", "tender", ("gig",))
    d = decide(order(), rules("  - id: a\n    action: {type: unassigned, reason: not today}"), FLEET, NOW)
    assert (d.action, d.reason, d.queue) == ("unassigned", "not today", ())
    by_rating = "  - id: a\n    candidates: {fleet_type: [3pl]}\n    action: {type: cascade, order_by: [-rating]}"
    assert fires(by_rating, order())[2] == ("good3pl", "cheap3pl")
    limited = "  - id: a\n    candidates: {fleet_type: [3pl, gig]}\n    action: {type: cascade, limit: 2}"
    assert fires(limited, order())[2] == ("gig", "cheap3pl")
    # a rule whose candidates are all excluded does not fire: the next one does
    down = [res("captive", "captive"), res("cheap3pl", down=True)]
    d = decide(order(), rules("  - id: a\n    action: {type: tender, carrier: cheap3pl}"), down, NOW)
    assert d.rule_id == "default" and d.explanation["rules"][0]["excluded"]["cheap3pl"].startswith("circuit breaker")
    # fallback captive when nothing is eligible
    d = decide(order(), rules("  - id: a\n    action: {type: gig, fallback: captive}", "{type: unassigned}"),
               [res("captive", "captive"), res("gig", "gig", capacity=0)], NOW)
    assert (d.rule_id, d.action) == ("default", "unassigned")


def test_carrier_eligibility_is_explained() -> None:
    fleet = [
        res("area", service_area=ServiceArea(frozenset({CORE_CELL}))),
        res("levels", service_levels=frozenset({ServiceLevel.NEXT_DAY})),
        res("cutoff", cutoff=local(8).timetz().replace(tzinfo=None), timezone="America/Sao_Paulo"),
        res("full", capacity=0), res("ok"),
    ]
    d = decide(order(address=FAR, sla_tier=SlaTier.SAME_DAY), rules("  - id: a\n    action: {type: cascade}"),
               fleet, NOW)
    why = {c["carrier"]: c["excluded"] for c in d.explanation["candidates"]}
    assert why == {"area": "order outside its service area", "levels": "does not offer same_day (order SLA same_day)",
                   "cutoff": "past its 08:00:00 cut-off for same_day", "full": "no capacity left today", "ok": None}
    assert d.queue == ("ok",)
    ok = next(c for c in d.explanation["candidates"] if c["carrier"] == "ok")
    assert ok["cost"] == 10.0 and ok["cost_parts"]["base"] == 10.0


def test_shipped_examples() -> None:
    cold = parse_rules((EXAMPLES / "cold-chain.yaml").read_text(), "cold-chain.yaml")
    chilled = order(tags=frozenset({"cold_chain"}))
    plain_fleet = [res("captive", "captive"), res("vanco", base=1)]
    cold_fleet = [*plain_fleet, res("frio", base=20, features=frozenset({"refrigerated"}))]
    assert decide(chilled, cold, cold_fleet, NOW).queue == ("frio",)
    refused = decide(chilled, cold, plain_fleet, NOW)
    assert (refused.rule_id, refused.action) == ("cold-chain-refused", "unassigned")
    assert decide(order(), cold, plain_fleet, NOW).action == "captive"

    gig = parse_rules((EXAMPLES / "same-day-gig.yaml").read_text())
    gig_fleet = [res("captive", "captive"), res("zap", "gig", base=9), res("moto", "gig", base=7), res("p", base=1)]
    cheap_far = order(sla_tier=SlaTier.SAME_DAY, declared_value=50.0, address=FAR)
    assert decide(cheap_far, gig, gig_fleet, NOW).queue == ("moto", "zap")
    assert decide(order(sla_tier=SlaTier.SAME_DAY, declared_value=50.0, address=CENTRE), gig, gig_fleet,
                  NOW).action == "captive"
    assert decide(order(sla_tier=SlaTier.SAME_DAY, declared_value=500.0, address=FAR), gig, gig_fleet,
                  NOW).action == "captive"

    full = parse_rules((EXAMPLES / "captive-full-3pl.yaml").read_text())
    three = [res("a", base=9, rating=4.1), res("b", base=9, rating=4.6), res("c", base=12), res("low", base=1,
                                                                                              rating=3.0)]
    assert decide(order(), full, [res("captive", "captive"), *three], NOW).action == "captive"
    d = decide(order(), full, [res("captive", "captive", capacity=0), *three], NOW)
    assert (d.rule_id, d.queue) == ("captive-full-3pl", ("b", "a", "c"))


@pytest.mark.parametrize(("text", "line", "message"), [
    ("version: 1\nrules:\n  - id: a\n    action: {type: teleport}\n", 4, "unknown action 'teleport'"),
    ("version: 1\nrules:\n  - id: a\n    when:\n      order:\n        colour: {eq: 1}\n    action: {type: captive}\n",
     6, "unknown order condition 'colour'"),
    ("version: 1\nrules:\n  - id: a\n    when: {order: {value: {lt: cheap}}}\n    action: {type: captive}\n", 4,
     "must be a number"),
    ("version: 1\nrules:\n  - id: a\n    action: {type: tender}\n", 4, "needs 'carrier'"),
    ("version: 1\nrules:\n  - id: a\n    action: {type: captive}\n  - id: a\n    action: {type: captive}\n", 5,
     "duplicate rule id"),
    ("rules: []\n", 1, "missing field 'version'"),
    ("version: 1\nrules:\n  - id: a\n    when: {order: {zone: {in: [mars]}}}\n    action: {type: captive}\n", 4,
     "unknown zone 'mars'"),
    ("version: 1\nrules:\n  - id: a\n    action: {type: cascade, order_by: [price]}\n", 4, "unknown sort key"),
    ("version: 1\nrules:\n  - id: a\n    candidates: {fleet_type: [drone]}\n    action: {type: captive}\n", 4,
     "'drone' is not one of"),
    ("version: 1\nrules:\n  - id: a\n    action: {type: captive\n", 5, "not valid YAML"),
    ("version: 1\nrules:\n  - id: a\n    when: {order: {window: {ends_before: 25:00}}}\n    action: {type: captive}\n",
     4, "local time"),
    ("version: 1\nrules:\n  - id: a\n    whenever: {}\n    action: {type: captive}\n", 4, "unknown field 'whenever'"),
])
def test_invalid_rules_point_at_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(SourceError, match=message) as info:
        parse_rules(text, "policy.yaml")
    assert info.value.line == line
    assert str(info.value).startswith(f"policy.yaml:{line}:")


def test_json_rules_are_accepted() -> None:
    text = '{"version": 2, "rules": [{"id": "a", "action": {"type": "gig"}}], "default": {"type": "unassigned"}}'
    r = parse_rules(text)
    assert (r.version, r.rules[0].action.type, r.default.type) == (2, "gig", "unassigned")


def test_invalid_rule_errors_name_the_rule_and_the_field() -> None:
    text = ("version: 1\nrules:\n  - id: ok\n    action: {type: captive}\n  - id: cold-chain\n"
            "    candidates: {min_rating: 9}\n    action: {type: captive}\n")
    with pytest.raises(SourceError) as info:
        parse_rules(text, "policy.yaml")
    assert str(info.value) == "policy.yaml:6: rules[1].candidates.min_rating: rule 'cold-chain': must be <= 5, got 9"
    assert (info.value.line, info.value.path) == (6, "rules[1].candidates.min_rating")
    with pytest.raises(SourceError, match="unknown IANA timezone 'Mars/Base'") as tz:
        parse_rules("version: 1\ntimezone: Mars/Base\nrules: []\n", "policy.yaml")
    assert tz.value.line == 2 and tz.value.path == "timezone"
