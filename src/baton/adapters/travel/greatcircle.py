"""Great-circle travel-time provider: haversine distance x circuity, time-of-day speed bands.

No road network is needed, so it works offline and for any region; it is the default
provider and a baseline for a road-network one (OSRM).

* **Distance** (metres, int) = haversine great-circle distance on a sphere of the mean Earth
  radius R1 = 6,371,008.8 m (IUGG; Moritz 1980, *Geodetic Reference System 1980*) x a
  **circuity factor**, rounded to the nearest metre. Circuity (detour index) is the ratio of
  road to straight-line distance: Ballou, Rahardja & Sakai (2002), "Selected country circuity
  factors for road travel distance estimation", *Transportation Research A* 36(9):843-848,
  report about 1.2-1.4 by country (Brazil about 1.23, the US 1.20); Boscoe, Henry & Zdeb
  (2012), "A nationwide comparison of driving distance versus straight-line distance to
  hospitals", *The Professional Geographer* 64(2), find about 1.4 for short US trips. Short
  urban legs detour more than long ones, so the default 1.35 sits at the urban end of that
  range; calibrate it against real routes where you have them.
* **Duration** (seconds, int) = distance / speed of the time-of-day band in force at
  ``depart_at`` (its own local time), rounded up. One band for the whole matrix: legs are short
  compared with the bands, and the planner re-asks per departure band when it matters.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from baton.adapters.travel.base import TravelMatrices
from baton.domain.errors import ValidationError
from baton.domain.values import LatLng, require_aware

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius R1 (IUGG), metres."""

DEFAULT_CIRCUITY = 1.35
_NO_DEPARTURE_HOUR = 12.0
_BLOCK_ROWS = 256  # rows computed at once: caps float64 temporaries at ~256 x n x 8 bytes each


@dataclass(frozen=True)
class SpeedProfile:
    """Average driving speed by local time of day: ``bands`` of ``(start_hour, km_per_h)``.

    Each band runs from its ``start_hour`` (0 <= h < 24, fractional allowed) to the next band's
    start; the first band must start at 0 and the last one runs to midnight.

    Raises:
        ValidationError: when the bands do not start at 0, are not strictly increasing, leave
            [0, 24), or a speed is not > 0.
    """

    bands: tuple[tuple[float, float], ...]

    def __init__(self, bands: Sequence[tuple[float, float]]) -> None:
        object.__setattr__(self, "bands", tuple((float(h), float(v)) for h, v in bands))
        starts = [h for h, _ in self.bands]
        if not starts or starts[0] != 0.0:
            raise ValidationError(f"speed profile must start with a band at hour 0, got {starts}")
        if any(b <= a for a, b in itertools.pairwise(starts)) or starts[-1] >= 24:
            raise ValidationError(f"speed band start hours must increase strictly in [0, 24), got {starts}")
        if any(not v > 0 for _, v in self.bands):
            raise ValidationError(f"speeds must be > 0 km/h, got {[v for _, v in self.bands]}")

    @classmethod
    def urban_default(cls) -> SpeedProfile:
        """A mid-sized city's weekday, door-to-door average speeds including junctions and parking.

        0-6 h 40 km/h (empty streets), 6-9 h 22 (morning peak), 9-16 h 28 (daytime),
        16-19 h 20 (evening peak), 19-24 h 32. These are assumed typical values of the order
        that traffic indices (e.g. TomTom Traffic Index city averages of about 20-30 km/h at
        peak) report, not a measurement of any one city: calibrate with GPS traces.
        """
        return cls([(0, 40.0), (6, 22.0), (9, 28.0), (16, 20.0), (19, 32.0)])

    def band_index(self, hour: float) -> int:
        """Index of the band in force at local ``hour`` (0 <= hour < 24)."""
        index = 0
        for i, (start, _) in enumerate(self.bands):
            if start <= hour:
                index = i
        return index

    def band_for(self, depart_at: datetime | None) -> int:
        """Band index at ``depart_at``'s own local time; ``None`` uses the band in force at 12:00.

        Raises:
            ValidationError: when ``depart_at`` is naive.
        """
        if depart_at is None:
            return self.band_index(_NO_DEPARTURE_HOUR)
        require_aware(depart_at, "depart_at")
        return self.band_index(depart_at.hour + depart_at.minute / 60 + depart_at.second / 3600)

    def speed_kmh(self, depart_at: datetime | None) -> float:
        """Speed (km/h) of the band in force at ``depart_at`` (see :meth:`band_for`)."""
        return self.bands[self.band_for(depart_at)][1]


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    size: int
    maxsize: int


