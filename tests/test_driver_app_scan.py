"""Camera barcode scanning in the driver app: headless Chromium's fake camera plays a video of an EAN-13
label; the app's scanner (zxing-wasm, served by Baton — headless Linux Chromium has no native
BarcodeDetector) reads it and ticks the parcel on the proof-of-delivery screen. Also the app's
requirement rules (``requirements.js``) case by case."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from driver_app_support import barcode_video, ean13_modules, live_day
from test_api_support import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="no Chromium: install Debian's `chromium` package to run browser tests")
EAN = "4006381333931"


def test_ean13_modules_reject_a_bad_check_digit() -> None:
    assert len(ean13_modules(EAN)) == 95
    with pytest.raises(ValueError, match="EAN-13"):
        ean13_modules(EAN[:-1] + "2")


def _login(page: Any, base: str, email: str) -> None:
    page.goto(base + "/driver/")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#stops li")


def test_camera_scan_ticks_the_parcel_and_requirement_rules(tmp_path: Path) -> None:
    video = barcode_video(tmp_path / "label.y4m", EAN)
    with live_day(tmp_path, orders=2, tags={1: [f"barcode:{EAN}"]}) as day, playwright_api.sync_playwright() as p:
        stop = next(s for s in day.route["stops"] if s["order_id"] == "o-1")
        assert [b["barcode"] for b in stop["parcels"]] == [EAN]
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])
        context = browser.new_context(**p.devices["Pixel 5"], permissions=["geolocation", "camera"],
                                      geolocation={"latitude": stop["lat"], "longitude": stop["lng"], "accuracy": 5})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _login(page, day.base, day.driver_email)
        page.click("#stops li[data-order='o-1']")
        page.click("#complete-button")
        assert page.locator(f"#parcel-list li[data-barcode='{EAN}']").get_attribute("class") == "missing"
        wasm: list[str] = []
        page.on("request", lambda r: wasm.append(r.url) if r.url.endswith(".wasm") else None)
        page.click("#scan-button")
        page.wait_for_selector(f"#parcel-list li.scanned[data-barcode='{EAN}']", timeout=20000)
        assert wasm == [day.base + "/static/zxing-wasm/zxing_reader.wasm"]  # from Baton, not a CDN
        assert page.locator("#extra-list li").count() == 0
        page.click("#scanner-close")
        assert page.evaluate("document.querySelector('#scanner-video').srcObject") is None  # camera released

        # the app's requirement rules, case by case (the server re-checks them: tests/test_prove_api.py)
        cases = page.evaluate("""async () => {
          const m = await import('/static/driver/requirements.js');
          const stop = {parcels: [{barcode: 'A-1'}, {barcode: 'A-2'}], requirements: {signature: true, photo: true,
            min_photos: 2, age_check: true, safe_place_allowed: false, scan_all_parcels: true}};
          const ok = {signed: true, photos: 2, recipient_name: 'Ana', scanned: ['A-1', 'a-2 '], age_verified: true,
            safe_place: false};
          const safeStop = {parcels: [], requirements: {signature: true, photo: false, min_photos: 0, age_check: false,
            safe_place_allowed: true, scan_all_parcels: false}};
          return {
            ok: m.unmetRequirements(stop, {...ok, scanned: ['A-1', 'A-2']}),
            caseInsensitiveTyped: m.canonicalBarcode(stop.parcels, ' a-2 '),
            noSignature: m.unmetRequirements(stop, {...ok, signed: false, scanned: ['A-1', 'A-2']}),
            onePhoto: m.unmetRequirements(stop, {...ok, photos: 1, scanned: ['A-1', 'A-2']}),
            noAge: m.unmetRequirements(stop, {...ok, age_verified: false, scanned: ['A-1', 'A-2']}),
            missingParcel: m.unmetRequirements(stop, {...ok, scanned: ['A-1', 'B-9']}),
            extra: m.parcelCheck(stop.parcels, ['A-1', 'A-2', 'B-9']),
            safeNotAllowed: m.unmetRequirements(stop, {...ok, safe_place: true, scanned: ['A-1', 'A-2']}),
            safeAllowedNoPhoto: m.unmetRequirements(safeStop, {signed: false, photos: 0, recipient_name: '',
              scanned: [], safe_place: true}),
            safeAllowedPhoto: m.unmetRequirements(safeStop, {signed: false, photos: 1, recipient_name: '',
              scanned: [], safe_place: true}),
          };
        }""")
        assert cases["ok"] == [] and cases["caseInsensitiveTyped"] == "A-2"
        assert cases["noSignature"] == ["signature required"]
        assert cases["onePhoto"] == ["2 photos required (have 1)"]
        assert cases["noAge"] == ["age check required"]
        assert cases["missingParcel"] == ["scan every parcel (missing: A-2)"]
        assert cases["extra"] == {"missing": [], "extra": ["B-9"]}
        assert "safe place not authorised by the customer" in cases["safeNotAllowed"]
        assert cases["safeAllowedNoPhoto"] == ["photo required"] and cases["safeAllowedPhoto"] == []
        assert errors == []
        browser.close()
