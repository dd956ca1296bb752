"""A POD as a PDF (fpdf2, pure Python): details, a small static map drawn from coordinates (no tiles),
signature, photos, hashes and the verification result.

The map is an equirectangular projection around the stop and the POD point, with a scale bar in metres
and the flag radius drawn as a circle. Core fonts only cover Latin-1: other characters print as ``?``.
"""

from __future__ import annotations

import io
import math
from typing import Any

from fpdf import FPDF

from baton.adapters.objectstore import ObjectMissing, ObjectStore
from baton.domain.order import Order
from baton.prove.model import DEFAULT_RADIUS_M, Pod


def _t(value: Any) -> str:
    return str(value if value is not None else "-").encode("latin-1", "replace").decode("latin-1")


def _map(pdf: FPDF, pod: Pod, x: float, y: float, size: float, radius_m: float) -> None:
    pdf.set_draw_color(120, 120, 120)
    pdf.rect(x, y, size, size)
    if pod.stop_lat is None or pod.stop_lng is None:
        return
    pts = [(pod.stop_lat, pod.stop_lng)] + ([(pod.lat, pod.lng)] if pod.lat is not None and pod.lng is not None else [])
    lat0 = pod.stop_lat
    m_per_deg_lat = 111_320.0
    m_per_deg_lng = 111_320.0 * math.cos(math.radians(lat0))
    xy = [((lng - pod.stop_lng) * m_per_deg_lng, (lat - lat0) * m_per_deg_lat) for lat, lng in pts]  # type: ignore[operator]
    span = max([radius_m * 1.3] + [max(abs(a), abs(b)) * 1.3 for a, b in xy])
    scale = (size / 2) / span  # mm per metre
    cx, cy = x + size / 2, y + size / 2
    pdf.set_draw_color(200, 60, 60)
    r = radius_m * scale
    pdf.ellipse(cx - r, cy - r, 2 * r, 2 * r)
    pdf.set_fill_color(30, 90, 200)
    pdf.ellipse(cx - 1.5, cy - 1.5, 3, 3, style="F")
    if len(xy) > 1:
        px, py = cx + xy[1][0] * scale, cy - xy[1][1] * scale
        pdf.set_fill_color(20, 150, 60)
        pdf.ellipse(px - 1.5, py - 1.5, 3, 3, style="F")
        pdf.set_draw_color(20, 150, 60)
        pdf.line(cx, cy, px, py)
    bar_m = 10 ** math.floor(math.log10(span))
    pdf.set_draw_color(0, 0, 0)
    pdf.line(x + 3, y + size - 3, x + 3 + bar_m * scale, y + size - 3)
    pdf.set_font("Helvetica", size=6)
    pdf.text(x + 3, y + size - 4.5, f"{bar_m:.0f} m")
    pdf.text(x + 2, y + 4, "blue: address  green: POD GPS  red: flag radius")


def render_pod_pdf(pod: Pod, order: Order, store: ObjectStore, check: dict[str, Any],
                   radius_m: float = DEFAULT_RADIUS_M) -> bytes:
    """The PDF bytes of ``pod`` for ``order``; ``check``: the result of verifying its chain."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, 15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, _t(f"Proof of {'delivery' if pod.kind.value == 'delivered' else 'failed attempt'}: "
                      f"order {pod.order_id}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    rows = [("POD id", pod.id), ("Source", pod.source.value), ("Customer", order.customer.name),
            ("Address", order.address.line), ("Recipient", f"{_t(pod.recipient_name)} ({_t(pod.recipient_relation)})"),
            ("Device time", pod.device_time.isoformat()), ("Server time", pod.server_time.isoformat()),
            ("Route / driver / carrier", f"{pod.route_id} / {pod.driver_id} / {pod.carrier_id}"),
            ("GPS", f"{pod.lat}, {pod.lng} (accuracy {pod.accuracy_m} m); {pod.distance_m} m from the address"),
            ("Parcels expected", ", ".join(pod.expected_barcodes)),
            ("Parcels scanned", ", ".join(pod.scanned_barcodes)),
            ("Missing / extra", f"{', '.join(pod.missing_barcodes) or '-'} / {', '.join(pod.extra_barcodes) or '-'}"),
            ("Age verified / safe place", f"{pod.age_verified} / {pod.safe_place}"),
            ("Failure reason / next step", f"{pod.reason} / {pod.next_step}"), ("Notes", pod.notes),
            ("Flags", ", ".join(pod.flags) or "none"), ("Complete", pod.complete),
            ("Content SHA-256", pod.content_hash),
            ("Verification", "VALID" if check.get("valid") else "INVALID: " + "; ".join(check.get("problems", [])))]
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 8)
        pdf.cell(45, 5, _t(label))
        pdf.set_font("Helvetica", size=8)
        pdf.multi_cell(0, 5, _t(value), new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 3
    _map(pdf, pod, pdf.l_margin, top, 70, radius_m)
    x = pdf.l_margin + 75
    for label, sha in ([("Signature", pod.signature_sha256)] if pod.signature_sha256 else []) + \
            [(f"Photo {k}", s) for k, s in enumerate(pod.photo_sha256s, start=1)]:
        try:
            data = store.get(sha)
        except (ObjectMissing, ValueError):
            data = b""
        if x + 55 > pdf.w - pdf.r_margin:
            x = pdf.l_margin
            top += 80
            if top + 75 > pdf.h - 15:
                pdf.add_page()
                top = 20
        pdf.set_font("Helvetica", "B", 7)
        pdf.text(x, top - 1, _t(label))
        try:
            pdf.image(io.BytesIO(data), x=x, y=top, w=55, h=55, keep_aspect_ratio=True)
        except Exception:  # unreadable or missing bytes: say so, the PDF is still produced
            pdf.rect(x, top, 55, 55)
            pdf.text(x + 2, top + 28, "image unavailable")
        pdf.set_font("Courier", size=5)
        pdf.text(x, top + 58, sha[:32])
        pdf.text(x, top + 60.5, sha[32:])
        x += 60
    return bytes(pdf.output())
