"""The driver app (PWA) end to end in real headless Chromium with a Pixel 5 profile and emulated GPS.

A driver signs in, completes stops with signature (mouse strokes on the canvas), photos (camera-sized
JPEGs, compressed on the phone) and barcodes (typed: headless Chromium has no camera, so the camera
scanner is not exercised here), sees a completion requirement block the button until met and a
server-side rejection, goes offline (network emulation), reloads the app from the service worker,
completes two more stops, comes back online — the first answer of the sync is lost on the way back,
so the app re-sends — and the server holds exactly one POD per completed stop, with the device time of
the offline capture and a server time after the reconnection. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from baton.adapters import orm_prove as tp
from baton.prove.requirements import RuleSet
from driver_app_support import (
    LiveDay,
    add_photos,
    draw_signature,
    live_day,
    reason,
    type_barcodes,
    wait_synced,
)
from test_api_support import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="no Chromium: install Debian's `chromium` package to run browser tests")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"driver-app-{name}.png"), full_page=True)


def _open_next(page: Any, stop: dict[str, Any]) -> None:
    """Open the stop from the list; it must be the highlighted next stop."""
    page.locator("[data-tab=list]").click()
    nxt = page.locator("#stops li.next")
    assert nxt.get_attribute("data-order") == stop["order_id"]
    nxt.click()
    page.wait_for_selector("#view-stop:not([hidden])")
    page.click("#complete-button")
    page.wait_for_selector("#view-complete:not([hidden])")


def _at(context: Any, stop: dict[str, Any], north_m: float = 10.0) -> None:
    context.set_geolocation({"latitude": stop["lat"] + north_m / 111_195, "longitude": stop["lng"], "accuracy": 6})


def _pods(day: LiveDay) -> list[Any]:
    with day.app.state.ctx.engine.connect() as conn:
        return list(conn.execute(select(tp.pods.c.id, tp.pods.c.order_id, tp.pods.c.kind)).all())


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_driver_app_offline_pod_flow(tmp_path: Path) -> None:
    with live_day(tmp_path) as day, playwright_api.sync_playwright() as p:
        stops = day.route["stops"]
        s1, s2, s3, s4 = stops[:4]
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(**p.devices["Pixel 5"], permissions=["geolocation"],
                                      geolocation={"latitude": -15.79, "longitude": -47.88, "accuracy": 6})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # --- install: manifest, service worker, sign in -------------------------------------------
        page.goto(day.base + "/driver/")
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("link[rel=manifest]").get_attribute("href") == "/driver/manifest.webmanifest"
        page.fill("input[name=username]", day.driver_email)
        page.fill("input[name=password]", "wrong password")
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#login-error:not([hidden])")
        assert page.locator("#login-error").inner_text() == "Wrong e-mail or password."
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#stops li")
        assert page.locator("#stops li").count() == len(stops)
        worker = page.evaluate("async () => (await navigator.serviceWorker.ready).active.scriptURL")
        assert worker == day.base + "/driver/sw.js"
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        _shot(page, "1-route")
        page.click("[data-tab=map]")
        page.wait_for_function(f"document.querySelectorAll('#map .pin').length === {len(stops) + 1}")
        _shot(page, "2-map")

        # --- stop 1 online: each requirement blocks the Complete button until met ------------------
        _at(context, s1)
        page.locator("[data-tab=list]").click()
        page.locator("#stops li.next").click()
        detail = page.locator("#stop-detail").inner_text()
        assert s1["customer_name"] in detail and s1["parcels"][0]["barcode"] in detail
        assert page.locator("#nav-geo").get_attribute("href").startswith(f"geo:{s1['lat']},{s1['lng']}")
        page.click("#complete-button")
        button = page.locator("#complete-submit")
        assert button.is_disabled()
        assert {"recipient name required", "signature required", "photo required", "scan every parcel"} <= {
            part.split(" (")[0] for part in reason(page).removeprefix("Cannot complete yet: ").split("; ")}
        page.fill("input[name=recipient_name]", "Ana Souza")
        type_barcodes(page, [b["barcode"] for b in s1["parcels"]] + ["STRAY-9"])
        assert page.locator("#extra-list li").inner_text().startswith("⚠ STRAY-9")
        draw_signature(page)
        assert button.is_disabled() and reason(page).endswith("photo required")
        if s1["requirements"]["age_check"]:
            add_photos(page, 1)
            assert button.is_disabled() and reason(page).endswith("age check required")
            page.check("input[name=age_verified]")
        else:
            page.locator("#complete-reason").scroll_into_view_if_needed()
            _shot(page, "3-blocked")
            add_photos(page, 1)
        size = int(page.locator("#photo-thumbs figure").first.get_attribute("data-size") or 0)
        natural = page.evaluate("() => { const i = document.querySelector('#photo-thumbs img');"
                                " return Math.max(i.naturalWidth, i.naturalHeight); }")
        assert natural == 1600 and 0 < size < 1_000_000  # 3000×2000 JPEG re-encoded on the phone
        assert button.is_enabled() and reason(page) == ""
        button.click()
        page.wait_for_selector("#view-route:not([hidden])")
        wait_synced(page)

        # --- stop 2 online: the server's stricter rule rejects it; the app shows it, then complies --
        _at(context, s2)
        _open_next(page, s2)
        day.app.state.pod_rules = RuleSet(signature_tiers=frozenset({"standard"}),
                                          photo_tiers=frozenset({"standard"}), min_photos=2)
        page.fill("input[name=recipient_name]", "Bruno")
        type_barcodes(page, [b["barcode"] for b in s2["parcels"]])
        draw_signature(page)
        add_photos(page, 1, seed=3)
        if s2["requirements"]["age_check"]:
            page.check("input[name=age_verified]")
        page.click("#complete-submit")
        page.wait_for_selector("#banner[data-kind=error]")
        assert "Rejected" in page.locator("#banner").inner_text()
        assert "2 photo(s) required" in page.locator("#banner").inner_text()
        page.wait_for_selector(f"#conflict-list li[data-status=rejected][data-order='{s2['order_id']}']")
        page.wait_for_selector(f"#stops li.next[data-order='{s2['order_id']}']")  # back to do
        _open_next(page, s2)
        page.fill("input[name=recipient_name]", "Bruno")
        type_barcodes(page, [b["barcode"] for b in s2["parcels"]])
        draw_signature(page)
        if s2["requirements"]["age_check"]:
            page.check("input[name=age_verified]")
        add_photos(page, 1, seed=4)
        assert page.locator("#complete-submit").is_disabled()
        assert "2 photos required (have 1)" in reason(page)
        add_photos(page, 1, seed=5)
        page.click("#complete-submit")
        page.wait_for_selector("#view-route:not([hidden])")
        wait_synced(page)
        assert {r.order_id for r in _pods(day)} == {s1["order_id"], s2["order_id"]}

        # --- offline: the app reloads from the service worker, two stops are completed -------------
        context.set_offline(True)
        page.reload()
        page.wait_for_selector("#stops li")
        assert page.locator("#stops li[data-status=delivered]").count() == 2
        offline_from = datetime.now(UTC)
        for k, stop in enumerate((s3, s4)):
            _at(context, stop, north_m=10.0 if k == 0 else 400.0)  # the 2nd one far from the address
            _open_next(page, stop)
            page.fill("input[name=recipient_name]", f"Recipient {k}")
            type_barcodes(page, [b["barcode"] for b in stop["parcels"]])
            draw_signature(page)
            add_photos(page, 2, seed=10 + 2 * k)
            if stop["requirements"]["age_check"]:
                page.check("input[name=age_verified]")
            page.click("#complete-submit")
            page.wait_for_selector("#view-route:not([hidden])")
        offline_to = datetime.now(UTC)
        page.wait_for_function("document.querySelector('#sync-status').dataset.queued === '4'")
        assert "offline" in page.locator("#sync-text").inner_text()
        assert page.locator("#stops li[data-status=delivered] .pending").count() == 2
        _shot(page, "4-offline-queued")
        assert {r.order_id for r in _pods(day)} == {s1["order_id"], s2["order_id"]}  # nothing reached the server

        # --- back online; the first answer is lost on the way back, so the app sends it again ------
        lost: list[int] = []

        def lose_first_answer(route: Any) -> None:
            if not lost:
                response = route.fetch()  # the server applies the batch ...
                lost.append(response.status)
                route.abort("connectionreset")  # ... but the phone never hears back
            else:
                route.continue_()

        context.route("**/api/v1/driver/actions", lose_first_answer)
        online_at = datetime.now(UTC)
        context.set_offline(False)
        for _ in range(200):  # the "online" event starts a sync; its answer is lost
            if lost:
                break
            page.wait_for_timeout(50)
        assert lost == [200]
        page.click("#sync-status")  # the driver taps "sync now" (the app also retries on its own)
        wait_synced(page)
        _shot(page, "5-synced")

        pods = _pods(day)
        delivered = [r for r in pods if r.kind == "delivered"]
        assert sorted(r.order_id for r in delivered) == sorted(s["order_id"] for s in (s1, s2, s3, s4))
        with day.api() as api:
            admin = day.tenant.headers["admin"]
            by_order = {r.order_id: api.get(f"/api/v1/pods/{r.id}", headers=admin).json() for r in delivered}
            for k, stop in enumerate((s3, s4)):
                pod = by_order[stop["order_id"]]
                device, server = _iso(pod["device_time"]), _iso(pod["server_time"])
                assert offline_from - timedelta(seconds=1) <= device <= offline_to + timedelta(seconds=1), pod
                assert server >= online_at - timedelta(seconds=1), pod
                assert len(pod["photo_sha256s"]) == 2 and pod["signature_sha256"] and pod["complete"]
                assert pod["recipient_name"] == f"Recipient {k}" and pod["accuracy_m"] == 6
                assert ("far_from_address" in pod["flags"]) is (k == 1), pod
            assert by_order[s1["order_id"]]["extra_barcodes"] == ["STRAY-9"]
            assert len(by_order[s2["order_id"]]["photo_sha256s"]) == 2
            for r in delivered:
                check = api.get(f"/api/v1/pods/{r.id}/verify", headers=admin).json()
                assert check["valid"], check
                order = api.get(f"/api/v1/orders/{r.order_id}", headers=admin).json()
                assert order["status"] == "delivered"
            # GPS pings went through the ingestion API while on shift
            position = api.get(f"/api/v1/execution/vehicles/{day.route['vehicle_id']}/position",
                               headers=day.tenant.headers["dispatcher"])
            assert position.status_code == 200 and position.json()["device_id"].startswith("phone-"), position.text
        statuses = {li.get_attribute("data-order"): li.get_attribute("data-status")
                    for li in page.locator("#stops li").all()}
        assert [statuses[s["order_id"]] for s in (s1, s2, s3, s4)] == ["delivered"] * 4
        assert page.locator("#stops li .pending").count() == 0
        assert errors == []
        browser.close()
