"""Events of a plan's publication: a plan solved as a draft, and a plan made the current, dispatch-ready one.

Registered in :data:`baton.domain.events.EVENT_TYPES` on import (``baton.domain.events`` imports
this module at its end, so stored events can always be read back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from baton.domain.events import EVENT_TYPES, Event


@dataclass(frozen=True, kw_only=True)
class PlanDrafted(Event):
    """A plan was solved and stored as a draft: not current, its orders untouched until published."""

    name: ClassVar[str] = "plan.drafted"
    aggregate: ClassVar[str] = "plan"
    plan_id: str
    routes: int
    assigned: int
    unassigned: int


@dataclass(frozen=True, kw_only=True)
class PlanPublished(Event):
    """``plan_id`` became the organisation's current plan (replacing ``previous_plan_id``); its
    ``orders`` orders moved to ``planned`` on its routes, which are ready to dispatch."""

    name: ClassVar[str] = "plan.published"
    aggregate: ClassVar[str] = "plan"
    plan_id: str
    previous_plan_id: str | None
    orders: int


for _cls in (PlanDrafted, PlanPublished):
    EVENT_TYPES.setdefault(_cls.name, _cls)
