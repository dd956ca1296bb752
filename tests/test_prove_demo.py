"""The main job's simulated day produces a POD for every delivered order, through the driver-app command;
the custody chains verify; the report links one page per POD and those pages point to existing media."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from baton.adapters import orm_prove as tp
from baton.adapters.objectstore.fs import FileSystemObjectStore
from baton.adapters.prove_records import ProveRecords
from baton.demo.main_job import run_demo
from baton.domain import OrderStatus
from baton.service_layer.bootstrap import bootstrap
from baton.service_layer.prove_views import verify_order_chain


def test_demo_slice_has_one_verified_pod_per_delivered_order(tmp_path: Path, db_url: str) -> None:
    out = tmp_path / "demo"
    result = run_demo(out_dir=out, limit=40, time_limit_s=1, seed=3, database_url=db_url)
    assert result.pods is not None and result.kpis.delivered > 30
    bus = bootstrap(db_url)
    store = FileSystemObjectStore(out / "objects")
    with bus.uow:
        session = bus.uow.session  # type: ignore[attr-defined]
        rec = ProveRecords(session, "default")
        orders = bus.uow.orders.list()
        delivered = [o for o in orders if o.status == OrderStatus.DELIVERED]
        failed = [o for o in orders if o.status in (OrderStatus.REATTEMPT, OrderStatus.RETURNED_TO_DEPOT,
                                                     OrderStatus.FAILED_ATTEMPT)]
        for o in delivered:
            [pod] = [p for p in rec.pods_of(o.id) if p.kind == "delivered"]
            assert pod.source == "driver" and pod.complete and pod.signature_sha256 and pod.photo_sha256s
            assert pod.recipient_name and pod.device_time <= pod.server_time and pod.accuracy_m
            assert pod.distance_m is not None and not pod.missing_barcodes
            assert pod.client_action_id and rec.action(pod.client_action_id).status == "applied"
        for o in failed:
            [pod] = rec.pods_of(o.id)
            assert pod.kind == "failed" and pod.reason == "not_home" and pod.photo_sha256s
        chains = {o.id: verify_order_chain(bus.uow, store, o.id) for o in delivered[:5]}  # type: ignore[arg-type]
        pods_total = session.execute(select(tp.pods)).all()
    assert len(pods_total) == len(delivered) + len(failed)
    assert all(c["valid"] for c in chains.values()), [c["problems"] for c in chains.values()]
    assert [link["kind"] for link in next(iter(chains.values()))["chain"]] == ["pickup", "delivered"]
    assert result.kpis.pod_complete_pct == 100.0 and not result.pods.invalid

    report = result.report_path.read_text(encoding="utf-8")
    assert "POD complete" in report and "Proofs of delivery" in report
    links = re.findall(r'href="(pods/[^"]+)"', report)
    assert {Path(h).stem for h in links} >= {o.id for o in delivered}
    assert all((out / h).is_file() for h in links)
    page_path = out / "pods" / f"{delivered[0].id}.html"
    page = page_path.read_text(encoding="utf-8")
    assert 'id="verify">verified' in page and delivered[0].id in page
    images = re.findall(r'<img class="(?:signature|photo)" src="([^"]+)"', page)
    assert len(images) == 2 and all((page_path.parent / src).resolve().is_file() for src in images)

    # one byte of a photo changed in the store: the chain no longer verifies, naming the photo
    photo = (page_path.parent / images[1]).resolve()
    data = bytearray(photo.read_bytes())
    data[-3] ^= 0x01
    photo.write_bytes(bytes(data))
    with bus.uow:
        check = verify_order_chain(bus.uow, store, delivered[0].id)  # type: ignore[arg-type]
    assert not check["valid"] and any(photo.name in p for p in check["problems"])
