"""Every service-layer module imports on its own in a fresh interpreter, whatever imports it first
(the live handlers and the handler registry used to form an import cycle: importing
``live_improve``, ``live_rescue``, ``live_waves`` or ``live_handlers`` before ``handlers`` failed)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import baton.service_layer

MODULES = sorted(m.name for m in pkgutil.iter_modules(baton.service_layer.__path__))


def test_the_live_modules_are_listed() -> None:
    assert {"live_handlers", "live_improve", "live_publish", "live_rescue", "live_waves"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_first(name: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import baton.service_layer.{name}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
