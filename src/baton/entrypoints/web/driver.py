"""The driver app: an installable Progressive Web App served at ``/driver/``.

Routes (``router``; the application includes it next to the dashboard and tracking pages):

* ``GET /driver/``: the app shell (HTML; the client in ``static/driver/`` does the rest);
* ``GET /driver/manifest.webmanifest``: the Web App Manifest (name, icons, ``start_url``, ``scope``);
* ``GET /driver/sw.js``: the service worker, served from the ``/driver/`` scope so that it controls
  the app. Its cache name carries :data:`ASSET_VERSION` (a hash of every file it pre-caches), so a
  new release replaces the old cache on the next visit.

The client talks only to the JSON API (``/api/v1/auth/token``, ``/api/v1/driver/*``,
``/api/v1/execution/positions``) with a bearer token kept in IndexedDB; see ``docs/driver-app.md``.
Nothing here needs authentication: the shell holds no data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from baton import __version__

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)

#: Files the service worker pre-caches at install (URL paths). The barcode reader's WebAssembly
#: (~1 MB) is cached on first use instead.
PRECACHE: tuple[str, ...] = (
    "/driver/",
    "/driver/manifest.webmanifest",
    "/static/driver/app.css",
    "/static/driver/app.js",
    "/static/driver/store.js",
    "/static/driver/sync.js",
    "/static/driver/api.js",
    "/static/driver/views.js",
    "/static/driver/complete.js",
    "/static/driver/requirements.js",
    "/static/driver/media.js",
    "/static/driver/scanner.js",
    "/static/driver/gps.js",
    "/static/driver/live.js",
    "/static/driver/icon-192.png",
    "/static/driver/icon-512.png",
    "/static/leaflet/leaflet.js",
    "/static/leaflet/leaflet.css",
    "/static/leaflet/images/marker-icon.png",
    "/static/leaflet/images/marker-shadow.png",
    "/static/signature_pad/signature_pad.umd.min.js",
)


def _asset_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in [*sorted(STATIC.glob("driver/*")), HERE / "templates" / "driver" / "app.html"]:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


#: Version of the app's assets (changes whenever a file of the app changes).
ASSET_VERSION = _asset_version()


@router.get("/driver")
def driver_redirect() -> Response:
    return RedirectResponse("/driver/", status_code=308)


@router.get("/driver/", response_class=HTMLResponse)
def driver_app(request: Request) -> Response:
    """The app shell; ``tiles_url`` comes from the same setting as the dashboard's (none: no tiles)."""
    ctx = getattr(request.app.state, "ctx", None)
    tiles_url = getattr(getattr(ctx, "settings", None), "tiles_url", None) or ""
    return templates.TemplateResponse(request, "driver/app.html", {
        "tiles_url": tiles_url, "version": __version__, "asset_version": ASSET_VERSION,
    }, headers={"Cache-Control": "no-cache"})


@router.get("/driver/manifest.webmanifest")
def manifest() -> Response:
    body = {
        "name": "Baton driver", "short_name": "Baton", "description": "Today's route, stops and proof of delivery",
        "id": "/driver/", "start_url": "/driver/", "scope": "/driver/", "display": "standalone",
        "orientation": "portrait", "background_color": "#ffffff", "theme_color": "#0b5cad",
        "icons": [
            {"src": "/static/driver/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": "/static/driver/icon-512.png", "sizes": "512x512", "type": "image/png",
             "purpose": "any maskable"},
        ],
    }
    return Response(json.dumps(body), media_type="application/manifest+json")


@router.get("/driver/sw.js")
def service_worker() -> Response:
    """The service worker script with its cache version and pre-cache list filled in."""
    source = (STATIC / "driver" / "sw.js").read_text(encoding="utf-8")
    source = source.replace("__ASSET_VERSION__", ASSET_VERSION).replace("__PRECACHE__", json.dumps(list(PRECACHE)))
    return Response(source, media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/driver/"})
