"""The driver app's other actions and live route changes in headless Chromium (Pixel 5, emulated GPS).

A failed attempt (reason ``damaged`` with a photo) opens a claim on the server; a break and an issue
report reach the server in order; a resequence of the route written by the server (as live
re-planning writes it, ``PlanRepository.save_route``) arrives over ``GET /api/v1/driver/events`` and
the app re-reads the route without a reload and highlights the moved stops.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from baton.adapters import orm_prove as tp
from baton.domain.plan import StopKind
from driver_app_support import camera_jpeg, live_day, wait_synced
from test_api_support import PASSWORD, order_body

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="no Chromium: install Debian's `chromium` package to run browser tests")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _resequence_last_two(ctx: Any, route_id: str) -> list[str]:
    """Swap the route's last two deliveries (what a dispatcher's live re-plan does); returns them."""
    with ctx.uow("default") as uow:
        route = uow.plans.get_route(route_id)
        idx = [k for k, s in enumerate(route.stops) if s.kind == StopKind.DELIVERY]
        a, b = idx[-2], idx[-1]
        route.stops[a], route.stops[b] = route.stops[b], route.stops[a]
        uow.plans.save_route(route, route.plan_id)
        uow.commit()
        return [str(route.stops[a].order_id), str(route.stops[b].order_id)]


def test_fail_damaged_break_issue_and_live_resequence(tmp_path: Path) -> None:
    with live_day(tmp_path, orders=4) as day, playwright_api.sync_playwright() as p:
        s1 = day.route["stops"][0]
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(**p.devices["Pixel 5"], permissions=["geolocation"],
                                      geolocation={"latitude": s1["lat"], "longitude": s1["lng"], "accuracy": 9})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(day.base + "/driver/")
        page.fill("input[name=username]", day.driver_email)
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#stops li")
        page.wait_for_function("document.body.classList.contains('live-on')")  # the event stream is open

        # failed attempt: damaged, with a photo
        page.click("#stops li.next")
        assert page.locator("#stop-detail").inner_text().count(s1["customer_name"]) == 1
        page.click("#fail-button")
        page.check("input[name=reason][value=damaged]")
        page.set_input_files("#fail-photo", files=[{"name": "box.jpg", "mimeType": "image/jpeg",
                                                    "buffer": camera_jpeg(seed=7)}])
        page.wait_for_function("document.querySelector('#fail-thumbs').textContent.startsWith('1 photo')")
        page.fill("#fail-form textarea[name=notes]", "box crushed")
        page.click("#fail-form button[type=submit]")
        page.wait_for_selector(f"#stops li[data-order='{s1['order_id']}'][data-status=failed_attempt]")

        # a break, then an issue report
        page.click("#break-button")
        page.wait_for_selector("#break-button[data-on-break=true]")
        page.click("#break-button")
        page.wait_for_selector("#break-button[data-on-break=false]")
        page.click("#issue-button")
        page.check("input[name=kind][value=road_closed]")
        page.fill("#issue-form textarea[name=notes]", "Eixo closed for works")
        page.click("#issue-form button[type=submit]")
        page.wait_for_selector("#view-route:not([hidden])")
        wait_synced(page)

        with day.app.state.ctx.engine.connect() as conn:
            rows = conn.execute(select(tp.driver_actions.c.type, tp.driver_actions.c.status,
                                       tp.driver_actions.c.order_id, tp.driver_actions.c.payload)
                                .order_by(tp.driver_actions.c.server_time)).all()
        assert [(r.type, r.status) for r in rows] == [
            ("arrive", "applied"), ("fail", "applied"), ("break_start", "applied"), ("break_end", "applied"),
            ("report_issue", "applied")]
        assert rows[1].payload["reason"] == "damaged" and len(rows[1].payload["photo_sha256s"]) == 1
        assert rows[4].payload == {"kind": "road_closed", "notes": "Eixo closed for works"}
        with day.api() as api:
            admin = day.tenant.headers["admin"]
            claims = api.get("/api/v1/claims", headers=admin, params={"order_id": s1["order_id"]}).json()
            assert [c["status"] for c in claims] == ["opened"] and len(claims[0]["photo_sha256s"]) == 1

            # live: the server resequences the route; the app follows without a reload
            moved = _resequence_last_two(day.app.state.ctx, day.route["route_id"])
            spare = order_body("o-spare", -15.8, -47.9)
            assert api.post("/api/v1/orders", headers=admin, json=spare).status_code == 201
            assert api.post("/api/v1/orders/o-spare/cancel", headers=admin, json={}).status_code == 200  # an event
        for order_id in moved:
            page.wait_for_selector(f"#stops li.changed[data-order='{order_id}']", timeout=15000)
        assert "Route updated: 2 stops changed" in page.locator("#banner").inner_text()
        sequence = [li.get_attribute("data-order") for li in page.locator("#stops li:not(.done)").all()]
        assert sequence[-2:] == moved
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "driver-app-6-live-change.png"), full_page=True)
        page.click(f"#stops li[data-order='{moved[0]}']")
        assert "This stop changed" in page.locator("#stop-detail").inner_text()
        page.click("#view-stop .back")
        assert page.locator(f"#stops li.changed[data-order='{moved[0]}']").count() == 0  # seen
        assert errors == []
        browser.close()
