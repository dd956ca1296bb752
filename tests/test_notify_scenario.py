"""Scenario on the real Brasília day: a late-running route, "running late" messages by e-mail and SMS
to exactly the affected customers, and a customer rescheduling from the tracking page."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from baton.adapters.channels.smtp import SmtpChannel
from baton.adapters.channels.twilio import TwilioChannel
from baton.adapters.travel.greatcircle import GreatCircleProvider
from baton.demo.enrich import enrich
from baton.demo.main_job import bundled_day
from baton.domain.values import Customer
from baton.entrypoints.web.tracking import configure_tracking, router
from baton.execute.events import ExceptionOpened
from baton.intake.loggi import load_loggi_day
from baton.notify import store
from baton.notify.model import NotifySettings, Preference
from baton.notify.outbox import tracking_url
from baton.notify.sender import RetryPolicy, Sender
from baton.planning.problem import PlanningOptions
from baton.service_layer import commands
from baton.service_layer.bootstrap import bootstrap
from notify_support import SID, TOKEN, enable, fake_twilio, messages, smtp_server

DELAY = timedelta(minutes=50)


def test_a_late_route_warns_exactly_its_late_customers_and_a_customer_reschedules(
        db_url: str, tmp_path: Path) -> None:
    day = enrich(load_loggi_day(bundled_day()), limit=40)
    orders = []
    for i, o in enumerate(day.orders):  # half the customers also have an e-mail; every 4th speaks English
        email = f"c{i}@example.com" if i % 2 == 0 else None
        orders.append(replace(o, customer=Customer(o.customer.name, o.customer.phone, email,
                                                   "en" if i % 4 == 0 else "pt-BR"), events=list(o.events)))
    bus = bootstrap(db_url, travel=GreatCircleProvider())
    settings = enable(bus, NotifySettings(tracking_base_url="http://testserver"))  # quiet hours 21:00-08:00
    bus.handle(commands.RegisterFleet(at=day.day_start, depots=[day.depot], vehicles=day.vehicles,
                                      drivers=day.drivers))
    bus.handle(commands.CreateOrders(at=day.day_start + timedelta(hours=5), orders=orders))
    plan = bus.handle(commands.PlanOrders(at=day.day_start + timedelta(hours=6), day_start=day.day_start,
                                          options=PlanningOptions(time_limit_s=1, seed=7)))
    assert len(plan.routes) >= 2
    late_route, other = plan.routes[0], plan.routes[1]
    bus.handle(commands.DispatchRoute(at=late_route.start - timedelta(minutes=20), route_id=late_route.id))
    bus.handle(commands.StartRoute(at=late_route.start, route_id=late_route.id))
    by_id = {o.id: o for o in orders}
    # the route runs 50 minutes behind: the stops whose new ETA misses their window are at risk
    affected = {s.order_id for s in late_route.stops if s.order_id
                and s.planned_arrival + DELAY > by_id[s.order_id].window_at(s.planned_arrival).end}  # type: ignore[union-attr]
    assert affected and len(affected) < len(late_route.order_ids)
    opted_out = sorted(affected)[0]
    quiet = sorted(affected)[1] if len(affected) > 1 else None
    session = bus.uow.session_factory()  # type: ignore[attr-defined]
    with session, session.begin():
        from baton.notify.model import customer_key

        store.save_preference(session, "default", Preference(customer_key(by_id[opted_out].customer), opted_out=True))
        if quiet:  # this customer asked for silence all day long
            store.save_preference(session, "default", Preference(customer_key(by_id[quiet].customer),
                                                                 quiet_start="06:00", quiet_end="22:00"))
    noticed = late_route.start + timedelta(minutes=30)
    with bus.uow:  # what the exception monitor records (execution area)
        bus.uow.record(*[ExceptionOpened(occurred_at=noticed, exception_id=f"x-{oid}", kind="late_risk",
                                         route_id=late_route.id, order_id=oid,
                                         details={"eta": (late_route.stop_for(oid).planned_arrival + DELAY)
                                                  .isoformat()}) for oid in sorted(affected)])
        bus.uow.commit()

    late = messages(bus, kind="late_risk")
    assert {r["order_id"] for r in late} == affected  # exactly the affected customers
    for r in late:
        customer = by_id[r["order_id"]].customer
        assert r["channel"] == ("email" if customer.email else "sms")
        assert r["language"] == ("en" if customer.language == "en" else "pt-BR")
        assert ("running late" in r["body"]) == (customer.language == "en")
    status = {r["order_id"]: (r["status"], r["status_reason"]) for r in late}
    assert status[opted_out] == ("suppressed", "opted_out")
    if quiet:
        assert status[quiet] == ("pending", "quiet_hours")
    sendable = {o for o, (st, why) in status.items() if st == "pending" and why is None}

    with smtp_server(tmp_path) as box, fake_twilio() as fake:
        channels = {"email": SmtpChannel("127.0.0.1", box.port, username="baton", password="s3cret",
                                         ssl_context=box.ssl_context),
                    "sms": TwilioChannel(fake.url, SID, TOKEN, "+15005550006")}
        Sender(bus.uow.session_factory, channels, retry=RetryPolicy(attempts=2),  # type: ignore[attr-defined]
               sleep=lambda s: None).run_once(now=noticed + timedelta(minutes=1))
    mailed = {m["To"] for m in box.messages if "atrasad" in m["Subject"] or "running late" in m["Subject"]}
    texted = {m["To"] for m in fake.accepted if "atrasado" in m["Body"] or "running late" in m["Body"]}
    expected_mail = {by_id[o].customer.email for o in sendable if by_id[o].customer.email}
    expected_sms = {by_id[o].customer.phone for o in sendable if not by_id[o].customer.email}
    assert mailed == expected_mail and texted == expected_sms
    assert all(r["status"] == "sent" for r in messages(bus, kind="late_risk") if r["order_id"] in sendable)

    # a customer on a route that has not left yet moves the delivery from the tracking page
    app = FastAPI()
    app.include_router(router)
    configure_tracking(app, bus.uow.session_factory, GreatCircleProvider(),  # type: ignore[attr-defined]
                       lambda: noticed)
    mover = other.order_ids[0]
    link = tracking_url(settings, mover, noticed).removeprefix("http://testserver")
    with TestClient(app) as client:
        page = client.get(link).text
        options = [p.split('"')[0] for p in page.split('<option value="')[1:]]
        assert options, "the planner's capacity offers other slots"
        chosen = options[-1]
        r = client.post(f"{link}/reschedule", data={"slot": chosen}, follow_redirects=False)
        assert r.status_code == 303 and "error" not in r.headers["location"]
    with bus.uow:
        moved = bus.uow.orders.get(mover)
        routes = {r.id: r for r in bus.uow.plans.current().routes}  # type: ignore[union-attr]
    window = moved.time_windows[0]
    assert f"{window.start.isoformat()}/{window.end.isoformat()}" == chosen
    serving = [r for r in routes.values() if mover in r.order_ids]
    assert len(serving) == 1 and moved.route_id == serving[0].id
    assert window.start <= serving[0].stop_for(mover).planned_arrival <= window.end
