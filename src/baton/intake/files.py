"""Import orders, vehicles, drivers and depots from CSV or JSON files, keeping every good row.

The format is chosen by the extension: ``.csv`` (UTF-8, optional BOM, ``,``-separated, one
header row) or ``.json`` (a list of objects, or an object with the kind's key, e.g.
``{"orders": [...]}``). The schema of each row is in :mod:`baton.intake.schema` and
``docs/import-format.md``.

Row numbers in :class:`RowError`:

* CSV: 1-based **data** rows, the header is not counted (row 1 is the first record after the
  header; blank lines are skipped and not counted), so in a spreadsheet row ``n`` is line ``n + 1``;
* JSON: the 1-based position in the list (list index + 1).

A bad row never stops the import of the others: it is reported in ``errors`` and left out of
``accepted``. A later row reusing an id seen earlier in the same file is an error on the later
row. Only a file that cannot be read at all raises :class:`ImportFileError`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from baton.domain.errors import ValidationError as DomainValidationError
from baton.domain.fleet import Depot, Driver, Vehicle
from baton.domain.order import Order
from baton.intake.fields import WHOLE_ROW, RowInvalid, RowModel
from baton.intake.schema import DepotRow, DriverRow, OrderRow, VehicleRow

T = TypeVar("T")


class ImportFileError(Exception):
    """A file could not be imported at all (missing, unreadable, not CSV/JSON, bad structure).

    ``path`` is the file, ``reason`` a sentence saying what is wrong.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot import {self.path}: {reason}")


@dataclass(frozen=True)
class RowError:
    """One problem in one row: ``row`` number (see the module docstring), ``field`` name, ``message``."""

    row: int
    field: str
    message: str

    def __str__(self) -> str:
        if self.field == WHOLE_ROW:
            return f"row {self.row}: {self.message}"
        return f"row {self.row}, field '{self.field}': {self.message}"


@dataclass
class ImportResult(Generic[T]):
    """What an import produced: the valid domain objects, the row errors and file-level warnings.

    ``warnings`` name columns/keys that are not part of the schema and were ignored
    (often a typo such as ``priorty``).
    """

    accepted: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return not self.errors


@dataclass
class Bundle:
    """A whole planning input read from one JSON file (see :func:`import_bundle`)."""

    depots: ImportResult[Depot] = field(default_factory=ImportResult)
    vehicles: ImportResult[Vehicle] = field(default_factory=ImportResult)
    drivers: ImportResult[Driver] = field(default_factory=ImportResult)
    orders: ImportResult[Order] = field(default_factory=ImportResult)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in (self.depots, self.vehicles, self.drivers, self.orders))

    def problems(self) -> list[str]:
        """Every row error and warning as a line prefixed by its section, e.g. ``orders: row 2, ...``."""
        lines = list(self.warnings)
        for key in ("depots", "vehicles", "drivers", "orders"):
            result: ImportResult[Any] = getattr(self, key)
            lines += [f"{key}: {w}" for w in result.warnings]
            lines += [f"{key}: {e}" for e in result.errors]
        return lines


