"""``baton prove …``: carrier POD compliance and POD verification from the command line.

* ``baton prove compliance [--org ORG] [--json]``: per carrier, delivered orders, complete PODs and the
  compliance score (share of deliveries with a complete POD); ``--json`` prints one JSON object.
* ``baton prove verify ORDER_ID [--org ORG] [--json]``: re-verify an order's custody chain (media included).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from baton.adapters.db import make_engine, migrate, session_factory
from baton.adapters.objectstore import make_object_store
from baton.adapters.prove_records import ProveRecords
from baton.prove.carrier_pod import compliance
from baton.service_layer.prove_views import verify_order_chain
from baton.service_layer.unit_of_work import SqlAlchemyUnitOfWork

prove_app = typer.Typer(help="Proof of delivery: carrier compliance, custody verification.", no_args_is_help=True)
DbOption = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: BATON_DATABASE_URL).")]
OrgOption = Annotated[str, typer.Option("--org", help="Organisation id.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def _uow(database_url: str | None, org: str) -> SqlAlchemyUnitOfWork:
    engine = make_engine(database_url)
    migrate(engine)
    return SqlAlchemyUnitOfWork(session_factory(engine), org_id=org)


@prove_app.command("compliance")
def compliance_cmd(database_url: DbOption = None, org: OrgOption = "default", as_json: JsonOption = False) -> None:
    """Carrier POD compliance: share of each carrier's deliveries with a complete POD."""
    uow = _uow(database_url, org)
    with uow:
        assert uow.session is not None
        rows = compliance(ProveRecords(uow.session, org).carrier_pods())
    if as_json:
        print(json.dumps({"organisation": org, "carriers": [
            {"carrier_id": c.carrier_id, "deliveries": c.deliveries, "complete_pods": c.complete,
             "score": round(c.score, 4), "incomplete_order_ids": c.missing} for c in rows]}))
        return
    table = Table(title=f"Carrier POD compliance ({org})")
    for col in ("carrier", "deliveries", "complete PODs", "score"):
        table.add_column(col, justify="left" if col == "carrier" else "right")
    for c in rows:
        table.add_row(c.carrier_id, str(c.deliveries), str(c.complete), f"{c.score:.1%}")
    Console().print(table if rows else "no carrier deliveries yet")


@prove_app.command("verify")
def verify_cmd(order_id: str, database_url: DbOption = None, org: OrgOption = "default",
               as_json: JsonOption = False) -> None:
    """Re-verify one order's chain of custody (hashes, links, POD fields, media bytes); exit 1 when invalid."""
    uow = _uow(database_url, org)
    with uow:
        result = verify_order_chain(uow, make_object_store(), order_id)
    if as_json:
        print(json.dumps(result, default=str))
    else:
        console = Console()
        console.print(f"order {order_id}: {len(result['chain'])} link(s), "
                      + ("[green]valid[/]" if result["valid"] else "[red]INVALID[/]"))
        for p in result["problems"]:
            console.print(f"  - {p}")
    raise typer.Exit(0 if result["valid"] else 1)
