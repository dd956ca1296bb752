"""Orders over HTTP: create (idempotent), batch with per-row errors, search, ETag/If-Match updates, cancel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from test_api_support import Tenant, make_app, make_tenant, order_body


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[TestClient, Tenant]]:
    app = make_app(db_url)
    with TestClient(app) as client:
        yield client, make_tenant(app, client, "acme")


def test_create_get_and_idempotent_retry(api: tuple[TestClient, Tenant]) -> None:
    client, t = api
    h = t.headers["dispatcher"] | {"Idempotency-Key": "shop-123"}
    r = client.post("/api/v1/orders", headers=h, json=order_body("o-1"))
    assert r.status_code == 201 and r.json()["status"] == "created"
    assert r.headers["location"] == "/api/v1/orders/o-1" and r.headers["etag"] == '"0"'
    again = client.post("/api/v1/orders", headers=h, json=order_body("o-1"))
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == r.json()
    other = client.post("/api/v1/orders", headers=h, json=order_body("o-2"))
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    dup = client.post("/api/v1/orders", headers=t.headers["dispatcher"], json=order_body("o-1"))
    assert dup.status_code == 409
    got = client.get("/api/v1/orders/o-1", headers=t.headers["viewer"])
    assert got.json()["customer"]["name"] == "Customer o-1" and got.headers["etag"] == '"0"'
    events = client.get("/api/v1/orders/o-1/events", headers=t.headers["viewer"]).json()
    assert [e["name"] for e in events] == ["order.created"]
    assert events[0]["actor"].startswith("user:")


def test_bad_input_names_the_field_as_problem_json(api: tuple[TestClient, Tenant]) -> None:
    client, t = api
    body = order_body("o-1", time_windows=[{"start": "2026-03-02T08:00:00", "end": "2026-03-02T09:00:00-03:00"}])
    body["address"]["lat"] = 123
    r = client.post("/api/v1/orders", headers=t.headers["admin"], json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"address.lat", "time_windows[0].start"} <= fields
    assert client.get("/api/v1/orders/nope", headers=t.headers["admin"]).status_code == 404
    r = client.get("/api/v1/orders?limit=0", headers=t.headers["admin"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "limit"


def test_batch_reports_bad_rows_and_creates_the_good_ones(api: tuple[TestClient, Tenant]) -> None:
    client, t = api
    client.post("/api/v1/orders", headers=t.headers["admin"], json=order_body("o-0"))
    rows = [order_body("o-1"), order_body("o-2", priority=9), order_body("o-0"), {"id": "o-3"}, order_body("o-1")]
    r = client.post("/api/v1/orders/batch", headers=t.headers["admin"], json={"orders": rows})
    assert r.status_code == 200
    out = r.json()
    assert out["created"] == ["o-1"] and out["rejected_rows"] == [1, 2, 3, 4]
    by_row = {(e["row"], e["field"]) for e in out["errors"]}
    assert (1, "orders[1].priority") in by_row and (2, "orders[2].id") in by_row
    assert (3, "orders[3].customer") in by_row and (4, "orders[4].id") in by_row
    bad = client.post("/api/v1/orders/batch", headers=t.headers["admin"], json={"orders": [{"id": "x"}]})
    assert bad.status_code == 422


def test_search_filters_and_pages(api: tuple[TestClient, Tenant]) -> None:
    client, t = api
    rows = [order_body(f"o-{i:02d}") for i in range(7)]
    rows[3]["customer"]["name"] = "Maria Souza"
    client.post("/api/v1/orders/batch", headers=t.headers["admin"], json={"orders": rows})
    client.post("/api/v1/orders/o-05/cancel", headers=t.headers["admin"], json={"reason": "customer asked"})
    h = t.headers["viewer"]
    page = client.get("/api/v1/orders?limit=3&offset=3", headers=h).json()
    assert [o["id"] for o in page["items"]] == ["o-03", "o-04", "o-05"]
    assert page["total"] == 7 and page["next_offset"] == 6
    assert client.get("/api/v1/orders?limit=3&offset=6", headers=h).json()["next_offset"] is None
    assert [o["id"] for o in client.get("/api/v1/orders?q=souza", headers=h).json()["items"]] == ["o-03"]
    cancelled = client.get("/api/v1/orders?status=cancelled", headers=h).json()
    assert [o["id"] for o in cancelled["items"]] == ["o-05"]
    both = client.get("/api/v1/orders?status=cancelled&status=created", headers=h).json()
    assert both["total"] == 7
    bad = client.get("/api/v1/orders?status=lost", headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status[0]"


def test_updates_need_the_current_etag(api: tuple[TestClient, Tenant]) -> None:
    client, t = api
    h = t.headers["dispatcher"]
    client.post("/api/v1/orders", headers=h, json=order_body("o-1"))
    r = client.patch("/api/v1/orders/o-1", headers=h, json={"notes": "ring twice"})
    assert r.status_code == 428 and r.json()["errors"][0]["field"] == "If-Match"
    r = client.patch("/api/v1/orders/o-1", headers=h | {"If-Match": '"0"'}, json={"notes": "ring twice", "priority": 3})
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert r.json()["notes"] == "ring twice" and r.json()["priority"] == 3
    stale = client.patch("/api/v1/orders/o-1", headers=h | {"If-Match": '"0"'}, json={"notes": "lost update"})
    assert stale.status_code == 412
    assert client.get("/api/v1/orders/o-1", headers=h).json()["notes"] == "ring twice"
    bad = client.patch("/api/v1/orders/o-1", headers=h | {"If-Match": '"1"'}, json={"priority": 7})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "priority"
    names = [e["name"] for e in client.get("/api/v1/orders/o-1/events", headers=h).json()]
    assert names == ["order.created", "order.updated"]


def test_cancel_is_idempotent_and_refused_after_delivery_states(api: tuple[TestClient, Tenant]) -> None:
    client, t = api
    h = t.headers["dispatcher"]
    client.post("/api/v1/orders", headers=h, json=order_body("o-1"))
    assert client.post("/api/v1/orders/o-1/cancel", headers=h).json()["status"] == "cancelled"
    assert client.post("/api/v1/orders/o-1/cancel", headers=h).status_code == 200
    r = client.patch("/api/v1/orders/o-1", headers=h | {"If-Match": '"1"'}, json={"notes": "x"})
    assert r.status_code == 409