# --- reading files ------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFileError(path, "file not found") from None
    except IsADirectoryError:
        raise ImportFileError(path, "is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(path, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ImportFileError(path, exc.strerror or str(exc)) from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise ImportFileError(path, reason) from None


def _json_records(path: Path, data: Any, key: str) -> list[tuple[int, Any]]:
    if isinstance(data, dict):
        if key not in data:
            raise ImportFileError(path, f"expected a JSON list or an object with key {key!r}")
        data = data[key]
    if not isinstance(data, list):
        raise ImportFileError(path, f"{key!r} must be a JSON list of objects, got {type(data).__name__}")
    return [(i + 1, item) for i, item in enumerate(data)]


def _csv_records(path: Path, text: str, model: type[RowModel[Any]]) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ImportFileError(path, "empty file: no header row")
        header = [h.strip() for h in header]
        if len(header) == 1 and ";" in header[0]:
            raise ImportFileError(path, "the header looks ';'-separated; Baton reads ','-separated CSV")
        duplicated = sorted({h for h in header if header.count(h) > 1})
        if duplicated:
            raise ImportFileError(path, f"duplicate column(s) in the header: {', '.join(duplicated)}")
        missing = sorted(model.required_keys() - set(header))
        if missing:
            raise ImportFileError(path, f"missing required column(s): {', '.join(missing)}")
        records: list[tuple[int, Any]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            record: dict[str, Any] = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                record[WHOLE_ROW] = len(cells) - len(header)
            records.append((len(records) + 1, record))
        return records
    except csv.Error as exc:
        raise ImportFileError(path, f"malformed CSV at line {reader.line_num}: {exc}") from None


def _load_records(path: Path, model: type[RowModel[Any]], key: str) -> list[tuple[int, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json_records(path, _read_json(path), key)
    if suffix == ".csv":
        return _csv_records(path, _read_text(path), model)
    raise ImportFileError(path, f"unsupported extension {path.suffix or '(none)'!r}: expected .csv or .json")


# --- validating rows ----------------------------------------------------------------------


def _validate(
    records: list[tuple[int, Any]], model: type[RowModel[T]], noun: str
) -> tuple[ImportResult[T], list[int]]:
    """Validate ``records`` (row number, raw record); return the result and the accepted rows' numbers."""
    result: ImportResult[T] = ImportResult()
    accepted_rows: list[int] = []
    first_seen: dict[str, int] = {}
    unknown: set[str] = set()
    known = model.known_keys()
    for row, record in records:
        if not isinstance(record, Mapping):
            result.errors.append(RowError(row, WHOLE_ROW, f"must be an object, got {type(record).__name__}"))
            continue
        errors: list[RowError] = []
        extra_cells = record.get(WHOLE_ROW)
        if extra_cells:
            errors.append(RowError(row, WHOLE_ROW, f"has {extra_cells} more cell(s) than the header"))
        unknown.update(k for k in record if isinstance(k, str) and k not in known and k != WHOLE_ROW)
        raw_id = record.get("id")
        ident = str(raw_id).strip() if raw_id is not None else ""
        if ident in first_seen:
            message = f"duplicate id {ident!r} (first used on row {first_seen[ident]})"
            errors.append(RowError(row, "id", message))
        elif ident:
            first_seen[ident] = row
        try:
            item = model.parse(record).to_domain()
        except RowInvalid as exc:
            errors += [RowError(row, p.field, p.message) for p in exc.problems]
        except DomainValidationError as exc:
            errors.append(RowError(row, WHOLE_ROW, str(exc)))
        if errors:
            result.errors += errors
        else:
            result.accepted.append(item)
            accepted_rows.append(row)
    result.warnings = [
        f"{noun} {name!r} is not part of the {model.kind} schema and was ignored" for name in sorted(unknown)
    ]
    return result, accepted_rows


def _import(path: Path | str, model: type[RowModel[T]], key: str) -> ImportResult[T]:
    path = Path(path)
    noun = "column" if path.suffix.lower() == ".csv" else "key"
    return _validate(_load_records(path, model, key), model, noun)[0]


def import_orders(path: Path | str) -> ImportResult[Order]:
    """Read orders from ``path`` (``.csv`` or ``.json``; JSON key ``orders``).

    Orders come back in state ``created`` with no events: whoever stores them records their creation.

    Raises:
        ImportFileError: when the file is missing, unreadable, not CSV/JSON, has invalid JSON syntax
            or structure, or a CSV header lacks a required column.
    """
    return _import(path, OrderRow, "orders")


def import_vehicles(path: Path | str) -> ImportResult[Vehicle]:
    """Read vehicles from ``path`` (``.csv`` or ``.json``; JSON key ``vehicles``).

    Raises:
        ImportFileError: as :func:`import_orders`.
    """
    return _import(path, VehicleRow, "vehicles")


def import_drivers(path: Path | str) -> ImportResult[Driver]:
    """Read drivers from ``path`` (``.csv`` or ``.json``; JSON key ``drivers``).

    Raises:
        ImportFileError: as :func:`import_orders`.
    """
    return _import(path, DriverRow, "drivers")


def import_depots(path: Path | str) -> ImportResult[Depot]:
    """Read depots from ``path`` (``.csv`` or ``.json``; JSON key ``depots``).

    Raises:
        ImportFileError: as :func:`import_orders`.
    """
    return _import(path, DepotRow, "depots")


_BUNDLE_KEYS: dict[str, type[RowModel[Any]]] = {
    "depots": DepotRow, "vehicles": VehicleRow, "drivers": DriverRow, "orders": OrderRow,
}


def import_bundle(path: Path | str) -> Bundle:
    """Read one JSON object with optional ``depots``, ``vehicles``, ``drivers`` and ``orders`` lists.

    Row numbers are per list (1-based). Besides each row's own checks, references are checked
    when the referenced list is present: a vehicle whose ``start_depot_id``/``end_depot_id`` names
    no depot of the file, and a driver whose ``vehicle_id`` names no vehicle of the file, are
    rejected with a row error on that field.

    Raises:
        ImportFileError: when the file is missing, not ``.json``, not valid JSON, not an object,
            or a section is not a list.
    """
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise ImportFileError(path, f"a bundle must be a .json file, got {path.suffix or '(none)'!r}")
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ImportFileError(path, f"a bundle must be a JSON object, got {type(data).__name__}")
    bundle = Bundle(warnings=[f"key {k!r} is not a bundle section and was ignored"
                              for k in sorted(set(data) - set(_BUNDLE_KEYS))])
    rows: dict[str, list[int]] = {}
    for key, model in _BUNDLE_KEYS.items():
        if key in data:
            result: ImportResult[Any]
            result, rows[key] = _validate(_json_records(path, data, key), model, "key")
            setattr(bundle, key, result)
    if "depots" in data and "vehicles" in data:
        depot_ids = {d.id for d in bundle.depots.accepted}
        _reject_unknown(bundle.vehicles, rows["vehicles"], depot_ids, "depot",
                        lambda v: [("start_depot_id", v.start_depot_id), ("end_depot_id", v.end_depot_id)])
    if "vehicles" in data and "drivers" in data:
        vehicle_ids = {v.id for v in bundle.vehicles.accepted}
        _reject_unknown(bundle.drivers, rows["drivers"], vehicle_ids, "vehicle",
                        lambda d: [("vehicle_id", d.vehicle_id)])
    return bundle


def _reject_unknown(
    result: ImportResult[T],
    rows: list[int],
    known: set[str],
    what: str,
    refs: Callable[[T], list[tuple[str, str | None]]],
) -> None:
    """Move the accepted items of ``result`` (found on ``rows``) whose references are not in ``known``."""
    kept: list[T] = []
    for item, row in zip(result.accepted, rows, strict=True):
        bad = [(name, ref) for name, ref in refs(item) if ref is not None and ref not in known]
        for name, ref in bad:
            listed = ", ".join(sorted(known)) or "none"
            result.errors.append(RowError(row, name, f"unknown {what} {ref!r} (known: {listed})"))
        if not bad:
            kept.append(item)
    result.accepted = kept
    result.errors.sort(key=lambda e: e.row)


__all__ = [
    "Bundle",
    "ImportFileError",
    "ImportResult",
    "RowError",
    "import_bundle",
    "import_depots",
    "import_drivers",
    "import_orders",
    "import_vehicles",
]
