"""Loaders for routing benchmark instances (Solomon ``.txt``, VRPLIB ``.vrp``) and their BKS table.

A pure loader: it returns the numbers in the file, unscaled, plus the **rounding convention**
the instance's best-known solutions (BKS) use, so a planner can build solver data that is
comparable with ``bks.csv`` (see ``shared/data/benchmarks/README.md``):

* ``"dimacs"``: Euclidean distance and time x10, truncated to an integer (one decimal,
  truncated); divide the solver's cost by 10. Solomon and Gehring & Homberger (both the Solomon
  ``.txt`` and the VRPLIB ``.vrp`` copies with a ``TIME_WINDOW_SECTION``).
* ``"round"``: Euclidean distance rounded to the nearest integer (TSPLIB ``EUC_2D``). CVRP "X"
  and every other VRPLIB instance without time windows.
* ``"none"``: an explicit integer matrix is given (``EDGE_WEIGHT_TYPE : EXPLICIT``, e.g. ORTEC);
  use it as is.

Coordinates are planar ``(x, y)`` in the instance's abstract unit, not WGS84. Times
(windows, service) are in the same unit as distances for Solomon/Homberger.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import vrplib

from baton.intake.files import ImportFileError

Rounding = Literal["dimacs", "round", "none"]


@dataclass(frozen=True, eq=False)
class BenchmarkInstance:
    """One benchmark instance with ``n`` nodes, the depot included.

    Attributes:
        name: the instance's name (e.g. ``C101``, ``X-n101-k25``).
        source_format: ``"solomon"`` or ``"vrplib"``.
        coords: ``(n, 2)`` float ``(x, y)`` per node.
        demand: ``(n,)`` int, the depot's is 0.
        capacity: vehicle capacity, same unit as ``demand``.
        num_vehicles: fleet size: the file's ``VEHICLES``/``NUMBER`` when given (an upper bound,
            not a target), else ``n - 1`` (one per client, i.e. unbounded).
        num_vehicles_given: whether the file stated the fleet size.
        depot: index of the depot node (0 in every file seen so far).
        rounding: the BKS convention (module docstring).
        time_windows: ``(n, 2)`` float ``[early, late]`` per node, or ``None`` for a CVRP.
        service_times: ``(n,)`` float per node (depot 0), or ``None`` when the file has none.
        edge_weight: ``(n, n)`` explicit matrix when the file gives one, else ``None``
            (compute Euclidean distances from ``coords``).
    """

    name: str
    source_format: Literal["solomon", "vrplib"]
    coords: npt.NDArray[np.float64]
    demand: npt.NDArray[np.int64]
    capacity: int
    num_vehicles: int
    num_vehicles_given: bool
    depot: int
    rounding: Rounding
    time_windows: npt.NDArray[np.float64] | None = None
    service_times: npt.NDArray[np.float64] | None = None
    edge_weight: npt.NDArray[np.int64] | None = None

    @property
    def dimension(self) -> int:
        """Number of nodes, depot included."""
        return int(self.coords.shape[0])

    @property
    def num_clients(self) -> int:
        return self.dimension - 1

    @property
    def has_time_windows(self) -> bool:
        return self.time_windows is not None


def _sniff(path: Path) -> Literal["solomon", "vrplib"]:
    try:
        with path.open(encoding="utf-8") as fh:
            head = [line.strip().upper() for _, line in zip(range(40), fh, strict=False)]
    except FileNotFoundError:
        raise ImportFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(path, f"cannot read: {exc}") from None
    if any(line.startswith("NAME") and ":" in line for line in head):
        return "vrplib"
    if "VEHICLE" in head and any(line.startswith("CUST") for line in head):
        return "solomon"
    raise ImportFileError(path, "neither Solomon (VEHICLE/CUSTOMER header) nor VRPLIB (NAME : ...)")


def _as_array(path: Path, data: dict[str, object], key: str, n: int) -> npt.NDArray[np.float64]:
    if key not in data:
        raise ImportFileError(path, f"missing {key!r} section")
    value: npt.NDArray[np.float64] = np.asarray(data[key], dtype=np.float64)
    if value.shape[:1] != (n,):
        entries = value.shape[0] if value.ndim else 1
        raise ImportFileError(path, f"{key!r} has {entries} entries, expected {n}")
    return value


def load_instance(path: Path | str) -> BenchmarkInstance:
    """Read a Solomon ``.txt`` or VRPLIB ``.vrp``/``.txt`` instance (format detected from the content).

    Raises:
        ImportFileError: when the file is missing, in neither format, malformed (a section of the
            wrong length, a missing capacity) or has more than one depot.
    """
    path = Path(path)
    fmt = _sniff(path)
    try:
        if fmt == "solomon":
            data = vrplib.read_instance(path, instance_format="solomon", compute_edge_weights=False)
        else:
            data = vrplib.read_instance(path, compute_edge_weights=False)
    except Exception as exc:  # vrplib raises bare ValueError/IndexError/KeyError on bad input
        raise ImportFileError(path, f"malformed {fmt} file: {type(exc).__name__}: {exc}") from None

    explicit = data.get("edge_weight")
    if "node_coord" in data:
        n = int(np.asarray(data["node_coord"]).shape[0])
    elif explicit is not None:
        n = int(np.asarray(explicit).shape[0])
    else:
        raise ImportFileError(path, "no NODE_COORD_SECTION and no explicit EDGE_WEIGHT_SECTION")
    coords = (
        _as_array(path, data, "node_coord", n) if "node_coord" in data else np.zeros((n, 2))
    ).astype(np.float64)
    demand = _as_array(path, data, "demand", n).astype(np.int64)
    if "capacity" not in data:
        raise ImportFileError(path, "missing CAPACITY")
    depots = np.asarray(data.get("depot", [0])).ravel()
    if depots.size != 1:
        raise ImportFileError(path, f"{depots.size} depots: only single-depot instances are supported")

    windows = _as_array(path, data, "time_window", n) if "time_window" in data else None
    if windows is not None and windows.shape != (n, 2):
        raise ImportFileError(path, f"time windows must be (early, late) pairs, got shape {windows.shape}")
    service = data.get("service_time")
    if service is not None and np.ndim(service) == 0:  # VRPLIB's scalar SERVICE_TIME: every client
        service = np.full(n, float(service))
        service[int(depots[0])] = 0.0
    service_times = None if service is None else _as_array(path, {"service_time": service}, "service_time", n)

    if explicit is not None:
        rounding: Rounding = "none"
    elif fmt == "solomon" or windows is not None:
        rounding = "dimacs"
    else:
        rounding = "round"
    vehicles = data.get("vehicles")
    file_name = str(data.get("name") or "").strip()
    return BenchmarkInstance(
        # Gehring & Homberger files say "c1_2_1" inside but are named (and listed in bks.csv) C1_2_1.
        name=path.stem if file_name.upper() in ("", path.stem.upper()) else file_name,
        source_format=fmt,
        coords=coords,
        demand=demand,
        capacity=int(data["capacity"]),
        num_vehicles=int(vehicles) if vehicles is not None else n - 1,
        num_vehicles_given=vehicles is not None,
        depot=int(depots[0]),
        rounding=rounding,
        time_windows=windows,
        service_times=service_times,
        edge_weight=np.asarray(explicit, dtype=np.int64) if explicit is not None else None,
    )


def load_bks(csv_path: Path | str) -> dict[str, float]:
    """Read a BKS table (``bks.csv`` layout): ``instance`` -> ``distance`` (the BKS objective value).

    The value is in the instance's own rounding convention (the ``rounding`` column), e.g. the
    DIMACS distance for Solomon (already divided by 10), the integer duration sum for ORTEC.

    Raises:
        ImportFileError: when the file is missing, lacks an ``instance`` or ``distance`` column,
            has a non-numeric distance or lists an instance twice (the message gives the line).
    """
    path = Path(csv_path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(path, f"cannot read: {exc}") from None
    reader = csv.DictReader(text.splitlines())
    missing = {"instance", "distance"} - set(reader.fieldnames or [])
    if missing:
        raise ImportFileError(path, f"missing column(s): {', '.join(sorted(missing))}")
    table: dict[str, float] = {}
    for row in reader:
        line = reader.line_num
        name = (row["instance"] or "").strip()
        try:
            value = float(row["distance"] or "")
        except ValueError:
            reason = f"line {line}: distance {row['distance']!r} is not a number"
            raise ImportFileError(path, reason) from None
        if not name:
            raise ImportFileError(path, f"line {line}: empty instance name")
        if name in table:
            raise ImportFileError(path, f"line {line}: instance {name!r} listed twice")
        table[name] = value
    return table


__all__ = ["BenchmarkInstance", "Rounding", "load_bks", "load_instance"]
