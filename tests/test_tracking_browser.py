"""The tracking page in real headless Chromium (Debian's ``chromium`` through Playwright)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.notify import store
from baton.notify.model import NotifySettings
from baton.notify.tokens import make_token
from baton.service_layer import commands
from factories import local
from notify_support import messages, planned_day, start_day

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
ARTIFACTS = Path(os.environ.get("BATON_ARTIFACTS", "/tmp/baton-artifacts"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    import uvicorn
    from fastapi import FastAPI

    from baton.entrypoints.web.tracking import configure_tracking, router

    bus, route_id = planned_day(f"sqlite:///{tmp_path / 'baton.sqlite'}",
                                NotifySettings(quiet_start="00:00", quiet_end="00:00", brand_name="Loja Azul",
                                               brand_color="#0b6e4f"))
    app = FastAPI()
    app.include_router(router)
    configure_tracking(app, bus.uow.session_factory, GreatCircleProvider(), lambda: local(8, 10))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield bus, route_id, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_page_opens_from_the_link_shows_live_status_and_refuses_bad_links(served: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    bus, route_id, base = served
    start_day(bus, route_id)
    with bus.uow.session_factory() as session:
        settings = store.load_settings(session, "default")
    assert settings is not None
    with bus.uow:
        first = bus.uow.plans.get_route(route_id).order_ids[0]
    body = messages(bus, order_id=first, kind="out_for_delivery")[0]["body"]  # the link the customer got
    found = re.search(r"http://localhost:8000(/t/[A-Za-z0-9_.-]+)", body)
    assert found is not None, body
    link = base + found.group(1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="pt-BR")  # a phone
        page.goto(link)
        status = page.locator("#status")
        expect(status).to_have_text("Saiu para entrega" if first != "o-bob" else "Out for delivery")
        expect(page.locator("#eta-line")).to_be_visible()
        assert re.fullmatch(r"\d\d:\d\d", page.locator("#eta-from").inner_text())
        assert re.fullmatch(r"\d\d:\d\d", page.locator("#eta-to").inner_text())
        expect(page.locator("#stops-before")).to_have_text("0")
        page.screenshot(path=str(ARTIFACTS / "tracking-out-for-delivery.png"), full_page=True)
        # live: the driver delivers, the open page follows through SSE without a manual reload
        bus.handle(commands.ArriveAtStop(at=local(8, 20), route_id=route_id, order_id=first))
        bus.handle(commands.CompleteDelivery(at=local(8, 24), route_id=route_id, order_id=first))
        expect(status).to_have_text("Entregue" if first != "o-bob" else "Delivered", timeout=15_000)
        expect(page.locator("#pod")).to_contain_text("08:24", timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "tracking-delivered.png"), full_page=True)
        # refused links
        payload, sig = link.rsplit("/", 1)[1].split(".")
        response = page.goto(f"{base}/t/{payload}.{sig[::-1]}")
        assert response is not None and response.status == 404
        expired = make_token(first, "default", local(8), settings.signing_secret)
        response = page.goto(f"{base}/t/{expired}")
        assert response is not None and response.status == 410
        expect(page.locator("[role=alert]")).to_contain_text("expirou")
        page.screenshot(path=str(ARTIFACTS / "tracking-expired.png"))
        browser.close()
    shutil.copy(ARTIFACTS / "tracking-delivered.png", tmp_path / "tracking-delivered.png")
    assert (ARTIFACTS / "tracking-out-for-delivery.png").stat().st_size > 10_000
