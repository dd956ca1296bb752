"""The tracking page shows the customer the proof of delivery (issue 8 §3): delivered at, recipient's first
name and relation, signature and photo thumbnails served through ``/t/{token}/pod/{sha256}`` only for media of
THAT order's delivered POD."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from baton.entrypoints.web.tracking import configure_tracking
from baton.notify import store
from baton.notify.model import NotifySettings
from baton.notify.outbox import tracking_url
from prove_support import action, app_with_store, dispatched_day, png, upload


def test_delivered_order_shows_its_pod_and_serves_only_its_media(db_url: str, tmp_path: Path) -> None:
    app = app_with_store(db_url, tmp_path)
    with TestClient(app) as client:
        acme, _plan = dispatched_day(client, app, orders=2)
        configure_tracking(app, app.state.ctx.sessions)
        with app.state.ctx.sessions() as session, session.begin():
            settings = store.save_settings(session, NotifySettings(org_id="acme", tracking_base_url="http://t.test"))
        drv = acme.headers["driver"]
        route = client.get("/api/v1/driver/route", headers=drv).json()
        stop, other = route["stops"]
        sig, photo, foreign = upload(client, drv, png(11)), upload(client, drv, png(12)), upload(client, drv, png(13))
        body = action("complete", route["route_id"], stop["order_id"], lat=stop["lat"], lng=stop["lng"],
                      recipient_name="Maria Clara Souza", recipient_relation="neighbour", signature_sha256=sig,
                      photo_sha256s=[photo], scanned_barcodes=[p["barcode"] for p in stop["parcels"]])
        r = client.post("/api/v1/driver/actions", headers=drv, json={"actions": [body]})
        assert r.json()["results"][0]["status"] == "applied", r.text
        # the other order's failed-attempt POD holds ``foreign``: never served through this order's link
        fail = action("fail", route["route_id"], other["order_id"], reason="not_home", photo_sha256s=[foreign])
        assert client.post("/api/v1/driver/actions", headers=drv, json={"actions": [fail]}).status_code == 200

        path = tracking_url(settings, stop["order_id"], datetime.now(UTC)).removeprefix("http://t.test")
        page = client.get(path)
        assert page.status_code == 200
        html = page.text
        assert 'id="pod-detail"' in html and "<strong>Maria</strong>" in html and "neighbour" in html
        assert "Clara" not in html and "Souza" not in html  # first name only
        assert f'src="{path}/pod/{sig}"' in html and f'src="{path}/pod/{photo}"' in html
        got = client.get(f"{path}/pod/{photo}")
        assert got.status_code == 200 and got.content == png(12) and got.headers["content-type"] == "image/png"
        assert client.get(f"{path}/pod/{sig}").content == png(11)
        assert client.get(f"{path}/pod/{foreign}").status_code == 404  # another order's media
        assert client.get(f"{path}/pod/{'0' * 64}").status_code == 404
        assert client.get(f"{path[:-3]}xyz/pod/{photo}").status_code == 404  # tampered link
        # an undelivered order's page has no POD and its link serves nothing
        other_path = tracking_url(settings, other["order_id"], datetime.now(UTC)).removeprefix("http://t.test")
        assert 'id="pod-detail"' not in client.get(other_path).text
        assert client.get(f"{other_path}/pod/{foreign}").status_code == 404
