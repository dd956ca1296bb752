"""``baton admin create-user`` and ``baton serve``: a real server process, login, the live SSE stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from baton.entrypoints.cli import app
from services import free_port
from test_api_support import SECRET, order_body

BATON = [sys.executable, "-m", "baton.entrypoints.cli"]


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"BATON_DATABASE_URL": db_url, "BATON_SECRET_KEY": SECRET, "BATON_HOME": str(tmp_path / "home"),
                "BATON_ADMIN_PASSWORD": "first admin pass"})
    env.pop("BATON_REDIS_URL", None)
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    db_url = f"sqlite:///{tmp_path / 'baton.sqlite'}"
    env = _env(db_url, tmp_path)
    runner = CliRunner()
    made = runner.invoke(app, ["admin", "create-user", "--org", "acme", "--email", "Ops@Acme.example.com",
                               "--role", "admin", "--database-url", db_url], env=env)
    assert made.exit_code == 0, made.output
    assert "Created organisation acme" in made.output and "ops@acme.example.com" in made.output
    again = runner.invoke(app, ["admin", "create-user", "--org", "acme", "--email", "ops@acme.example.com",
                                "--database-url", db_url], env=env)
    assert again.exit_code == 2 and "already registered" in again.output
    port = free_port()
    proc = subprocess.Popen([*BATON, "serve", "--port", str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "baton serve did not start within 60 s"
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_logs_in_the_first_admin_and_streams_live_events(server: str) -> None:
    base = server
    assert httpx.get(f"{base}/api/v1/orders").status_code == 401
    page = httpx.get(f"{base}/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert "openapi" in httpx.get(f"{base}/api/v1/openapi.json").json()
    docs = httpx.get(f"{base}/api/v1/docs").text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert httpx.get(f"{base}/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    token = httpx.post(f"{base}/api/v1/auth/token",
                       data={"username": "ops@acme.example.com", "password": "first admin pass"}).json()
    h = {"Authorization": f"Bearer {token['access_token']}"}
    received: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{base}/api/v1/stream", headers=h, timeout=20) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "ready":
                        ready.set()
                elif line.startswith("data: ") and event == "baton":
                    received.append(json.loads(line[6:]))
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(20), "the stream did not open"
    r = httpx.post(f"{base}/api/v1/orders", headers=h, json=order_body("o-live"))
    assert r.status_code == 201, r.text
    listener.join(20)
    assert received and received[0]["name"] == "order.created" and received[0]["aggregate_id"] == "o-live"