def haversine_m(
    lat: npt.NDArray[np.float64], lng: npt.NDArray[np.float64], rows: slice = slice(None)
) -> npt.NDArray[np.float64]:
    """Great-circle distances (metres) from the points ``rows`` to every point; degrees in."""
    phi, lam = np.radians(lat), np.radians(lng)
    p1, l1 = phi[rows, None], lam[rows, None]
    a = np.sin((phi[None, :] - p1) / 2) ** 2
    a += np.cos(p1) * np.cos(phi)[None, :] * np.sin((lam[None, :] - l1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


class GreatCircleProvider:
    """A :class:`~baton.adapters.travel.base.TravelTimeProvider` from great-circle distances.

    Args:
        circuity: road/straight-line distance ratio, >= 1 (default 1.35).
        speed_profile: time-of-day speeds (default :meth:`SpeedProfile.urban_default`).
        cache_size: how many recent answers, keyed by ``(points, speed band)``, to keep (LRU);
            0 disables the cache.

    Matrices are symmetric with a zero diagonal; the returned arrays are read-only (they may be
    shared with the cache). Memory: two ``int32`` ``n x n`` matrices (32 MB for 2,000 points)
    plus float64 temporaries for 256 rows at a time.

    Raises:
        ValidationError: on construction, when ``circuity < 1`` or ``cache_size < 0``.
    """

    name = "great-circle"

    def __init__(
        self,
        circuity: float = DEFAULT_CIRCUITY,
        speed_profile: SpeedProfile | None = None,
        cache_size: int = 8,
    ) -> None:
        if not circuity >= 1.0:
            raise ValidationError(f"circuity must be >= 1 (roads are never shorter), got {circuity}")
        if cache_size < 0:
            raise ValidationError(f"cache_size must be >= 0, got {cache_size}")
        self.circuity = float(circuity)
        self.speed_profile = speed_profile or SpeedProfile.urban_default()
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[tuple[LatLng, ...], float, float], TravelMatrices] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def matrices(self, points: Sequence[LatLng], depart_at: datetime | None = None) -> TravelMatrices:
        """Distance (m) and duration (s) between every pair of ``points``, ``int32``.

        ``depart_at`` (aware) picks the speed band by its local time of day; ``None`` = midday band.

        Raises:
            ValidationError: when ``depart_at`` is naive.
        """
        speed_kmh = self.speed_profile.speed_kmh(depart_at)
        pts = tuple(points)
        # The tuple itself (not only its hash) is in the key, so a hash collision cannot return
        # another point set's matrices; circuity and speed stand for the provider's settings.
        key = (pts, self.circuity, speed_kmh)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self._hits += 1
                return cached
            self._misses += 1
        result = self._compute(pts, speed_kmh)
        if self.cache_size:
            with self._lock:
                self._cache[key] = result
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return result

    def cache_info(self) -> CacheInfo:
        """Cache hits and misses since construction, current and maximum number of entries."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self.cache_size)

    def _compute(self, points: tuple[LatLng, ...], speed_kmh: float) -> TravelMatrices:
        n = len(points)
        lat = np.fromiter((p.lat for p in points), dtype=np.float64, count=n)
        lng = np.fromiter((p.lng for p in points), dtype=np.float64, count=n)
        distance = np.empty((n, n), dtype=np.int32)
        duration = np.empty((n, n), dtype=np.int32)
        metres_per_s = speed_kmh / 3.6
        for start in range(0, n, _BLOCK_ROWS):
            rows = slice(start, min(start + _BLOCK_ROWS, n))
            metres = np.rint(haversine_m(lat, lng, rows) * self.circuity)
            distance[rows] = metres
            duration[rows] = np.ceil(metres / metres_per_s)
        # Floating-point evaluation order can differ by one unit between [i, j] and [j, i].
        np.minimum(distance, distance.T, out=distance)
        np.minimum(duration, duration.T, out=duration)
        np.fill_diagonal(distance, 0)
        np.fill_diagonal(duration, 0)
        distance.flags.writeable = False
        duration.flags.writeable = False
        return TravelMatrices(distance_m=distance, duration_s=duration)


__all__ = [
    "DEFAULT_CIRCUITY", "EARTH_RADIUS_M", "CacheInfo", "GreatCircleProvider", "SpeedProfile", "haversine_m",
]
