"""Repositories: explicit mapping between table rows (:mod:`baton.adapters.orm`) and domain objects.

Each repository works inside one SQLAlchemy :class:`~sqlalchemy.orm.Session` (one
transaction, owned by the unit of work) and one organisation (``org_id``). Writes use Core
``executemany`` statements, so adding or loading thousands of rows costs a few statements,
not one flush per row. Instants go in and come out timezone-aware (read back in UTC).

Only :class:`OrderRepository` tracks changes: orders are the aggregate commands mutate.
Plans are written once and then only their execution fields change
(:meth:`PlanRepository.update_route`); depots, vehicles and drivers are immutable values.
"""

from baton.adapters.repository.fleet import DepotRepository, DriverRepository, VehicleRepository
from baton.adapters.repository.orders import (
    OrderRepository,
    order_from_row,
    order_to_row,
)
from baton.adapters.repository.plans import PlanRepository

__all__ = [
    "DepotRepository",
    "DriverRepository",
    "OrderRepository",
    "PlanRepository",
    "VehicleRepository",
    "order_from_row",
    "order_to_row",
]
