"""The dashboard in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Logs in, watches the live map while a slice of a real Loggi day runs through the service layer
(stop events) and GPS pings arrive over the API (a vehicle marker moves to the fix), filters the
orders table, acts on an exception (reattempt), and saves screenshots under ``artifacts/``
(gitignored): a laptop (1400 px) and a tablet (768 px) one.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton.demo.enrich import enrich
from baton.demo.main_job import bundled_day
from baton.demo.simulate import SimulationSettings, day_commands
from baton.intake.loggi import load_loggi_day
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands
from services import free_port
from test_api_support import PASSWORD, make_app, seed_today

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="no Chromium: install Debian's `chromium` package to run browser tests")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    import uvicorn

    app = make_app(f"sqlite:///{tmp_path / 'baton.sqlite'}")
    ctx = app.state.ctx
    ctx.accounts.ensure_organisation("default")
    ctx.accounts.create_user("default", "dispatch@example.com", PASSWORD, "dispatcher")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{server.config.port}", ctx
    finally:
        server.should_exit = True
        thread.join(10)


def test_dashboard_live_map_filters_and_exception_action(live_server: tuple[str, Any]) -> None:
    base, ctx = live_server
    day = enrich(load_loggi_day(bundled_day()), seed=7, limit=40)
    bus = ctx.bus("default")
    at = day.day_start + timedelta(hours=6)
    bus.handle(commands.RegisterFleet(at=at, depots=[day.depot], vehicles=day.vehicles, drivers=day.drivers))
    bus.handle(commands.CreateOrders(at=at, orders=day.orders))
    plan = bus.handle(commands.PlanOrders(at=at, day_start=day.day_start,
                                          options=PlanningOptions(time_limit_s=2, seed=7, max_iterations=3000)))
    timeline = day_commands(plan, {o.id: o for o in day.orders}, SimulationSettings(seed=7),
                            dispatch_at=day.day_start + timedelta(hours=7, minutes=30))

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        assert page.url.endswith("/login")
        page.fill("input[name=email]", "dispatch@example.com")
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text() == "Wrong e-mail or password."
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#kpis .tile")
        page.wait_for_selector("#live.on")
        assert page.locator("#orders tbody tr").count() == 40
        assert page.locator(".leaflet-overlay-pane path").count() > 40  # routes + order dots
        assert page.locator(".vehicle-marker").count() == 0  # nothing dispatched yet
        refreshes = int(page.locator("body").get_attribute("data-refreshes") or "0")

        # run the first half of the day through the service layer: the map follows over SSE
        for _, command in timeline[: len(timeline) // 2]:
            bus.handle(command)
        page.wait_for_function(f"document.body.dataset.refreshes > {refreshes}")
        page.wait_for_selector(".vehicle-marker[data-state=left_stop], .vehicle-marker[data-state=at_stop]")
        depot = f"{day.depot.location.lat},{day.depot.location.lng}"
        moved = [m.get_attribute("data-latlng") for m in page.locator(".vehicle-marker").all()]
        assert moved and any(latlng != depot for latlng in moved)
        assert page.locator("#feed li").count() > 0

        # a GPS fix posted to the API moves that vehicle's marker live (no reload)
        with ctx.uow("default") as uow:
            rolling = next(r for r in (uow.plans.get_route(s.route_id) for s in
                                       [o for o in uow.orders.list(status="out_for_delivery")]) if r)
        token = httpx.post(base + "/api/v1/auth/token",
                           data={"username": "dispatch@example.com", "password": PASSWORD}).json()["access_token"]
        fix = (round(day.depot.location.lat + 0.0123, 5), round(day.depot.location.lng - 0.0234, 5))
        refreshes = _settled_refreshes(page)
        r = httpx.post(base + "/api/v1/execution/positions", headers={"Authorization": f"Bearer {token}"},
                       json={"pings": [{"device_id": "phone-x", "vehicle_id": rolling.vehicle_id, "lat": fix[0],
                                        "lng": fix[1], "ts": datetime.now(UTC).isoformat(), "accuracy_m": 6}]})
        assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
        marker = page.locator(f".vehicle-marker[data-route='{rolling.id}']")
        page.wait_for_function(f"document.querySelector(\".vehicle-marker[data-route='{rolling.id}']\")"
                               f"?.dataset.latlng === '{fix[0]},{fix[1]}'")
        assert marker.get_attribute("data-state") == "gps"
        assert int(page.locator("body").get_attribute("data-refreshes") or "0") == refreshes  # moved in place

        # a failed attempt shows up as an exception
        rest = iter(timeline[len(timeline) // 2:])
        while True:  # a parcel still on a van (the solver's plan may vary with the machine's load)
            with ctx.uow("default") as uow:
                on_board = uow.orders.list(status="out_for_delivery")
            if on_board:
                target = on_board[0]
                break
            bus.handle(next(rest)[1])
        bus.handle(commands.ArriveAtStop(at=at + timedelta(hours=4), route_id=target.route_id, order_id=target.id))
        bus.handle(commands.FailDelivery(at=at + timedelta(hours=4, minutes=2), route_id=target.route_id,
                                         order_id=target.id, reason="not_home"))
        item = page.locator(f"#exceptions li[data-order='{target.id}']")
        item.wait_for()
        assert "not_home" in item.inner_text()

        # filter the orders table
        page.select_option("#order-status", "delivered")
        statuses = page.locator("#orders tbody tr .status").all_inner_texts()
        assert statuses and set(statuses) == {"delivered"}
        page.select_option("#order-status", "")
        page.fill("#order-search", target.id)
        assert page.locator("#orders tbody tr").count() == 1
        assert "failed_attempt" in page.locator("#orders tbody tr").inner_text()

        # act on the exception: reattempt (a command through the API)
        item.locator("button[data-action=reattempt]").click()
        page.wait_for_selector(f"#exceptions li[data-order='{target.id}'] button[data-action=reassign]")
        page.wait_for_function("document.querySelector('#orders tbody tr .status')?.textContent === 'reattempt'")
        with ctx.uow("default") as uow:
            assert uow.orders.get(target.id).status == "reattempt"
            actors = [e.actor for e in uow.events_for(target.id)]
        assert actors[-1].startswith("user:")

        page.fill("#order-search", "")
        page.select_option("#route-select", index=0)
        assert page.locator("#timeline .row").count() > 0
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000

        # a tablet: panels stack, nothing wider than the screen
        page.set_viewport_size({"width": 768, "height": 1024})
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        box = page.locator("#map").bounding_box()
        assert box is not None and box["width"] > 600
        page.screenshot(path=str(ARTIFACTS / "dashboard-tablet.png"), full_page=True)
        assert errors == []

        # the interactive API docs render from the bundled Swagger UI (no CDN)
        page.goto(base + "/api/v1/docs")
        page.wait_for_selector(".swagger-ui .info .title")
        assert "Baton API" in page.locator(".swagger-ui .info .title").inner_text()
        assert page.locator(".opblock").count() > 30
        browser.close()


def _settled_refreshes(page: Any, quiet_s: float = 1.5) -> int:
    """The dashboard's refresh counter once no refresh happened for ``quiet_s`` seconds (earlier
    events may still trigger a debounced refresh)."""
    last, since = -1, time.monotonic()
    while True:
        now = int(page.locator("body").get_attribute("data-refreshes") or "0")
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
        time.sleep(0.1)


def test_dashboard_starts_live_orchestration_and_takes_a_van_out(live_server: tuple[str, Any]) -> None:
    base, ctx = live_server
    ctx.accounts.create_user("default", "admin@example.com", PASSWORD, "admin")
    with httpx.Client(base_url=base) as http:
        token = http.post("/api/v1/auth/token",
                          data={"username": "admin@example.com", "password": PASSWORD}).json()["access_token"]
        plan, _now = seed_today(http, {"Authorization": f"Bearer {token}"})
    out = plan["routes"][0]
    stranded = set(out["stops"][i]["order_id"] for i in range(len(out["stops"])) if out["stops"][i]["order_id"])

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept("driver_unavailable"))
        page.goto(base + "/login")
        page.fill("input[name=email]", "dispatch@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#kpis .tile")
        assert page.locator("#live-orch").inner_text() == "Orchestrate live"
        assert page.locator("#fleet button[data-out]").count() == 0  # only while the day is orchestrated

        page.click("#live-orch")
        page.wait_for_selector("#live-orch.on")
        assert page.locator("#live-orch").inner_text() == "Orchestrating live"
        page.wait_for_selector("#fleet button[data-out]")
        assert page.locator("#fleet button[data-out]").count() == 2
        page.click(f"#fleet button[data-out='{out['id']}']")
        row = page.locator(f"#fleet tr[data-vehicle='{out['vehicle_id']}']")
        page.wait_for_function(f"document.querySelector(\"#fleet tr[data-vehicle='{out['vehicle_id']}']\")"
                               "?.dataset.result !== undefined")
        result = row.get_attribute("data-result") or ""
        assert result.endswith("unassigned") and "moved" in result
        with ctx.uow("default") as uow:
            (event,) = [e for e in uow.events_for(out["id"]) if e.name == "live.vehicle_broke_down"]
            route = uow.plans.get_route(out["id"])
        assert event.payload()["reason"] == "driver_unavailable"
        assert set(event.payload()["moved"]) | set(event.payload()["unassigned"]) == stranded
        assert route.order_ids == []
        page.wait_for_selector(f"#fleet tr[data-vehicle='{out['vehicle_id']}'] td:last-child .muted")  # "out"
        assert page.locator("#fleet button[data-out]").count() == 1
        assert page.evaluate("(a => a.scrollWidth <= a.clientWidth)(document.querySelector('aside'))")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"), full_page=True)
        assert errors == []
        browser.close()
