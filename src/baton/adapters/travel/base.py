"""The travel-time provider port.

A provider turns ``n`` WGS84 points into two ``n x n`` integer matrices: driving distance
in metres and driving duration in seconds, ``[i, j]`` being the leg from point ``i`` to
point ``j`` (asymmetric providers are allowed; the diagonal is 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from baton.domain.values import LatLng


@dataclass(frozen=True)
class TravelMatrices:
    """``distance_m[i, j]`` metres and ``duration_s[i, j]`` seconds, both ``int32``, shape ``(n, n)``."""

    distance_m: npt.NDArray[np.int32]
    duration_s: npt.NDArray[np.int32]

    def __post_init__(self) -> None:
        if self.distance_m.shape != self.duration_s.shape or self.distance_m.ndim != 2:
            raise ValueError(
                f"matrices must be square and of one shape, got {self.distance_m.shape} and {self.duration_s.shape}"
            )

    @property
    def size(self) -> int:
        return int(self.distance_m.shape[0])


class TravelTimeProvider(Protocol):
    """Anything that can produce :class:`TravelMatrices` for a list of points."""

    name: str

    def matrices(self, points: Sequence[LatLng], depart_at: datetime | None = None) -> TravelMatrices:
        """Distance (m) and duration (s) between every pair of ``points``.

        ``depart_at`` (aware) selects a time-of-day speed profile where the provider has one;
        ``None`` means the provider's default profile.

        Raises:
            TravelTimeError: when the provider cannot answer (unreachable server, bad reply).
        """
        ...


class TravelTimeError(RuntimeError):
    """A travel-time provider could not produce matrices (the message says why)."""
