"""The driver app's shell as served (no browser): page, manifest, service worker, pre-cached assets,
vendored libraries with their licences."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from baton.entrypoints.web import driver
from test_api_support import make_app

STATIC = Path(driver.__file__).resolve().parent / "static"


def test_shell_manifest_service_worker_and_precache(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'baton.sqlite'}", tiles_url="https://tiles.example/{z}/{x}/{y}.png")
    client = TestClient(app)
    r = client.get("/driver", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/driver/"
    page = client.get("/driver/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    assert '<link rel="manifest" href="/driver/manifest.webmanifest">' in page.text
    assert 'content="https://tiles.example/{z}/{x}/{y}.png"' in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text.replace("https://tiles.example", "")

    manifest = client.get("/driver/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["start_url"] == "/driver/" and body["scope"] == "/driver/" and body["display"] == "standalone"
    for icon in body["icons"]:
        png = client.get(icon["src"])
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        width = int.from_bytes(png.content[16:20], "big")
        assert f"{width}x{width}" == icon["sizes"]

    sw = client.get("/driver/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["service-worker-allowed"] == "/driver/"
    assert "__ASSET_VERSION__" not in sw.text and "baton-driver-shell-${VERSION}" in sw.text
    assert f'const VERSION = "{driver.ASSET_VERSION}"' in sw.text
    match = re.search(r"const PRECACHE = (\[.*?\]);", sw.text)
    assert match is not None
    precache = json.loads(match.group(1))
    assert precache == list(driver.PRECACHE)
    for path in precache:  # cache.addAll fails the install when any of these is missing
        assert client.get(path).status_code == 200, path
    # every module the app imports is pre-cached (else the app would not start offline)
    served = {p.removeprefix("/static/driver/") for p in precache if p.startswith("/static/driver/")}
    for module in (STATIC / "driver").glob("*.js"):
        if module.name != "sw.js":
            assert module.name in served, module.name
            for imported in re.findall(r'from "\./([\w.]+)"', module.read_text()):
                assert imported in served, (module.name, imported)
    wasm = client.get("/static/zxing-wasm/zxing_reader.wasm")
    assert wasm.status_code == 200 and wasm.content.startswith(b"\x00asm")


def test_vendored_libraries_have_licences_and_readme_rows() -> None:
    readme = (STATIC / "README.md").read_text()
    for folder, row in (("signature_pad", "signature_pad@5.1.4"), ("zxing-wasm", "zxing-wasm@3.1.4")):
        assert (STATIC / folder / "LICENSE").read_text().strip(), folder
        assert row in readme, row
    assert "Signature Pad v5.1.4" in (STATIC / "signature_pad" / "signature_pad.umd.min.js").read_text()[:200]
