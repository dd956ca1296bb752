"""Who is calling and what they may do: roles, scopes and the :class:`Principal` of a request.

Every endpoint names the scopes it needs (e.g. ``orders:write``). A user's scopes follow from
their role (:data:`ROLE_SCOPES`); an API key carries its scopes explicitly. Drivers and carriers
(and API keys bound to a driver or carrier) are *restricted*: they see only routes driven by
their ``driver_id`` or run by vehicles of their ``carrier_id``, and only the orders on those routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Every scope, with what it allows (shown in the OpenAPI document).
SCOPES: dict[str, str] = {
    "orders:read": "Read orders.",
    "orders:write": "Create, update and cancel orders.",
    "fleet:read": "Read depots, vehicles and drivers.",
    "fleet:write": "Create depots, vehicles and drivers.",
    "plans:read": "Read plans and their routes.",
    "plans:write": "Plan orders and dispatch routes.",
    "routes:read": "Read routes (restricted credentials: their own).",
    "execution:write": "Report stop and route events (restricted credentials: on their own routes).",
    "events:read": "Read the event log.",
    "kpis:read": "Read KPIs.",
    "admin": "Manage the organisation's users and API keys.",
    "organisations:admin": "Create and list organisations (admins of the operator organisation only).",
}

_VIEWER = frozenset({"orders:read", "fleet:read", "plans:read", "routes:read", "events:read", "kpis:read"})
_DISPATCHER = _VIEWER | {"orders:write", "plans:write", "execution:write"}
_FIELD = frozenset({"orders:read", "routes:read", "execution:write"})

#: Scopes of each user role (``organisations:admin`` is added for admins of the operator organisation).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "dispatcher": _DISPATCHER,
    "admin": _DISPATCHER | {"fleet:write", "admin"},
    "driver": _FIELD,
    "carrier": _FIELD,
}
ROLES: tuple[str, ...] = tuple(ROLE_SCOPES)
RESTRICTED_ROLES: frozenset[str] = frozenset({"driver", "carrier"})


def role_scopes(role: str, org_id: str, operator_org: str) -> frozenset[str]:
    """The scopes of ``role`` in ``org_id``; admins of ``operator_org`` also get ``organisations:admin``.

    Raises:
        KeyError: when ``role`` is not one of :data:`ROLES`.
    """
    scopes = ROLE_SCOPES[role]
    if role == "admin" and org_id == operator_org:
        scopes = scopes | {"organisations:admin"}
    return scopes


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request.

    ``kind`` is ``user`` or ``api_key`` and ``id`` the user's or key's id; ``org_id`` the
    organisation every read and write is confined to; ``role`` is ``None`` for API keys.
    """

    kind: Literal["user", "api_key"]
    id: str
    org_id: str
    scopes: frozenset[str]
    role: str | None = None
    name: str = ""
    email: str | None = None
    driver_id: str | None = None
    carrier_id: str | None = None

    @property
    def restricted(self) -> bool:
        """True for drivers, carriers and keys bound to one: they see only their own routes and orders."""
        return self.role in RESTRICTED_ROLES or self.driver_id is not None or self.carrier_id is not None

    @property
    def actor(self) -> str:
        """The ``kind:id`` recorded on the events this principal causes (e.g. ``driver:d-7``)."""
        if self.driver_id is not None:
            return f"driver:{self.driver_id}"
        if self.carrier_id is not None:
            return f"carrier:{self.carrier_id}"
        if self.kind == "api_key":
            return f"system:api-key-{self.id}"
        return f"user:{self.id}"

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def missing(self, scopes: list[str]) -> list[str]:
        """The scopes of ``scopes`` this principal lacks, in order."""
        return [s for s in scopes if s not in self.scopes]
