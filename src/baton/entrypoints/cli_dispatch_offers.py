"""``baton dispatch offers|accept|decline``: a gig courier's offers, from the command line.

Offers are made by Baton to the ``couriers`` of a carrier (see ``docs/dispatch-rules.md``); a courier
lists them and answers each by order id. The events are recorded with actor ``driver:<id>``. An
answer after the offer's deadline is refused (exit 1, the tender's state named) and the order moves
on to the next courier at once. With ``--json`` a command prints exactly one JSON object on stdout.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from baton.entrypoints.cli_dispatch import AsJson, DbUrl, _bus, _emit, _now, dispatch_app, err, out

Driver = Annotated[str, typer.Option("--driver", help="The courier's driver id.")]


@dispatch_app.command("offers")
def offers(driver: Driver, database_url: DbUrl = None, as_json: AsJson = False,
           include_closed: Annotated[bool, typer.Option("--all", help="Also answered and expired offers.")] = False
           ) -> None:
    """The offers made to a gig courier (open ones unless --all), newest first."""
    from baton.service_layer.dispatch_views import driver_offers

    found = driver_offers(_bus(database_url).uow, driver, open_only=not include_closed)
    if as_json:
        _emit({"driver_id": driver, "offers": found})
        return
    table = Table(title=f"Offers to {driver}")
    for col in ("order", "carrier", "state", "price", "expires", "drop-off (lat, lng)", "parcels"):
        table.add_column(col)
    for o in found:
        table.add_row(o["order_id"], o["carrier"], o["state"], f"{o['price']:.2f} {o['currency']}",
                      o["expires_at"], f"{o['dropoff']['lat']:.5f}, {o['dropoff']['lng']:.5f}", str(o["parcels"]))
    out.print(table)


def _answer(order_id: str, driver: str, accepted: bool, reason: str, database_url: str | None) -> None:
    from baton.dispatch.tender import TenderClosed
    from baton.domain.errors import NotFound
    from baton.service_layer import commands
    from baton.service_layer.dispatch_views import courier_offer_for

    bus = _bus(database_url)
    try:
        tender_id = courier_offer_for(bus.uow, order_id, driver)
        state = bus.handle(commands.RespondToTender(at=_now(), actor=f"driver:{driver}", tender_id=tender_id,
                                                    accepted=accepted, reason=reason, driver_id=driver))
    except (NotFound, TenderClosed) as exc:
        err.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from exc
    out.print(f"{'Accepted' if accepted else 'Declined'} {order_id} ({tender_id}); order is {state}.")


@dispatch_app.command("accept")
def accept(order_id: Annotated[str, typer.Argument(help="Order id.")], driver: Driver,
           database_url: DbUrl = None) -> None:
    """Accept the offer of ORDER_ID made to this courier."""
    _answer(order_id, driver, True, "", database_url)


@dispatch_app.command("decline")
def decline(order_id: Annotated[str, typer.Argument(help="Order id.")], driver: Driver,
            reason: Annotated[str, typer.Option(help="Why (shown in the trail).")] = "",
            database_url: DbUrl = None) -> None:
    """Decline the offer of ORDER_ID made to this courier; it goes to the next courier or carrier."""
    _answer(order_id, driver, False, reason, database_url)
