"""Per-order proof-of-delivery pages next to the HTML day report (issue 9).

:func:`write_pod_pages` writes ``<out>/pods/<order_id>.html`` for every order that has a POD: recipient
and relation, device and server times (the depot's zone), GPS point ± accuracy and its distance from the
address, flags, parcels scanned, the signature and photos, every hash, the order's custody chain and the
result of re-verifying it (hashes, links, POD fields and media bytes, as ``GET /api/v1/orders/{id}/custody``
does). Images are linked relatively into a filesystem object store under ``<out>`` so the pages work when
opened from disk; the PDF of a POD is served by ``GET /api/v1/pods/{pod_id}.pdf``.

Everything is read in a few bulk queries (not one verification round-trip per order), so 1,000 PODs take
seconds. The pages are plain HTML with inline CSS: no scripts, nothing loaded from the network.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.adapters import orm_prove as tp
from baton.adapters.objectstore import ObjectMissing, ObjectStore
from baton.adapters.prove_records import ProveRecords, pod_from_content
from baton.domain.order import Order
from baton.prove.custody import CustodyEvent, verify_chain
from baton.prove.model import Pod, PodKind

_TEMPLATES = Path(__file__).parent / "templates"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_ROW_COLUMNS = ("order_id", "kind", "source", "route_id", "driver_id", "carrier_id", "complete")


@dataclass
class PodIndex:
    """What :func:`write_pod_pages` wrote: ``links`` order id → page path relative to the report's folder."""

    links: dict[str, str] = field(default_factory=dict)
    delivered: int = 0
    complete: int = 0
    verified: int = 0
    invalid: list[str] = field(default_factory=list)

    @property
    def complete_pct(self) -> float:
        """Share (0–100) of orders with a delivered POD whose POD is complete; 0 without any."""
        return 100.0 * self.complete / self.delivered if self.delivered else 0.0


def page_name(order_id: str) -> str:
    """The page file name of an order (characters other than ``[A-Za-z0-9_.-]`` become ``_``)."""
    return _SAFE.sub("_", order_id) + ".html"


def _load(session: Session, org_id: str) -> tuple[dict[str, list[Pod]], dict[str, list[CustodyEvent]], list[str]]:
    pods: dict[str, list[Pod]] = defaultdict(list)
    problems: list[str] = []
    rows = session.execute(select(tp.pods).where(tp.pods.c.org_id == org_id).order_by(tp.pods.c.server_time)).all()
    for row in rows:
        pods[row.order_id].append(pod_from_content(row.content, row.content_hash))
        problems += [f"{row.order_id}: POD {row.id}: column {col} differs from its content"
                     for col in _ROW_COLUMNS if row.content.get(col) != getattr(row, col)]
    c = tp.custody_events
    chains: dict[str, list[CustodyEvent]] = defaultdict(list)
    links = session.execute(select(c).where(c.c.org_id == org_id).order_by(c.c.order_id, c.c.seq)).all()
    for r in links:
        chains[r.order_id].append(ProveRecords._link(r))
    return pods, chains, problems


def _hm(t: datetime | None, zone: tzinfo) -> str:
    return "—" if t is None else t.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _media_href(store: ObjectStore, pages_dir: Path) -> Callable[[str], str | None]:
    path_of = getattr(store, "path", None)

    def href(sha: str) -> str | None:
        if path_of is None:
            return None
        return Path(os.path.relpath(path_of(sha), pages_dir)).as_posix()

    return href


def _pod_view(pod: Pod, zone: tzinfo, href: Callable[[str], str | None]) -> dict[str, Any]:
    return {
        "id": pod.id, "kind": pod.kind.value, "source": pod.source.value, "complete": pod.complete,
        "recipient": pod.recipient_name or "—", "relation": pod.recipient_relation or "—",
        "device_time": _hm(pod.device_time, zone), "server_time": _hm(pod.server_time, zone),
        "gps": "—" if pod.lat is None else f"{pod.lat:.6f}, {pod.lng:.6f}",
        "accuracy": "—" if pod.accuracy_m is None else f"± {pod.accuracy_m:.0f} m",
        "distance": "—" if pod.distance_m is None else f"{pod.distance_m:,.1f} m",
        "flags": sorted(pod.flags), "reason": pod.reason, "next_step": pod.next_step, "notes": pod.notes,
        "driver": pod.driver_id or pod.carrier_id or "—", "route": pod.route_id or "—",
        "expected": pod.expected_barcodes, "scanned": pod.scanned_barcodes, "missing": pod.missing_barcodes,
        "extra": pod.extra_barcodes, "age_verified": pod.age_verified, "hash": pod.content_hash,
        "signature": None if not pod.signature_sha256 else {"sha": pod.signature_sha256,
                                                             "href": href(pod.signature_sha256)},
        "photos": [{"sha": s, "href": href(s)} for s in pod.photo_sha256s],
    }


def write_pod_pages(out_dir: Path, session: Session, org_id: str, store: ObjectStore, orders: dict[str, Order],
                    zone: tzinfo, report_name: str = "report.html") -> PodIndex:
    """Write one page per order holding a POD under ``out_dir/pods`` and return the index.

    ``orders`` by id (names and addresses; an order missing there is shown by id); ``zone``: times of day.

    Raises:
        OSError: when a page cannot be written.
    """
    pages_dir = Path(out_dir) / "pods"
    pages_dir.mkdir(parents=True, exist_ok=True)
    pods, chains, row_problems = _load(session, org_id)
    href = _media_href(store, pages_dir)

    def read(sha: str) -> bytes | None:
        try:
            return store.get(sha)
        except (ObjectMissing, ValueError):
            return None

    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = env.get_template("pod_page.html.j2")
    index = PodIndex()
    for order_id in sorted(pods):
        chain = chains.get(order_id, [])
        order_pods = pods[order_id]
        problems = [p.split(": ", 1)[1] for p in row_problems if p.startswith(order_id + ": ")]
        problems += verify_chain(chain, {p.id: p for p in order_pods}, read)
        chained = {c.pod_id for c in chain}
        problems += [f"POD {p.id} is not in the custody chain" for p in order_pods if p.id not in chained]
        delivered = [p for p in order_pods if p.kind == PodKind.DELIVERED and "reassigned" not in p.flags]
        if delivered:
            index.delivered += 1
            index.complete += bool(delivered[-1].complete)
        if problems:
            index.invalid.append(order_id)
        else:
            index.verified += 1
        order = orders.get(order_id)
        name = page_name(order_id)
        html = template.render(
            order_id=order_id, report=f"../{report_name}",
            customer=order.customer.name if order is not None else "—",
            address=order.address.line if order is not None else "—",
            stop=None if order is None else f"{order.location.lat:.6f}, {order.location.lng:.6f}",
            status=order.status.value.replace("_", " ") if order is not None else "—",
            pods=[_pod_view(p, zone, href) for p in reversed(order_pods)],
            chain=[{"seq": c.seq, "kind": c.kind, "at": _hm(c.at, zone), "actor": c.actor, "hash": c.hash,
                    "prev": c.prev_hash, "pod_id": c.pod_id} for c in chain],
            valid=not problems, problems=problems,
        )
        (pages_dir / name).write_text(html, encoding="utf-8")
        index.links[order_id] = f"pods/{name}"
    return index
