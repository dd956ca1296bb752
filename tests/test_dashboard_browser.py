"""The dashboard in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Logs in, watches the live map while a slice of a real Loggi day runs through the service layer,
filters the orders table, acts on an exception (reattempt), and saves a screenshot under
``artifacts/`` (gitignored).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from baton.demo.enrich import enrich
from baton.demo.main_job import bundled_day
from baton.demo.simulate import SimulationSettings, day_commands
from baton.intake.loggi import load_loggi_day
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands
from services import free_port
from test_api_support import PASSWORD, make_app

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
        assert errors == []

        # the interactive API docs render from the bundled Swagger UI (no CDN)
        page.goto(base + "/api/v1/docs")
        page.wait_for_selector(".swagger-ui .info .title")
        assert "Baton API" in page.locator(".swagger-ui .info .title").inner_text()
        assert page.locator(".opblock").count() > 30
        browser.close()
