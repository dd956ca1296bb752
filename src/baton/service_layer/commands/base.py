"""The base of every command: when it was asked and by whom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class Command:
    at: datetime
    actor: str = "system:baton"
