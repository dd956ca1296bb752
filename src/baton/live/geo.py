"""Distances and durations between the points of the live plan, from a travel provider."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from baton.adapters.travel.base import TravelTimeProvider
from baton.domain.values import LatLng


class Geo:
    """Distances (m) and durations (s) between the points Baton knows, from a travel provider.

    The points known when the day starts get one dense matrix (one provider call). Points added
    during the day (new or moved addresses) get their legs on demand: :meth:`fetch` asks the
    provider for one small matrix between a new point and the points it may be inserted between,
    and :meth:`leg` fills any other missing pair the same way. Providers answer pairwise, so a leg
    is the same whichever call produced it.
    """

    def __init__(self, travel: TravelTimeProvider, points: Sequence[LatLng], depart_at: datetime | None) -> None:
        self.travel, self.depart_at = travel, depart_at
        self.points: list[LatLng] = list(dict.fromkeys(points))
        self.index: dict[LatLng, int] = {p: k for k, p in enumerate(self.points)}
        self.n_dense = len(self.points)
        m = travel.matrices(self.points, depart_at=depart_at) if self.points else None
        self._d: list[list[int]] = m.distance_m.tolist() if m is not None else []
        self._t: list[list[int]] = m.duration_s.tolist() if m is not None else []
        self._extra: dict[tuple[int, int], tuple[int, int]] = {}
        self._lat: npt.NDArray[np.float64] = np.zeros(0)
        self._lng: npt.NDArray[np.float64] = np.zeros(0)

    def add(self, points: Sequence[LatLng]) -> list[int]:
        """Indices of ``points``, registering the unknown ones (their legs come on demand)."""
        for p in points:
            if p not in self.index:
                self.index[p] = len(self.points)
                self.points.append(p)
        return [self.index[p] for p in points]

    def coords(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Latitudes and longitudes (degrees) of every point, by index."""
        if len(self._lat) < len(self.points):
            new = self.points[len(self._lat):]
            self._lat = np.concatenate([self._lat, [p.lat for p in new]])
            self._lng = np.concatenate([self._lng, [p.lng for p in new]])
        return self._lat, self._lng

    def fetch(self, a: int, others: Sequence[int]) -> None:
        """Ask the provider, in one call, for every leg between point ``a`` and ``others`` not yet known.

        Raises:
            TravelTimeError: when the provider cannot answer.
        """
        need = [o for o in dict.fromkeys(others) if o != a and not self._known(a, o)]
        if not need:
            return
        m = self.travel.matrices([self.points[a]] + [self.points[o] for o in need], depart_at=self.depart_at)
        # only the legs from and to ``a`` are kept: the first row and column
        d_from, t_from = m.distance_m[0].tolist(), m.duration_s[0].tolist()
        d_to, t_to = m.distance_m[:, 0].tolist(), m.duration_s[:, 0].tolist()
        for k, o in enumerate(need, start=1):
            self._extra[(a, o)] = (d_from[k], t_from[k])
            self._extra[(o, a)] = (d_to[k], t_to[k])

    def _known(self, a: int, b: int) -> bool:
        return (a < self.n_dense and b < self.n_dense) or (a, b) in self._extra

    def leg(self, a: int, b: int) -> tuple[int, int]:
        """``(metres, seconds)`` from point ``a`` to ``b``."""
        if a < self.n_dense and b < self.n_dense:
            return self._d[a][b], self._t[a][b]
        if a == b:
            return 0, 0
        found = self._extra.get((a, b))
        if found is None:
            self.fetch(a, [b])
            found = self._extra[(a, b)]
        return found

    def legs(self, pairs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """:meth:`leg` of each ``(a, b)`` pair, in order."""
        n, d, t, leg = self.n_dense, self._d, self._t, self.leg
        return [(d[a][b], t[a][b]) if a < n and b < n else leg(a, b) for a, b in pairs]
