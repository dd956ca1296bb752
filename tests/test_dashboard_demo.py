"""``baton demo --serve``: the simulated day runs through the server, and a watcher sees it live."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from baton.entrypoints.api.demo_live import LiveDemo, serve_demo
from services import free_port
from test_api_support import SECRET


def test_the_demo_day_streams_live_to_a_logged_in_watcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_SECRET_KEY", SECRET)
    monkeypatch.delenv("BATON_REDIS_URL", raising=False)
    names: list[str] = []
    opened = threading.Event()
    listeners: list[threading.Thread] = []

    def watch(demo: LiveDemo) -> None:
        base = demo.url.rstrip("/")
        login = httpx.post(f"{base}/login", data={"email": demo.email, "password": demo.password})
        assert login.status_code == 303
        cookies = {"baton_session": login.cookies["baton_session"]}

        def listen() -> None:
            with httpx.stream("GET", f"{base}/api/v1/stream", cookies=cookies, timeout=30) as r:
                event = None
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                        if event == "ready":
                            opened.set()
                    elif line.startswith("data: ") and event == "baton":
                        names.append(json.loads(line[6:])["name"])
                        if names[-1] == "route.completed":
                            return

        listeners.append(threading.Thread(target=listen, daemon=True))
        listeners[0].start()
        assert opened.wait(20), "the watcher's stream did not open"

    handled = serve_demo(database_url=f"sqlite:///{tmp_path / 'live.sqlite'}", port=free_port(), limit=12,
                         seconds=1, speed=0, on_ready=watch)
    assert handled > 12 * 2
    listeners[0].join(10)
    for name in ("plan.created", "route.dispatched", "route.started", "stop.arrived", "order.status_changed"):
        assert name in names
