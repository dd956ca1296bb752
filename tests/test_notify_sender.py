"""The sender: real SMTP and HTTP channels, retries, fallback, and crash-safety of the outbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from baton.adapters.channels.base import Channel
from baton.adapters.channels.smtp import SmtpChannel
from baton.adapters.channels.twilio import TwilioChannel
from baton.notify.model import NotifySettings, Preference
from baton.notify.sender import RetryPolicy, Sender
from factories import local
from notify_support import SID, TOKEN, fake_twilio, messages, planned_day, smtp_server, start_day

QUIET_OFF = NotifySettings(tracking_base_url="http://t", quiet_start="00:00", quiet_end="00:00")


def _sender(bus: object, channels: dict[str, Channel], **kw: object) -> Sender:
    return Sender(bus.uow.session_factory, channels, retry=RetryPolicy(attempts=3),  # type: ignore[attr-defined]
                  sleep=lambda s: None, **kw)  # type: ignore[arg-type]


def _channels(box: object, fake: object) -> dict[str, Channel]:
    return {
        "email": SmtpChannel("127.0.0.1", box.port, sender="x@example.com", username="baton",  # type: ignore[attr-defined]
                             password="s3cret", ssl_context=box.ssl_context),  # type: ignore[attr-defined]
        "sms": TwilioChannel(fake.url, SID, TOKEN, "+15005550006"),  # type: ignore[attr-defined]
        "whatsapp": TwilioChannel(fake.url, SID, TOKEN, "+15005550006", whatsapp=True),  # type: ignore[attr-defined]
    }


def test_messages_go_out_by_email_and_sms_and_are_parsed_back(db_url: str, tmp_path: Path) -> None:
    bus, _ = planned_day(db_url, QUIET_OFF, prefs=[Preference("ana@example.com", channels=("whatsapp",))])
    with smtp_server(tmp_path) as box, fake_twilio() as fake:
        stats = _sender(bus, _channels(box, fake)).run_once(now=local(7, 1))
    assert stats.sent == 4 and stats.failed == 0
    bob = box.by_recipient("bob@example.com")
    assert len(bob) == 1 and bob[0]["Subject"] == "Your Baton delivery is scheduled"
    assert bob[0]["From"] == "entregas@example.com"  # the organisation's sender identity
    row = messages(bus, order_id="o-bob")[0]
    assert bob[0]["Message-ID"] == f"<{row['id']}@baton.local>" == row["provider_id"]
    text = next(p for p in bob[0].walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert b"Hi Bob, your order PED-BOB is scheduled" in text
    assert {m["To"] for m in fake.accepted} == {"whatsapp:+5561990000001", "+5561990000003"}
    caio = next(m for m in fake.accepted if m["To"] == "+5561990000003")
    assert caio["Body"].startswith("Baton: pedido PED-CAIO chega")
    assert all(r["status"] == "sent" for r in messages(bus))


def test_transient_errors_are_retried_and_permanent_ones_fall_back_to_the_next_channel(
        db_url: str, tmp_path: Path) -> None:
    prefs = [Preference("dora@example.com", channels=("sms", "email"))]
    bus, _ = planned_day(db_url, QUIET_OFF, prefs=prefs)
    with smtp_server(tmp_path) as box, fake_twilio() as fake:
        fake.fail_next = 2  # 503, 503, then accepted: retried with backoff
        fake.refuse = {"+5561990000004"}  # Dora's number is invalid: 400 / 21211, no retry
        stats = _sender(bus, _channels(box, fake)).run_once(now=local(7, 1))
    dora = messages(bus, order_id="o-dora")
    assert [(r["channel"], r["status"]) for r in dora] == [("sms", "failed"), ("email", "sent")]
    assert "21211" in dora[0]["status_reason"] and dora[1]["parent_id"] == dora[0]["id"]
    assert box.by_recipient("dora@example.com")[0]["Subject"] == "Sua entrega Baton está agendada"
    assert stats.fell_back == 1 and fake.requests == 2 + 1 + 1  # two 503s, Caio's SMS, Dora's refusal


class Crash(BaseException):
    """The process dies (not an Exception: nothing may catch it)."""


def test_a_sender_killed_mid_batch_loses_and_duplicates_nothing(db_url: str, tmp_path: Path) -> None:
    bus, route_id = planned_day(db_url, QUIET_OFF)
    start_day(bus, route_id)  # 4 "planned" + 4 "out for delivery" messages
    sends = 0

    def die_on_the_fifth(message_id: str) -> None:
        nonlocal sends
        sends += 1
        if sends == 5:  # the provider accepted it, the outcome was not recorded yet
            raise Crash()

    with smtp_server(tmp_path) as box, fake_twilio() as fake:
        channels = _channels(box, fake)
        with pytest.raises(Crash):
            _sender(bus, channels, after_send=die_on_the_fifth).run_once(now=local(8, 1))
        statuses = [r["status"] for r in messages(bus)]
        assert statuses.count("sent") == 4 and statuses.count("sending") == 4
        # restarted right away: the dead worker's lease still holds, nothing is taken twice
        assert _sender(bus, channels).run_once(now=local(8, 2)).claimed == 0
        # after the lease: the in-flight rows are claimed again and re-sent with the same id
        stats = _sender(bus, channels).run_once(now=local(8, 1) + timedelta(seconds=301))
    assert stats.sent == 4
    rows = messages(bus)
    assert len(rows) == 8 and all(r["status"] == "sent" for r in rows)
    emails = [r for r in rows if r["channel"] == "email"]
    sms = [r for r in rows if r["channel"] == "sms"]
    assert len(box.messages) == len(box.unique_ids()) == len(emails)  # one copy per message
    assert len(fake.accepted) == len({m["key"] for m in fake.accepted}) == len(sms)
    assert box.duplicates + fake.duplicates == 1  # the re-sent in-flight message was dropped by its id


def test_killing_the_sender_process_and_restarting_it_loses_and_duplicates_nothing(db_url: str) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    bus, route_id = planned_day(db_url, NotifySettings(tracking_base_url="http://t", channels=("sms",),
                                                       quiet_start="00:00", quiet_end="00:00"))
    start_day(bus, route_id)
    total = len(messages(bus))
    assert total == 8
    baton = [sys.executable, "-m", "baton.entrypoints.cli", "notify", "send", "--database-url", db_url]
    with fake_twilio() as fake:
        fake.delay_s = 0.15
        env = os.environ | {"BATON_TWILIO_BASE_URL": fake.url, "BATON_TWILIO_ACCOUNT_SID": SID,
                            "BATON_TWILIO_AUTH_TOKEN": TOKEN, "BATON_TWILIO_FROM": "+15005550006"}
        worker = subprocess.Popen([*baton, "--batch", "8"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(fake.accepted) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)  # dies mid-batch, without any chance to clean up
        worker.wait(timeout=10)
        assert 3 <= len(fake.accepted) < total
        assert any(r["status"] == "sending" for r in messages(bus))
        fake.delay_s = 0
        done = subprocess.run([*baton, "--once", "--lease-s", "0", "--json"], env=env, capture_output=True,
                              text=True, timeout=120, check=True)
    assert '"sent"' in done.stdout
    rows = messages(bus)
    assert [r["status"] for r in rows] == ["sent"] * total
    assert len(fake.accepted) == len({m["key"] for m in fake.accepted}) == total
    assert {r["provider_id"] for r in rows} == {m["sid"] for m in fake.accepted}
