"""Travel-time providers: great-circle maths, speed bands, cache; OSRM adapter over real HTTP."""

from __future__ import annotations

import json
import math
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pytest

from baton.adapters.travel import (
    GreatCircleProvider,
    OsrmProvider,
    SpeedProfile,
    TravelTimeError,
    make_provider,
)
from baton.domain.errors import ValidationError
from baton.domain.values import LatLng

BRT = timezone(timedelta(hours=-3))  # America/Sao_Paulo, no DST since 2019
TORRE_DE_TV = LatLng(-15.790556, -47.892778)  # Brasília TV tower
LOGGI_DF_DEPOT = LatLng(-15.657014, -47.802665)  # origin of loggibud cvrp-0-df-*
BIG_BEN = LatLng(51.5007, -0.1246)
STATUE_OF_LIBERTY = LatLng(40.6892, -74.0445)


def brasilia_points(n: int, seed: int = 7) -> list[LatLng]:
    rng = np.random.default_rng(seed)
    return [LatLng(float(a), float(b)) for a, b in
            zip(rng.uniform(-15.9, -15.6, n), rng.uniform(-48.1, -47.7, n), strict=True)]


# --- great circle -------------------------------------------------------------------------


def test_haversine_matches_hand_computed_distances() -> None:
    plain = GreatCircleProvider(circuity=1.0)
    # Equirectangular by hand (fine at 18 km): dlat 0.133542 deg x 111,195 m = 14,849 m;
    # dlng 0.090113 deg x 111,195 m x cos(15.7238 deg) = 9,645 m; hypot = 17,707 m.
    d = plain.matrices([TORRE_DE_TV, LOGGI_DF_DEPOT]).distance_m
    assert d[0, 1] == pytest.approx(17_707, rel=0.005)
    # London - New York, the classic textbook haversine example: 5,574.8 km (R = 6,371 km).
    far = plain.matrices([BIG_BEN, STATUE_OF_LIBERTY]).distance_m
    assert far[0, 1] == pytest.approx(5_574_800, rel=0.005)
    # One degree of latitude along a meridian is R x pi / 180 = 111,195 m.
    assert plain.matrices([LatLng(0, 10), LatLng(1, 10)]).distance_m[0, 1] == 111_195


def test_circuity_scales_distance() -> None:
    points = [TORRE_DE_TV, LOGGI_DF_DEPOT]
    plain = GreatCircleProvider(circuity=1.0).matrices(points).distance_m[0, 1]
    default = GreatCircleProvider().matrices(points).distance_m[0, 1]
    assert default == round(17_706.73 * 1.35)
    assert default / plain == pytest.approx(1.35, abs=1e-4)
    with pytest.raises(ValidationError, match="circuity"):
        GreatCircleProvider(circuity=0.9)


def test_matrices_symmetric_zero_diagonal_int32() -> None:
    m = GreatCircleProvider().matrices(brasilia_points(300))
    for matrix in (m.distance_m, m.duration_s):
        assert matrix.dtype == np.int32 and matrix.shape == (300, 300)
        assert np.array_equal(matrix, matrix.T)
        assert not np.diagonal(matrix).any()
        assert (matrix[~np.eye(300, dtype=bool)] > 0).all()
    assert not m.distance_m.flags.writeable


def test_duration_follows_the_local_time_speed_band() -> None:
    provider = GreatCircleProvider()
    points = [TORRE_DE_TV, LOGGI_DF_DEPOT]
    metres = int(provider.matrices(points).distance_m[0, 1])
    morning_peak = provider.matrices(points, datetime(2025, 3, 10, 7, 30, tzinfo=BRT))
    assert morning_peak.duration_s[0, 1] == math.ceil(metres / (22 / 3.6))
    night = provider.matrices(points, datetime(2025, 3, 10, 2, 0, tzinfo=BRT))
    assert night.duration_s[0, 1] == math.ceil(metres / (40 / 3.6))
    # The band is chosen by the instant's own offset: 07:30 BRT written as 10:30 UTC is "daytime".
    same_instant_utc = datetime(2025, 3, 10, 10, 30, tzinfo=UTC)
    assert provider.matrices(points, same_instant_utc).duration_s[0, 1] == math.ceil(metres / (28 / 3.6))
    assert provider.matrices(points).duration_s[0, 1] == math.ceil(metres / (28 / 3.6))  # None: midday
    assert night.distance_m[0, 1] == metres
    with pytest.raises(ValidationError, match="naive"):
        provider.matrices(points, datetime(2025, 3, 10, 7, 30))


