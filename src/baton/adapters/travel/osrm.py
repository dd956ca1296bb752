"""OSRM travel-time provider: road distances and durations from an OSRM server's table service.

Calls ``GET {base_url}/table/v1/{profile}/{lng,lat;lng,lat;...}?annotations=duration,distance``
(OSRM 5.x HTTP API; note OSRM's **(lng, lat)** coordinate order, the reverse of Baton's
:class:`LatLng`). OSRM answers ``durations`` in seconds and ``distances`` in metres, floats,
``null`` where no route exists.

An ``osrm-routed`` server refuses tables with more than ``--max-table-size`` squared cells
(sources x destinations, default 100 x 100): above ``max_table_size`` points the matrix is
asked block by block (``sources``/``destinations`` parameters), each block at most
``max_table_size x max_table_size``. Transient failures (connection errors, time-outs,
HTTP 429/502/503/504) are retried with exponential back-off (tenacity).

OSRM has no time-of-day traffic model: ``depart_at`` is accepted (it must be aware) and ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from baton.adapters.travel.base import TravelMatrices, TravelTimeError
from baton.domain.values import LatLng, require_aware

_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
_INT32_MAX = np.iinfo(np.int32).max


class _Transient(Exception):
    """A failure worth retrying (network trouble, server overloaded)."""


class OsrmProvider:
    """A :class:`~baton.adapters.travel.base.TravelTimeProvider` backed by an OSRM server.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:5000`` (no trailing ``/table``).
        profile: the OSRM profile in the URL (``driving``, ``car``, ``bike``...).
        timeout_s: per-request time-out, seconds.
        max_table_size: the server's ``--max-table-size``; blocks are at most this many
            sources by this many destinations.
        attempts: tries per request (1 = no retry) for transient failures.
        backoff_s: first retry delay, seconds; doubles each retry, capped at 8 s.

    Distances and durations are rounded to the nearest integer (metres, seconds); the diagonal is 0.

    Raises:
        ValueError: on construction, for a non-http(s) ``base_url`` or a setting out of range.
    """

    name = "osrm"

    def __init__(
        self,
        base_url: str,
        profile: str = "driving",
        timeout_s: float = 30,
        max_table_size: int = 100,
        *,
        attempts: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"OSRM base_url must start with http:// or https://, got {base_url!r}")
        if max_table_size < 1 or attempts < 1 or timeout_s <= 0 or backoff_s < 0:
            raise ValueError("max_table_size and attempts must be >= 1, timeout_s > 0, backoff_s >= 0")
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.timeout_s = timeout_s
        self.max_table_size = max_table_size
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._client = httpx.Client(timeout=timeout_s, headers={"User-Agent": "baton-osrm-adapter"})

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> OsrmProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def matrices(self, points: Sequence[LatLng], depart_at: datetime | None = None) -> TravelMatrices:
        """Road distance (m) and duration (s) between every pair of ``points``, ``int32``.

        Raises:
            TravelTimeError: when the server is unreachable after the retries, answers a non-"Ok"
                ``code`` (the message carries OSRM's), sends a malformed reply, or has no route for
                some pair (the message names the first such pairs by index and ``(lat, lng)``).
            ValidationError: when ``depart_at`` is naive.
        """
        if depart_at is not None:
            require_aware(depart_at, "depart_at")
        n = len(points)
        distance = np.zeros((n, n), dtype=np.float64)
        duration = np.zeros((n, n), dtype=np.float64)
        if n == 0:
            return TravelMatrices(distance.astype(np.int32), duration.astype(np.int32))
        blocks = [slice(i, min(i + self.max_table_size, n)) for i in range(0, n, self.max_table_size)]
        for src in blocks:
            for dst in blocks:
                dur, dist = self._table(points, src, dst)
                duration[src, dst] = dur
                distance[src, dst] = dist
        self._check_reachable(points, duration, distance)
        np.fill_diagonal(distance, 0.0)
        np.fill_diagonal(duration, 0.0)
        return TravelMatrices(_to_int32(distance, "distance"), _to_int32(duration, "duration"))

    # --- one request ------------------------------------------------------------------------

    def _table(
        self, points: Sequence[LatLng], src: slice, dst: slice
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Durations and distances (``NaN`` = no route) from ``points[src]`` to ``points[dst]``.

        A diagonal block asks for all pairs of its points; an off-diagonal one sends both blocks'
        points and names the first ones ``sources``, the others ``destinations``.
        """
        src_idx, dst_idx = range(len(points))[src], range(len(points))[dst]
        same = src == dst
        chosen = [points[i] for i in src_idx] + ([] if same else [points[j] for j in dst_idx])
        coords = ";".join(f"{p.lng:.6f},{p.lat:.6f}" for p in chosen)
        query = "annotations=duration,distance"
        if not same:
            query += "&sources=" + ";".join(str(i) for i in range(len(src_idx)))
            query += "&destinations=" + ";".join(str(i) for i in range(len(src_idx), len(chosen)))
        reply = self._get(f"{self.base_url}/table/v1/{self.profile}/{coords}?{query}")
        shape = (len(src_idx), len(dst_idx))
        return _matrix(reply, "durations", shape), _matrix(reply, "distances", shape)

    def _get(self, url: str) -> dict[str, Any]:
        """GET ``url`` with retries; return the JSON body of an ``Ok`` reply."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=8),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._request(url)
        except _Transient as exc:
            raise TravelTimeError(
                f"OSRM at {self.base_url} failed after {self.attempts} attempt(s): {exc}"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            raise TravelTimeError(
                f"OSRM at {self.base_url} answered HTTP {response.status_code} with a non-JSON body: "
                f"{response.text[:200]!r}"
            ) from None
        if not isinstance(body, dict):
            kind = type(body).__name__
            raise TravelTimeError(f"OSRM at {self.base_url} answered a JSON {kind}, not an object")
        if body.get("code") != "Ok":
            raise TravelTimeError(
                f"OSRM at {self.base_url} refused the table request (HTTP {response.status_code}): "
                f"{body.get('code', 'no code')}: {body.get('message', 'no message')}"
            )
        return body

    def _request(self, url: str) -> httpx.Response:
        try:
            response = self._client.get(url)
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code in _TRANSIENT_STATUS:
            raise _Transient(f"HTTP {response.status_code}")
        return response

    @staticmethod
    def _check_reachable(
        points: Sequence[LatLng], duration: npt.NDArray[np.float64], distance: npt.NDArray[np.float64]
    ) -> None:
        missing = np.isnan(duration) | np.isnan(distance)
        np.fill_diagonal(missing, False)
        if missing.any():
            pairs = np.argwhere(missing)
            shown = "; ".join(f"{i} {_fmt(points[i])} -> {j} {_fmt(points[j])}" for i, j in pairs[:3])
            raise TravelTimeError(
                f"OSRM found no route for {len(pairs)} pair(s) of points, e.g. {shown} "
                "(is a point off the road network or outside the server's map?)"
            )


def _fmt(point: LatLng) -> str:
    return f"({point.lat:.6f}, {point.lng:.6f})"


def _matrix(reply: dict[str, Any], key: str, shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    rows = reply.get(key)
    if not isinstance(rows, list) or len(rows) != shape[0] or any(
        not isinstance(r, list) or len(r) != shape[1] for r in rows
    ):
        raise TravelTimeError(f"OSRM reply has no {shape[0]}x{shape[1]} {key!r} table")
    try:
        return np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=np.float64)
    except (TypeError, ValueError):
        raise TravelTimeError(f"OSRM reply's {key!r} table holds a non-number") from None


def _to_int32(values: npt.NDArray[np.float64], what: str) -> npt.NDArray[np.int32]:
    rounded = np.rint(values)
    if (rounded < 0).any() or (rounded > _INT32_MAX).any():
        raise TravelTimeError(f"OSRM {what} out of the int32 range [0, {_INT32_MAX}]")
    return rounded.astype(np.int32)


__all__ = ["OsrmProvider"]
