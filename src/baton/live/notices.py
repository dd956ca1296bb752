"""Delay notices: tell a customer as soon as the live plan predicts their delivery will miss the
promised window, once per delay episode (pure: no I/O; the handlers record the events).

**Prediction.** A stop's ETA on the live plan (:func:`baton.live.model.evaluate`: matrix legs x the
area slowdowns x the city-wide pace and the vehicle's learnt factor) is a point estimate. What is
still to drive before it is uncertain, and more so the further away it is: the leg times carry a shared bias that the
learnt factors have not caught yet, reported slowdowns come and go, and re-planning moves stops
within their windows. The noise model, fixed and independent of any scenario, is an upper bound

    upper = arrival + min(MARGIN_CAP_S, MARGIN_FLOOR_S + MARGIN_RATE x (arrival - now))

(seconds: 10 min at the door, +12 min per hour still ahead, at most 45 min). On the bundled day
(standard scenario, seed 1) the true arrival was below ``upper`` for 95 % of the ETAs published
less than an hour ahead, 86 % one to two hours ahead, 79 % two to three, 62-74 % further.
A stop is **predicted late** when ``upper`` lies after the end of a window that has started and
inside none: a driver running late for the window his route aims for rings on arrival, he does
not sit at the door until a later window opens (``Order.service_start``; a route aiming for the
later window has its ETA in it, not between two; an arrival before the first window waits, it is
not late). An order left without a route today (unassigned by the morning plan, no feasible
insertion, breakdown) is late outright.

**Episodes.** A customer is told when a delay is first predicted (``late``); told again only when
the ETA moved at least :data:`MATERIAL_S` later than what they were told (``later``), or when the
delay is over: the upper bound is back inside a window with :data:`RESOLVE_SLACK_S` to spare
(``resolved``, which ends the episode; a later delay opens a new one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from baton.live.model import RELOAD, LivePlan, Timeline

#: Margin at the door (s), growth per second still ahead (dimensionless), and its cap (s).
MARGIN_FLOOR_S = 600
MARGIN_RATE = 0.2
MARGIN_CAP_S = 2700
#: A new notice within an episode only when the ETA moved this much later than announced (s).
MATERIAL_S = 1800
#: A delay is over when the upper bound is back inside a window with this much to spare (s).
RESOLVE_SLACK_S = 900


def margin_s(ahead_s: int) -> int:
    """The uncertainty margin (s) added to an ETA ``ahead_s`` seconds from now (negative: 0 ahead)."""
    return min(MARGIN_CAP_S, MARGIN_FLOOR_S + int(MARGIN_RATE * max(0, ahead_s)))


def misses(windows: Sequence[tuple[int, int]], arrive_s: int) -> bool:
    """Whether a driver ringing at ``arrive_s`` (clock s) is outside every window, after one opened."""
    if not windows or any(lo <= arrive_s <= hi for lo, hi in windows):
        return False
    return any(lo <= arrive_s for lo, _ in windows)


@dataclass(frozen=True)
class Notice:
    """What to tell ``order_id``: ``kind`` ``late``, ``later`` or ``resolved``; ``eta_s`` the
    predicted arrival (clock s; ``None`` when the order has no route today); ``window_end_s``
    the end of its last window."""

    order_id: str
    kind: str
    eta_s: int | None
    window_end_s: int


@dataclass
class DelayBook:
    """Open delay episodes: order id → the arrival announced (clock s; ``None``: not today)."""

    open: dict[str, int | None] = field(default_factory=dict)

    def review(self, plan: LivePlan, timeline: Timeline, now_s: int) -> list[Notice]:
        """The notices a freshly computed route ``timeline`` calls for, seen at ``now_s`` (clock s);
        the episodes are updated."""
        out: list[Notice] = []
        for v in timeline.visits:
            if v.item == RELOAD or v.item not in plan.orders:
                continue
            windows = plan.orders[v.item].windows
            upper = v.arrive_s + margin_s(v.arrive_s - now_s)
            told = self.open.get(v.item)
            if misses(windows, upper):
                if v.item not in self.open:
                    out.append(self._tell(v.item, "late", v.arrive_s, windows))
                elif told is None or v.arrive_s - told >= MATERIAL_S:
                    out.append(self._tell(v.item, "later", v.arrive_s, windows))
            elif v.item in self.open and any(upper <= hi - RESOLVE_SLACK_S for _, hi in windows):
                del self.open[v.item]
                out.append(Notice(v.item, "resolved", v.arrive_s, _end(windows)))
        return out

    def unserved(self, plan: LivePlan, order_id: str) -> Notice | None:
        """The notice for an order left without a route today, unless its customer already knows."""
        if order_id in self.open and self.open[order_id] is None:
            return None
        windows = plan.orders[order_id].windows if order_id in plan.orders else []
        return self._tell(order_id, "late" if order_id not in self.open else "later", None, windows)

    def forget(self, order_id: str) -> None:
        """The order is gone (cancelled): its episode ends without a notice."""
        self.open.pop(order_id, None)

    def _tell(self, order_id: str, kind: str, eta_s: int | None, windows: Sequence[tuple[int, int]]) -> Notice:
        self.open[order_id] = eta_s
        return Notice(order_id, kind, eta_s, _end(windows))


def _end(windows: Sequence[tuple[int, int]]) -> int:
    return max((hi for _, hi in windows), default=0)
