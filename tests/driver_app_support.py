"""Helpers for the driver-app browser tests (no tests here): a live Baton server with a filesystem object
store and a dispatched route for driver ``drv-1``, a generated camera-sized JPEG, and UI steps."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from baton.adapters.objectstore.fs import FileSystemObjectStore
from baton.prove.requirements import RuleSet
from services import free_port
from test_api_support import Tenant, make_app, make_tenant, order_body, seed_fleet

DRIVER_ID = "drv-1"


@dataclass
class LiveDay:
    base: str
    app: Any
    tenant: Tenant
    route: dict[str, Any]

    @property
    def driver_email(self) -> str:
        return self.tenant.emails["driver"]

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)


@contextmanager
def live_day(tmp_path: Path, orders: int = 5, tags: dict[int, list[str]] | None = None) -> Iterator[LiveDay]:
    """uvicorn in a thread on a SQLite file; the operator organisation (``default``: the only one whose
    GPS pings the execution runtime takes today) with one van and a dispatched route of
    ``orders`` stops around Brasília. Rules: signature and photo on every stop (``standard`` tier),
    every parcel scanned; the order ``o-0`` (tag ``restricted``) also needs an age check. ``tags``: more
    tags per order index (e.g. ``{1: ["barcode:4006381333931"]}`` gives ``o-1`` that parcel barcode)."""
    import uvicorn

    app = make_app(f"sqlite:///{tmp_path / 'baton.sqlite'}")
    app.state.object_store = FileSystemObjectStore(tmp_path / "objects")
    app.state.pod_rules = RuleSet(signature_tiers=frozenset({"standard"}), photo_tiers=frozenset({"standard"}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{server.config.port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            tenant = make_tenant(app, client, "default", driver_id=DRIVER_ID)  # type: ignore[arg-type]
            admin = tenant.headers["admin"]
            seed_fleet(client, admin, driver_id=DRIVER_ID)  # type: ignore[arg-type]
            rows = [order_body(f"o-{i}", -15.79 + 0.004 * i, -47.88 + 0.003 * (i % 3),
                               tags=(["restricted"] if i == 0 else []) + (tags or {}).get(i, []))
                    for i in range(orders)]
            r = client.post("/api/v1/orders/batch", headers=admin, json={"orders": rows})
            assert r.status_code == 200 and not r.json()["errors"], r.text
            r = client.post("/api/v1/plans", headers=admin,
                            json={"time_limit_s": 1, "day_start": "2026-03-02T00:00:00-03:00"})
            assert r.status_code == 201, r.text
            route_id = r.json()["routes"][0]["id"]
            r = client.post(f"/api/v1/routes/{route_id}/dispatch", headers=tenant.headers["dispatcher"])
            assert r.status_code in (200, 202), r.text
            route = client.get("/api/v1/driver/route", headers=tenant.headers["driver"]).json()
            assert len(route["stops"]) == orders, route
        yield LiveDay(base, app, tenant, route)
    finally:
        server.should_exit = True
        thread.join(10)


def camera_jpeg(width: int = 3000, height: int = 2000, seed: int = 0) -> bytes:
    """A camera-sized JPEG (default 3000×2000, like a 6 MP phone photo) with some structure."""
    img = Image.new("RGB", (width, height), (40 + seed * 30 % 200, 90, 140))
    draw = ImageDraw.Draw(img)
    for k in range(0, width, 150):
        draw.rectangle([k, (k * 7 + seed * 50) % height, k + 90, height], fill=((k + seed * 40) % 255, 160, 60))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def draw_signature(page: Any) -> None:
    """Sign on the canvas with mouse moves (scrolled into view first: off-screen moves hit nothing)."""
    canvas = page.locator("#signature")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"], box["y"]
    page.mouse.move(x + 20, y + 50)
    page.mouse.down()
    for k in range(12):
        page.mouse.move(x + 30 + 18 * k, y + 50 + (25 if k % 2 else -10), steps=2)
    page.mouse.up()


def add_photos(page: Any, count: int, seed: int = 0) -> None:
    before = page.locator("#photo-thumbs figure").count()
    page.set_input_files("#photo-input", files=[
        {"name": f"photo-{seed}-{k}.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg(seed=seed + k)}
        for k in range(count)])
    page.wait_for_function(f"document.querySelectorAll('#photo-thumbs figure').length === {before + count}")


def type_barcodes(page: Any, codes: list[str]) -> None:
    """Manual entry (no camera in headless Chromium)."""
    for code in codes:
        page.fill("#barcode-input", code)
        page.click("#barcode-add")


def reason(page: Any) -> str:
    text: str = page.locator("#complete-reason").inner_text()
    return text


def wait_synced(page: Any, timeout_ms: int = 20000) -> None:
    page.wait_for_function("document.querySelector('#sync-status').dataset.queued === '0'"
                           " && document.querySelector('#sync-status').dataset.state === 'idle'", timeout=timeout_ms)




# --- a camera for headless Chromium: an EAN-13 barcode as a Y4M video file ---------------------------
_L = ("0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011")
_R = tuple("".join("1" if b == "0" else "0" for b in code) for code in _L)
_G = tuple(code[::-1] for code in _R)
_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")


def ean13_check_digit(first12: str) -> str:
    total = sum(int(d) * (3 if k % 2 else 1) for k, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def ean13_modules(code: str) -> str:
    """The 95 modules (``1`` = bar) of a 13-digit EAN (check digit verified).

    Raises:
        ValueError: when ``code`` is not 13 digits or its check digit is wrong.
    """
    if len(code) != 13 or not code.isdigit() or ean13_check_digit(code[:12]) != code[12]:
        raise ValueError(f"code: not a valid EAN-13: {code!r}")
    left = "".join((_L if p == "L" else _G)[int(d)] for p, d in zip(_PARITY[int(code[0])], code[1:7], strict=True))
    right = "".join(_R[int(d)] for d in code[7:])
    return "101" + left + "01010" + right + "101"


def barcode_video(path: Path, code: str, width: int = 640, height: int = 480, frames: int = 4) -> Path:
    """Write a Y4M (4:2:0) video showing the EAN-13 ``code`` (Chromium's fake camera plays it in a loop)."""
    module = 4
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    bits = ean13_modules(code)
    x0 = (width - len(bits) * module) // 2
    for k, bit in enumerate(bits):
        if bit == "1":
            draw.rectangle([x0 + k * module, 120, x0 + (k + 1) * module - 1, 360], fill=0)
    y = img.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + y + chroma + chroma)
    return path
