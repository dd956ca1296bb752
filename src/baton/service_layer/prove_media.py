"""Media registration handlers of proof of delivery (photos, signatures already in the object store)."""

from __future__ import annotations

from typing import Any

from baton.service_layer.commands import RegisterMedia, RegisterMediaMany
from baton.service_layer.prove_claims import records
from baton.service_layer.unit_of_work import AbstractUnitOfWork


def register_media(cmd: RegisterMedia, uow: AbstractUnitOfWork, deps: Any) -> bool:
    """Record uploaded media once; ``False`` when it was already known."""
    with uow:
        rec = records(uow)
        if rec.media(cmd.sha256) is not None:
            return False
        rec.add_media(cmd.sha256, cmd.size, cmd.content_type, cmd.actor, cmd.at)
        uow.commit()
    return True


def register_media_many(cmd: RegisterMediaMany, uow: AbstractUnitOfWork, deps: Any) -> int:
    """Record every media of ``cmd.items`` not yet known, in one transaction; returns how many were new."""
    with uow:
        rec = records(uow)
        known = rec.known_media([sha for sha, _, _ in cmd.items])
        new = 0
        for sha, size, content_type in cmd.items:
            if sha not in known:
                rec.add_media(sha, size, content_type, cmd.actor, cmd.at)
                known.add(sha)
                new += 1
        uow.commit()
    return new