def test_speed_profile_validation_and_band_edges() -> None:
    profile = SpeedProfile([(0, 30), (6.5, 15)])
    assert profile.speed_kmh(datetime(2025, 3, 10, 6, 29, tzinfo=BRT)) == 30
    assert profile.speed_kmh(datetime(2025, 3, 10, 6, 30, tzinfo=BRT)) == 15
    assert profile.speed_kmh(datetime(2025, 3, 10, 23, 59, tzinfo=BRT)) == 15
    for bad in ([(1, 30)], [(0, 30), (0, 20)], [(0, 30), (24, 20)], [(0, 0)], []):
        with pytest.raises(ValidationError):
            SpeedProfile(bad)


def test_cache_hit_returns_same_matrices_and_lru_evicts() -> None:
    provider = GreatCircleProvider(cache_size=2)
    a, b, c = brasilia_points(20, 1), brasilia_points(20, 2), brasilia_points(20, 3)
    first = provider.matrices(a)
    assert provider.matrices(list(a)) is first  # equal points, new list: still a hit
    assert provider.cache_info().hits == 1 and provider.cache_info().misses == 1
    at_peak = provider.matrices(a, datetime(2025, 3, 10, 17, 0, tzinfo=BRT))
    assert at_peak is not first and (at_peak.duration_s >= first.duration_s).all()  # 20 < 28 km/h
    provider.matrices(b)
    provider.matrices(c)
    assert provider.cache_info().size == 2
    assert provider.matrices(a) is not first  # evicted
    assert GreatCircleProvider(cache_size=0).cache_info().maxsize == 0


def test_two_thousand_points_fit() -> None:
    m = GreatCircleProvider().matrices(brasilia_points(2000))
    assert m.distance_m.shape == (2000, 2000) and m.distance_m.dtype == np.int32
    assert 0 < m.distance_m.max() < 80_000  # the box is ~33 x 43 km, x 1.35


def test_make_provider() -> None:
    assert isinstance(make_provider(), GreatCircleProvider)
    assert make_provider("great-circle").name == "great-circle"
    osrm = make_provider("http://127.0.0.1:5000/")
    assert isinstance(osrm, OsrmProvider) and osrm.base_url == "http://127.0.0.1:5000"
    with pytest.raises(ValueError, match="great-circle"):
        make_provider("google")


# --- OSRM against a fake server -----------------------------------------------------------


def fake_distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Deterministic and asymmetric (lng, lat) -> metres, so swapped sources/destinations show."""
    if a == b:
        return 0.0
    return abs(a[0] - b[0]) * 100_000 + abs(a[1] - b[1]) * 110_000 + (37.5 if a[1] < b[1] else 0.0)


class FakeOsrm(ThreadingHTTPServer):
    """A tiny OSRM ``/table/v1`` look-alike: TooBig limit, null cells, scripted failures."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeOsrmHandler)
        self.reset()

    def reset(self) -> None:
        self.max_table_size = 100
        self.unreachable: set[tuple[float, float]] = set()
        self.fail_next: list[int] = []  # HTTP statuses to answer before behaving
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FakeOsrmHandler(BaseHTTPRequestHandler):
    server: FakeOsrm

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        srv = self.server
        if srv.fail_next:
            self.reply(srv.fail_next.pop(0), {"code": "Busy"})
            return
        parts = urlsplit(self.path)
        prefix = "/table/v1/driving/"
        if not parts.path.startswith(prefix):
            self.reply(400, {"code": "InvalidService", "message": "Service table or profile not found"})
            return
        pairs = [c.split(",") for c in unquote(parts.path[len(prefix):]).split(";")]
        coords = [(float(lng), float(lat)) for lng, lat in pairs]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        everyone = ";".join(str(i) for i in range(len(coords)))
        sources = [int(i) for i in query.get("sources", everyone).split(";")]
        dests = [int(i) for i in query.get("destinations", everyone).split(";")]
        srv.requests.append({"path": self.path, "sources": sources, "destinations": dests, "query": query})
        if len(sources) * len(dests) > srv.max_table_size**2:
            self.reply(400, {"code": "TooBig", "message": "Too many table coordinates"})
            return
        distances: list[list[float | None]] = []
        for s in sources:
            row: list[float | None] = []
            for d in dests:
                a, b = coords[s], coords[d]
                blocked = a != b and (a in srv.unreachable or b in srv.unreachable)
                row.append(None if blocked else fake_distance(a, b))
            distances.append(row)
        durations = [[None if v is None else round(v / 8.3, 1) for v in row] for row in distances]
        self.reply(200, {"code": "Ok", "durations": durations, "distances": distances})


@pytest.fixture(scope="module")
def osrm_server() -> Iterator[FakeOsrm]:
    server = FakeOsrm()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake(osrm_server: FakeOsrm) -> FakeOsrm:
    osrm_server.reset()
    return osrm_server


def expected(points: list[LatLng]) -> tuple[np.ndarray, np.ndarray]:
    ll = [(round(p.lng, 6), round(p.lat, 6)) for p in points]
    dist = np.array([[fake_distance(a, b) for b in ll] for a in ll])
    return np.rint(dist).astype(np.int32), np.rint(np.round(dist / 8.3, 1)).astype(np.int32)


