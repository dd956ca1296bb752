"""``baton rules ...``, ``baton dispatch ...`` and ``baton bench dispatch-failover`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from baton.adapters.carriers.fake_server import FakeCarrierServer
from baton.entrypoints.cli import app
from baton.service_layer import commands
from dispatch_helpers import make_bus
from factories import local, make_order

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_rules_check_accepts_examples_and_points_at_bad_lines(tmp_path: Path) -> None:
    for name in ("cold-chain", "same-day-gig", "captive-full-3pl"):
        result = runner.invoke(app, ["rules", "check", "--json", str(ROOT / "examples" / "rules" / f"{name}.yaml")])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["valid"] is True
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - id: a\n    when: {order: {value: {lt: cheap}}}\n    action: {type: gig}\n")
    result = runner.invoke(app, ["rules", "check", "--json", str(bad)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"valid": False, "line": 4, "field": "rules[0].when.order.value.lt",
                                         "error": "rule 'a': must be a number, got 'cheap'"}


def test_load_dispatch_explain_and_take_down_from_the_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    with FakeCarrierServer() as rapido, FakeCarrierServer() as flashbox, FakeCarrierServer() as zap:
        text = (ROOT / "examples" / "carriers.yaml").read_text()
        for port, server in (("8701", rapido), ("8702", flashbox), ("8703", zap)):
            text = text.replace(f"http://127.0.0.1:{port}", server.url)
        (tmp_path / "carriers.yaml").write_text(text)
        assert runner.invoke(app, ["dispatch", "carriers", "load", str(tmp_path / "carriers.yaml"),
                                   "--database-url", url]).exit_code == 0
        rules = str(ROOT / "examples" / "rules" / "cold-chain.yaml")
        result = runner.invoke(app, ["rules", "load", rules, "--database-url", url])
        assert result.exit_code == 0 and "active" in result.stdout
        assert "already active" in runner.invoke(app, ["rules", "load", rules, "--database-url", url]).stdout
        bus = make_bus(url)
        bus.handle(commands.CreateOrders(at=local(9), orders=[
            make_order("cold-1", tags=frozenset({"cold_chain"})), make_order("plain-1")]))
        result = runner.invoke(app, ["dispatch", "run", "--json", "--database-url", url])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"orders": 2, "captive": 2}
        result = runner.invoke(app, ["dispatch", "explain", "cold-1", "--json", "--database-url", url])
        info = json.loads(result.stdout)
        assert info["decisions"][0]["rule_id"] == "cold-chain" and info["process"]["carrier"] == "captive"
        result = runner.invoke(app, ["dispatch", "explain", "cold-1", "--database-url", url])
        assert "fired cold-chain" in result.stdout and "Candidates" in result.stdout
        listing = json.loads(runner.invoke(app, ["dispatch", "carriers", "list", "--json", "--database-url",
                                                 url]).stdout)
        assert {c["id"]: c["load"] for c in listing["carriers"]}["captive"] == 2
        result = runner.invoke(app, ["dispatch", "down", "rapido", "--reason", "outage", "--database-url", url])
        assert result.exit_code == 0 and "re-tendered 0" in result.stdout
        health = json.loads(runner.invoke(app, ["dispatch", "health", "--json", "--database-url", url]).stdout)
        assert health["down"] == ["rapido"]
        assert runner.invoke(app, ["dispatch", "explain", "nope", "--database-url", url]).exit_code == 1
        result = runner.invoke(app, ["dispatch", "watch", "--rounds", "1", "--database-url", url])
        assert result.exit_code == 0, result.output


def test_bench_dispatch_failover_prints_one_json_object() -> None:
    result = runner.invoke(app, ["bench", "dispatch-failover", "--orders", "5", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["retendered"] == 5 and data["retendered_to_backup"] == 5 and data["within_simulated_minute"] is True


def test_a_gig_courier_lists_accepts_and_declines_offers_from_the_cli(tmp_path: Path) -> None:
    from baton.dispatch.carriers import Carrier
    from baton.dispatch.rules import parse_rules
    from baton.domain.fleet import FleetType

    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    bus = make_bus(url)
    at = local(9)
    bus.handle(commands.RegisterCarriers(at=at, carriers=[
        Carrier("zap", "Zap", FleetType.GIG, couriers=("c-ana", "c-bia"), tender_timeout_s=3600)]))
    bus.handle(commands.LoadDispatchRules(at=at, rules=parse_rules(
        "version: 1\nrules:\n  - id: gig\n    action: {type: gig}\ndefault: {type: captive}\n")))
    bus.handle(commands.CreateOrders(at=at, orders=[make_order("o-1"), make_order("o-2")]))
    assert json.loads(runner.invoke(app, ["dispatch", "run", "--json", "--database-url", url]).stdout) == {
        "orders": 2, "tendering": 2}
    listed = json.loads(runner.invoke(app, ["dispatch", "offers", "--driver", "c-ana", "--json",
                                            "--database-url", url]).stdout)
    assert [o["order_id"] for o in listed["offers"]] == ["o-1"]
    result = runner.invoke(app, ["dispatch", "accept", "o-1", "--driver", "c-ana", "--database-url", url])
    assert result.exit_code == 0 and "order is assigned" in result.stdout, result.output
    result = runner.invoke(app, ["dispatch", "accept", "o-2", "--driver", "c-ana", "--database-url", url])
    assert result.exit_code == 1 and "was not offered to driver c-ana" in result.output
    result = runner.invoke(app, ["dispatch", "decline", "o-2", "--driver", "c-bia", "--reason", "rain",
                                 "--database-url", url])
    assert result.exit_code == 0 and "Declined o-2" in result.stdout
    # declined by c-bia, it went to c-ana; the table shows it
    result = runner.invoke(app, ["dispatch", "offers", "--driver", "c-ana", "--database-url", url])
    assert "o-2" in result.stdout and "o-1" not in result.stdout
    result = runner.invoke(app, ["dispatch", "offers", "--driver", "c-bia", "--all", "--json", "--database-url", url])
    assert [o["state"] for o in json.loads(result.stdout)["offers"]] == ["rejected"]
