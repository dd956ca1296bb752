"""The tamper-evident chain of custody of an order (pure: no I/O).

Each custody event (``pickup`` at the depot when the route starts, ``handover`` to a carrier,
``delivered`` with its POD, ``failed_attempt`` with its POD) has a *content*::

    {"order_id", "seq", "kind", "at" (UTC ISO 8601), "actor", "route_id", "data": {...},
     "media": [sha256, ...], "prev_hash"}

``hash = SHA-256(canonical JSON of content)`` where canonical JSON is UTF-8, keys sorted, no
whitespace (:func:`canonical_json`). ``prev_hash`` is the previous event's hash of the same order
(:data:`GENESIS` — 64 zeros — for the first). For a POD event ``data["pod"]`` is the POD's full
content and ``data["pod_hash"]`` its hash, and ``media`` lists the POD's media SHA-256s.

:func:`verify_chain` recomputes everything: each event's hash, the links, the sequence, each POD's
stored fields against the content recorded in the chain, and every media object's bytes (through
a callable reading the object store). Changing one field anywhere, or one byte of a photo, makes it fail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from baton.prove.model import Pod, iso

GENESIS = "0" * 64
CUSTODY_KINDS = ("pickup", "handover", "delivered", "failed_attempt")


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no insignificant whitespace (what every hash is computed over)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(content: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(content))


@dataclass
class CustodyEvent:
    """One link of an order's chain; ``hash`` covers :meth:`content`."""

    order_id: str
    seq: int
    kind: str
    at: datetime
    actor: str
    route_id: str | None
    data: dict[str, Any] = field(default_factory=dict)
    media: list[str] = field(default_factory=list)
    prev_hash: str = GENESIS
    hash: str = ""
    pod_id: str | None = None

    def content(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "seq": self.seq, "kind": self.kind, "at": iso(self.at),
                "actor": self.actor, "route_id": self.route_id, "data": self.data, "media": list(self.media),
                "prev_hash": self.prev_hash}

    def seal(self) -> CustodyEvent:
        self.hash = content_hash(self.content())
        return self

    def to_json(self) -> dict[str, Any]:
        return self.content() | {"hash": self.hash, "pod_id": self.pod_id}


def seal_pod(pod: Pod) -> Pod:
    """Set ``pod.content_hash`` from its content."""
    pod.content_hash = content_hash(pod.content())
    return pod


def next_event(previous: CustodyEvent | None, *, order_id: str, kind: str, at: datetime, actor: str,
               route_id: str | None, data: dict[str, Any] | None = None, media: list[str] | None = None,
               pod: Pod | None = None) -> CustodyEvent:
    """The sealed event following ``previous`` (``None``: the genesis link).

    With ``pod``, ``data`` gets ``pod`` (its content) and ``pod_hash``, and ``media`` the POD's media.

    Raises:
        ValueError: on an unknown ``kind``.
    """
    if kind not in CUSTODY_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(CUSTODY_KINDS)}")
    payload = dict(data or {})
    shas = list(media or [])
    if pod is not None:
        seal_pod(pod)
        payload |= {"pod": pod.content(), "pod_hash": pod.content_hash}
        shas = list(dict.fromkeys(shas + pod.media))
    return CustodyEvent(order_id=order_id, seq=(previous.seq + 1) if previous else 1, kind=kind, at=at,
                        actor=actor, route_id=route_id, data=payload, media=shas,
                        prev_hash=previous.hash if previous else GENESIS,
                        pod_id=pod.id if pod else None).seal()


def verify_chain(events: list[CustodyEvent], pods: dict[str, Pod],
                 read_media: Callable[[str], bytes | None]) -> list[str]:
    """Every problem found in an order's chain (empty: valid).

    ``events``: the stored chain in ``seq`` order; ``pods``: the stored PODs by id;
    ``read_media(sha)``: the bytes stored under ``sha`` (``None`` when missing).
    """
    problems: list[str] = []
    previous = GENESIS
    checked_media: dict[str, bool] = {}
    for k, ev in enumerate(events, start=1):
        where = f"custody #{ev.seq} ({ev.kind})"
        if ev.seq != k:
            problems.append(f"{where}: sequence gap, expected #{k}")
        if ev.prev_hash != previous:
            problems.append(f"{where}: prev_hash does not match the previous event's hash")
        if content_hash(ev.content()) != ev.hash:
            problems.append(f"{where}: content does not match its hash")
        previous = ev.hash
        if ev.pod_id is not None:
            pod = pods.get(ev.pod_id)
            if pod is None:
                problems.append(f"{where}: POD {ev.pod_id} is missing")
            else:
                recorded = ev.data.get("pod")
                current = pod.content()
                if recorded != current:
                    changed = sorted(key for key in set(current) | set(recorded or {})
                                     if (recorded or {}).get(key) != current.get(key))
                    problems.append(f"{where}: POD {pod.id} differs from the chain in {', '.join(changed)}")
                if content_hash(current) != pod.content_hash or ev.data.get("pod_hash") != pod.content_hash:
                    problems.append(f"{where}: POD {pod.id} content does not match its hash")
        for sha in ev.media:
            if sha not in checked_media:
                data = read_media(sha)
                if data is None:
                    problems.append(f"{where}: media {sha} is missing from the object store")
                    checked_media[sha] = False
                    continue
                checked_media[sha] = sha256_hex(data) == sha
                if not checked_media[sha]:
                    problems.append(f"{where}: media {sha} bytes do not match their SHA-256")
    return problems