def test_osrm_single_table_uses_lng_lat_order(fake: FakeOsrm) -> None:
    points = brasilia_points(5)
    with OsrmProvider(fake.url) as provider:
        m = provider.matrices(points, datetime(2025, 3, 10, 8, 0, tzinfo=BRT))
    dist, dur = expected(points)
    assert np.array_equal(m.distance_m, dist) and np.array_equal(m.duration_s, dur)
    assert m.distance_m.dtype == np.int32 and m.distance_m[0, 1] != m.distance_m[1, 0]
    assert len(fake.requests) == 1 and "sources" not in fake.requests[0]["query"]
    first = points[0]
    assert fake.requests[0]["path"].startswith(f"/table/v1/driving/{first.lng:.6f},{first.lat:.6f};")
    assert fake.requests[0]["query"]["annotations"] == "duration,distance"


def test_osrm_splits_into_blocks_above_max_table_size(fake: FakeOsrm) -> None:
    fake.max_table_size = 2
    points = brasilia_points(5)
    with OsrmProvider(fake.url, max_table_size=2) as provider:
        m = provider.matrices(points)
    dist, dur = expected(points)
    assert np.array_equal(m.distance_m, dist) and np.array_equal(m.duration_s, dur)
    assert len(fake.requests) == 9  # 3 x 3 blocks of at most 2 x 2
    assert all(len(r["sources"]) * len(r["destinations"]) <= 4 for r in fake.requests)
    assert "sources=0;1&destinations=2;3" in fake.requests[1]["path"]  # block (0..1) x (2..3)


def test_osrm_error_reply_carries_osrms_message(fake: FakeOsrm) -> None:
    fake.max_table_size = 2
    with OsrmProvider(fake.url, max_table_size=3) as provider, \
            pytest.raises(TravelTimeError, match="TooBig: Too many table coordinates"):
        provider.matrices(brasilia_points(5))
    with OsrmProvider(fake.url, profile="boat") as provider, \
            pytest.raises(TravelTimeError, match="InvalidService: Service table or profile not found"):
        provider.matrices(brasilia_points(2))


def test_osrm_null_cell_is_a_clear_error(fake: FakeOsrm) -> None:
    points = brasilia_points(4)
    island = points[2]
    fake.unreachable = {(round(island.lng, 6), round(island.lat, 6))}
    with OsrmProvider(fake.url) as provider, pytest.raises(TravelTimeError) as info:
        provider.matrices(points)
    message = str(info.value)
    assert "no route for 6 pair(s)" in message and f"({island.lat:.6f}, {island.lng:.6f})" in message


def test_osrm_retries_transient_errors(fake: FakeOsrm) -> None:
    fake.fail_next = [503, 502]
    with OsrmProvider(fake.url, attempts=3, backoff_s=0.01) as provider:
        m = provider.matrices(brasilia_points(3))
    assert m.size == 3 and len(fake.requests) == 1
    fake.fail_next = [503, 503]
    with OsrmProvider(fake.url, attempts=2, backoff_s=0.01) as provider, \
            pytest.raises(TravelTimeError, match="after 2 attempt"):
        provider.matrices(brasilia_points(3))


def test_osrm_unreachable_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with OsrmProvider(f"http://127.0.0.1:{port}", attempts=2, backoff_s=0.01, timeout_s=2) as provider, \
            pytest.raises(TravelTimeError, match="ConnectError"):
        provider.matrices(brasilia_points(2))


def test_planning_asks_for_the_speed_band_of_the_depots_local_time() -> None:
    """Shift starts read back from the database are UTC instants: 08:00 in Sao Paulo (11:00 UTC)
    must still get the 06-09 h peak band (22 km/h), not the daytime band of 11:00 (28 km/h)."""
    from dataclasses import replace

    from baton.planning.mapping import departure_instant, problem_matrices
    from baton.planning.problem import PlanningProblem
    from planning_doubles import depot, driver, order, vehicle

    shift = driver("dr0", start=8, vehicle_id="v0")
    stored = replace(shift, shift_start=shift.shift_start.astimezone(UTC), shift_end=shift.shift_end.astimezone(UTC))
    problem = PlanningProblem([order("o1", TORRE_DE_TV)], [depot("d1", LOGGI_DF_DEPOT)], [vehicle("v0")], [stored])
    first = departure_instant(problem)
    assert first == stored.shift_start and (first.hour, str(first.tzinfo)) == (8, "America/Sao_Paulo")
    matrices = problem_matrices(problem, GreatCircleProvider())
    metres = int(matrices.distance_m[0, 1])
    assert matrices.duration_s[0, 1] == math.ceil(metres / (22 / 3.6))
