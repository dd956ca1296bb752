"""Playbooks: what Baton does automatically when an exception opens, per kind.

Actions (run in order, each logged against the exception with its outcome):

* ``recompute_etas``: refresh the vehicle's ETAs now (publishing ``eta.changed`` where they moved);
* ``request_repair``: ask live re-planning (:class:`Replanner`) to reassign or re-sequence;
* ``notify_customers``: one ``order.notification_requested`` per affected order;
* ``open_dispatcher_task``: flag the exception for a dispatcher, only when the automatic steps
  before it did not fix the problem (no repair applied).

:data:`DEFAULT_PLAYBOOKS` is what a commercial dispatcher would start with; pass your own mapping
(``{"late_risk": ("recompute_etas", "notify_customers"), ...}``) to :class:`ExecutionService`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

ACTIONS: tuple[str, ...] = ("recompute_etas", "request_repair", "notify_customers", "open_dispatcher_task")

DEFAULT_PLAYBOOKS: Mapping[str, Sequence[str]] = {
    "late_risk": ("recompute_etas", "request_repair", "notify_customers", "open_dispatcher_task"),
    "long_dwell": ("recompute_etas", "open_dispatcher_task"),
    "idle_vehicle": ("recompute_etas", "open_dispatcher_task"),
    "gps_silence": ("open_dispatcher_task",),
    "failed_attempt": ("notify_customers", "open_dispatcher_task"),
    "off_route": ("recompute_etas", "open_dispatcher_task"),
    # live re-planning already moved what it could when the breakdown was reported: tell the others
    "breakdown": ("notify_customers", "open_dispatcher_task"),
}


def validate_playbooks(playbooks: Mapping[str, Sequence[str]]) -> None:
    """Raises ValueError naming the kind and the unknown action."""
    for kind, actions in playbooks.items():
        for action in actions:
            if action not in ACTIONS:
                raise ValueError(f"playbook {kind!r}: unknown action {action!r} (known: {', '.join(ACTIONS)})")


@dataclass(frozen=True)
class RepairOutcome:
    """``applied``: the plan changed; ``moved``: order id → the route now serving it."""

    applied: bool
    detail: str
    moved: dict[str, str] = field(default_factory=dict)


class Replanner(Protocol):
    """Live re-planning as seen from execution: repair a route whose ``order_ids`` are threatened."""

    def repair(self, route_id: str, order_ids: Sequence[str], at: datetime) -> RepairOutcome: ...


class NoRepair:
    """The default when no live re-planner is wired in: reports that no repair is available."""

    def repair(self, route_id: str, order_ids: Sequence[str], at: datetime) -> RepairOutcome:
        return RepairOutcome(False, "no repair available (live re-planning not configured)")
