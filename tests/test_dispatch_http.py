"""The HTTP carrier adapter against the fake carrier server (real HTTP on loopback): decisions,
latency, outages, dropped connections, protocol errors, withdrawals and health probes."""

from __future__ import annotations

import httpx
import pytest

from baton.adapters.carriers.fake_server import FakeCarrierServer
from baton.adapters.carriers.http import CarrierProtocolError, CarrierUnavailable, HttpCarrierClient, TenderRequest

REQUEST = TenderRequest("o-1.t001", "o-1", -15.79, -47.88, 2, 3.5, "same_day", "2026-03-02T12:00:00-03:00",
                        12.5, "BRL")


def test_accept_rate_is_seeded_and_requests_are_recorded() -> None:
    client = HttpCarrierClient(attempts=1)
    with FakeCarrierServer(accept_rate=0.5, seed=4, latency_s=0.01) as a, \
            FakeCarrierServer(accept_rate=0.5, seed=4) as b:
        first = [client.offer(a.url, REQUEST).decision for _ in range(12)]
        second = [client.offer(b.url, REQUEST).decision for _ in range(12)]
        assert first == second and {"accepted", "rejected"} == set(first)
        assert a.received[0]["dropoff"] == {"lat": -15.79, "lng": -47.88} and a.received[0]["price"] == 12.5
        assert client.offer(a.url, REQUEST).reason in ("", "no driver available")


def test_outage_drops_pending_withdraw_and_health() -> None:
    client = HttpCarrierClient(attempts=2, backoff_s=0.01)
    with FakeCarrierServer(pending=True) as carrier:
        assert client.offer(carrier.url, REQUEST).decision == "pending"
        assert client.withdraw(carrier.url, "o-1.t001") and carrier.withdrawn == ["o-1.t001"]
        assert client.healthy(carrier.url)
        carrier.outage = True
        with pytest.raises(CarrierUnavailable, match=r"HTTP 503 \(after 2 attempts"):
            client.offer(carrier.url, REQUEST)
        assert not client.healthy(carrier.url) and not client.withdraw(carrier.url, "x")
        carrier.outage, carrier.drop_connections = False, True
        with pytest.raises(CarrierUnavailable, match="after 2 attempts"):
            client.offer(carrier.url, REQUEST)
    with pytest.raises(CarrierUnavailable):  # nobody listening any more
        client.offer(carrier.url, REQUEST)


def test_protocol_errors_are_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"decision": "maybe"}) if len(calls) == 1 else httpx.Response(422, text="no")

    client = HttpCarrierClient(transport=httpx.MockTransport(handler))
    with pytest.raises(CarrierProtocolError, match="unknown decision 'maybe'"):
        client.offer("http://carrier.test", REQUEST)
    with pytest.raises(CarrierProtocolError, match="HTTP 422"):
        client.offer("http://carrier.test", REQUEST)
    assert len(calls) == 2
