"""Field types and the base row of the import schema (:mod:`baton.intake.schema`).

:class:`RowModel` validates one raw record (a mapping of column/key -> value) with ``parse()``:
it drops empty cells and raises :class:`RowInvalid` listing every bad field with a one-line
message, e.g. ``('lat', 'must be within [-90, 90] degrees, got 91.0')``. The annotated types
(``Lat``, ``AwareDatetime``, ``Phone``...) carry the checks every row kind shares; their messages
name the unit and give an example of a valid value.

Units: coordinates WGS84 degrees; instants ISO-8601 **with** a UTC offset
(``2025-03-10T09:00:00-03:00``); phone numbers E.164; currencies ISO 4217.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, Self, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic import ValidationError as PydanticValidationError

T = TypeVar("T")

WHOLE_ROW = "(row)"
"""The ``field`` reported for a problem that concerns the row as a whole."""


class FieldProblem(NamedTuple):
    """One invalid field of a row: the column/key (``time_windows[0].end`` for nested JSON) and why."""

    field: str
    message: str


class RowInvalid(ValueError):
    """A row failed validation; ``problems`` lists every bad field (never empty)."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


# --- reusable field types -----------------------------------------------------------------


def bounded(
    lo: float, hi: float = math.inf, unit: str = "", *, open_lo: bool = False
) -> Callable[[float], float]:
    """A check that a number is finite and within ``[lo, hi]`` (``(lo, hi]`` when ``open_lo``)."""

    def check(value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value}")
        suffix = f" {unit}" if unit else ""
        if open_lo and value <= lo:
            raise ValueError(f"must be > {lo:g}{suffix}, got {value}")
        if value < lo or value > hi:
            bound = f">= {lo:g}" if hi == math.inf else f"within [{lo:g}, {hi:g}]"
            raise ValueError(f"must be {bound}{suffix}, got {value}")
        return value

    return check


def _non_empty(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _aware_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                "must be an ISO-8601 date-time with UTC offset (e.g. 2025-03-10T09:00:00-03:00), "
                f"got {text!r}"
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(f"must be an ISO-8601 date-time string, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"must include a UTC offset (e.g. {value.isoformat()}-03:00), got naive {value.isoformat()!r}"
        )
    return value


def _split_list(value: Any) -> Any:
    """``"a; b"`` -> ``["a", "b"]``; lists pass through (validated as ``list[str]`` afterwards)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def lowered(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _pattern(regex: str, example: str, normalise: Callable[[str], str] = str.strip) -> Callable[[str], str]:
    """A check that the normalised string matches ``regex``; the message shows ``example``."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        normalised = normalise(value)
        if not compiled.match(normalised):
            raise ValueError(f"must be {example}, got {value!r}")
        return normalised

    return check


def _timezone(value: str) -> str:
    value = value.strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be an IANA time zone like America/Sao_Paulo, got {value!r}") from None
    return value


Text = Annotated[str, AfterValidator(_non_empty)]
Lat = Annotated[float, AfterValidator(bounded(-90, 90, "degrees"))]
Lng = Annotated[float, AfterValidator(bounded(-180, 180, "degrees"))]
NonNegInt = Annotated[int, AfterValidator(bounded(0))]
NonNegFloat = Annotated[float, AfterValidator(bounded(0))]
PositiveFloat = Annotated[float, AfterValidator(bounded(0, open_lo=True))]
AwareDatetime = Annotated[datetime, BeforeValidator(_aware_datetime)]
Labels = Annotated[list[str], BeforeValidator(_split_list)]
Phone = Annotated[str, AfterValidator(_pattern(
    r"^\+[1-9]\d{6,14}$", "an E.164 phone number like +5561999990000", lambda v: re.sub(r"[\s().-]", "", v)))]
Email = Annotated[str, AfterValidator(_pattern(
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an e-mail address like ana@example.com"))]
Language = Annotated[str, AfterValidator(_pattern(
    r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", "a BCP 47 language tag like pt-BR or en"))]
Currency = Annotated[str, AfterValidator(_pattern(
    r"^[A-Z]{3}$", "a 3-letter ISO 4217 code like BRL", lambda v: v.strip().upper()))]
Timezone = Annotated[str, AfterValidator(_timezone)]


# --- base row -----------------------------------------------------------------------------


def _describe(error: Mapping[str, Any]) -> str:
    """A one-line message for a pydantic error, without pydantic's ``Value error,`` prefix."""
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    message = str(error["msg"]).replace("Input should be", "must be", 1)
    return f"{message[:1].lower()}{message[1:]}, got {error['input']!r}"


def _loc_name(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or WHOLE_ROW


class RowModel(BaseModel, Generic[T]):
    """Shared behaviour of the row models (see the module docstring)."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True  # ids as numbers
    )

    id: Text
    kind: ClassVar[str] = "row"
    csv_only_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def known_keys(cls) -> frozenset[str]:
        """Every column/key this row kind understands (anything else is ignored with a warning)."""
        return frozenset(cls.model_fields) | cls.csv_only_keys

    @classmethod
    def required_keys(cls) -> frozenset[str]:
        return frozenset(name for name, f in cls.model_fields.items() if f.is_required())

    @classmethod
    def _fold(cls, data: dict[str, Any]) -> tuple[dict[str, str], list[FieldProblem]]:
        """Rewrite alternative spellings in ``data`` in place.

        Returns ``{canonical field: source key}`` (to name fields as the file does) and problems
        found while folding.
        """
        return {}, []

    @classmethod
    def parse(cls, record: Mapping[str, Any]) -> Self:
        """Validate one raw record; ``None`` and blank strings count as absent.

        Raises:
            RowInvalid: listing every invalid or missing field.
        """
        data = {
            k: v for k, v in record.items()
            if isinstance(k, str) and v is not None and not (isinstance(v, str) and not v.strip())
        }
        aliases, problems = cls._fold(data)
        try:
            row = cls.model_validate(data)
        except PydanticValidationError as exc:
            for err in exc.errors():
                name = _loc_name(err["loc"])
                problems.append(FieldProblem(aliases.get(name, name), _describe(err)))
        if problems:
            raise RowInvalid(problems)
        return row

    def to_domain(self) -> T:
        """The domain object this row describes.

        Raises:
            baton.domain.errors.ValidationError: only for a rule the schema does not check itself.
        """
        raise NotImplementedError


__all__ = [
    "WHOLE_ROW",
    "AwareDatetime",
    "Currency",
    "Email",
    "FieldProblem",
    "Labels",
    "Language",
    "Lat",
    "Lng",
    "NonNegFloat",
    "NonNegInt",
    "Phone",
    "PositiveFloat",
    "RowInvalid",
    "RowModel",
    "Text",
    "Timezone",
    "bounded",
    "lowered",
]
