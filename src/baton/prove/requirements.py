"""Completion requirements per organisation, service level and customer (pure: no I/O).

A :class:`RuleSet` says when a delivery needs a signature, photos, an age check or a parcel scan, and
when a safe-place drop is allowed. :func:`requirements_for` evaluates it for one order;
:func:`unmet` re-checks a completion against them (the server never trusts the app).

Rules (defaults in brackets; money in the order's currency, BRL in the demo):

* ``signature_min_value`` [200.0]: signature when ``declared_value`` ≥ it; ``photo_min_value`` [200.0]:
  photo(s) when ``declared_value`` ≥ it, at least ``min_photos`` [1];
* ``signature_tiers`` / ``photo_tiers`` [``same_day``, ``express``]: always for these service levels;
* ``age_check_features`` [``restricted``, ``alcohol``, ``age_18``]: age check when the order requires one of
  these features/skills or carries one as a tag;
* ``safe_place_tags`` [``safe_place_ok``]: safe-place drop allowed only when the customer authorised
  it (tag on the order); a safe-place drop then needs a photo;
* ``scan_all_parcels`` [true]: every parcel barcode must be scanned;
* customer level: order tags ``pod:signature``, ``pod:photo``, ``pod:age_check`` force a requirement;
* ``radius_m`` [150]: a POD farther than this from the address is flagged (not refused).

``organisations`` in the YAML overrides the defaults per ``org_id``. Load with :func:`load_rules`
(``BATON_POD_RULES`` names the YAML file).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from baton.domain.errors import ValidationError
from baton.domain.order import Order


@dataclass(frozen=True)
class RuleSet:
    signature_min_value: float = 200.0
    photo_min_value: float = 200.0
    min_photos: int = 1
    signature_tiers: frozenset[str] = frozenset({"same_day", "express"})
    photo_tiers: frozenset[str] = frozenset({"same_day", "express"})
    age_check_features: frozenset[str] = frozenset({"restricted", "alcohol", "age_18"})
    safe_place_tags: frozenset[str] = frozenset({"safe_place_ok"})
    scan_all_parcels: bool = True
    radius_m: float = 150.0
    organisations: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_org(self, org_id: str) -> RuleSet:
        """The rules of ``org_id`` (its overrides applied)."""
        override = self.organisations.get(org_id)
        if not override:
            return self
        return _build({**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, **override,
                       "organisations": {}})


@dataclass(frozen=True)
class Requirements:
    """What completing one stop needs (the ``requirements`` object of the driver route)."""

    signature: bool = False
    photo: bool = False
    min_photos: int = 0
    age_check: bool = False
    safe_place_allowed: bool = False
    scan_all_parcels: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(data: dict[str, Any]) -> RuleSet:
    known = {f.name for f in dataclasses.fields(RuleSet)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown POD rule (known: {', '.join(sorted(known))})")
    values = dict(data)
    for name in ("signature_tiers", "photo_tiers", "age_check_features", "safe_place_tags"):
        if name in values:
            values[name] = frozenset(values[name])
    for name in ("signature_min_value", "photo_min_value", "radius_m"):
        if name in values and (not isinstance(values[name], int | float) or values[name] < 0):
            raise ValidationError(f"{name}: must be a number >= 0, got {values[name]!r}")
    if "min_photos" in values and (not isinstance(values["min_photos"], int) or values["min_photos"] < 0):
        raise ValidationError(f"min_photos: must be an integer >= 0, got {values['min_photos']!r}")
    return RuleSet(**values)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Rules from a YAML mapping (``path``, else ``BATON_POD_RULES``, else the defaults).

    Raises:
        ValidationError: on an unknown rule or a bad value (names it).
        OSError: when the file cannot be read.
    """
    source = path or os.environ.get("BATON_POD_RULES")
    if not source:
        return RuleSet()
    data = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: must hold a mapping of rules")
    return _build(data)


def requirements_for(order: Order, rules: RuleSet) -> Requirements:
    """Evaluate ``rules`` for ``order``."""
    labels = set(order.tags) | set(order.required_features)
    tier = order.sla_tier.value
    signature = order.declared_value >= rules.signature_min_value > 0 or tier in rules.signature_tiers
    photo = order.declared_value >= rules.photo_min_value > 0 or tier in rules.photo_tiers
    signature = signature or "pod:signature" in order.tags
    photo = photo or "pod:photo" in order.tags
    age = bool(labels & rules.age_check_features) or "pod:age_check" in order.tags
    safe_place = bool(set(order.tags) & rules.safe_place_tags)
    return Requirements(signature=signature, photo=photo, min_photos=max(1, rules.min_photos) if photo else 0,
                        age_check=age, safe_place_allowed=safe_place,
                        scan_all_parcels=rules.scan_all_parcels and order.size.parcels > 0)


def unmet(req: Requirements, *, signature: bool, photos: int, age_verified: bool | None, safe_place: bool | None,
          missing_barcodes: list[str]) -> list[str]:
    """What a completion lacks against ``req`` (empty: it may complete); each item names the field."""
    out: list[str] = []
    if safe_place and not req.safe_place_allowed:
        out.append("safe_place: the customer did not authorise a safe-place drop")
    if req.signature and not signature and not safe_place:
        out.append("signature_sha256: a signature is required")
    need = req.min_photos if req.photo else 0
    if safe_place and req.safe_place_allowed:
        need = max(need, 1)
    if photos < need:
        out.append(f"photo_sha256s: {need} photo(s) required, got {photos}")
    if req.age_check and age_verified is not True:
        out.append("age_verified: the recipient's age must be checked")
    if req.scan_all_parcels and missing_barcodes:
        out.append(f"scanned_barcodes: parcels not scanned: {', '.join(missing_barcodes)}")
    return out


def parcels_of(order: Order) -> list[dict[str, str]]:
    """The order's parcels with their barcodes: tags ``barcode:<code>`` when present, else
    ``<order id>-<n>`` for n = 1..``size.parcels`` (documented convention)."""
    tagged = sorted(t.split(":", 1)[1] for t in order.tags if t.startswith("barcode:"))
    count = len(tagged) or order.size.parcels
    codes = tagged or [f"{order.id}-{n}" for n in range(1, count + 1)]
    return [{"barcode": code, "description": f"Parcel {k} of {count}"} for k, code in enumerate(codes, start=1)]
