"""The web dashboards: a few HTML pages and their static files, all served from this package.

Pages carry the dashboards' strict Content Security Policy; the static files are a fixed set read
at start-up, so a request can only ever name one of them (no path is joined from user input).
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.http import DASHBOARD_CSP

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Path -> page file. The page's script decides what the viewer sees; the server only serves.
PAGES = {
    "/": "home.html",
    "/login": "login.html",
    "/set-password": "set-password.html",
    "/classroom": "classroom.html",
    "/alerts": "alerts.html",
    "/admin": "admin.html",
}
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets(folder: Path = STATIC_DIR) -> dict[str, Asset]:
    """Every file of the folder, by name, with its type and a content hash for revalidation."""
    assets = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        content_type = TYPES.get(path.suffix) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        assets[path.name] = Asset(
            body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        )
    return assets


def _serve(request: Request, asset: Asset, headers: dict[str, str]) -> Response:
    # Revalidated on every use (ETag), so a deployment is picked up at once, without no-store.
    headers = {"cache-control": "no-cache", "etag": asset.etag, **headers}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def dashboard_routes(folder: Path = STATIC_DIR) -> list[BaseRoute]:
    """The pages at their paths and the files under ``/static/``."""
    assets = load_assets(folder)

    def page(name: str) -> Route:
        asset = assets[PAGES[name]]

        async def endpoint(request: Request) -> Response:
            # Pages are never cached: they are tiny and must follow a logout at once.
            response = _serve(request, asset, {"content-security-policy": DASHBOARD_CSP})
            response.headers["cache-control"] = "no-store"
            return response

        return Route(name, endpoint, methods=["GET", "HEAD"], name=f"page:{PAGES[name]}")

    async def static(request: Request) -> Response:
        asset = assets.get(request.path_params["name"])
        if asset is None or asset.content_type.startswith("text/html"):
            return Response("Not found.", status_code=404, media_type="text/plain")
        return _serve(request, asset, {})

    return [
        *(page(path) for path in PAGES),
        Route("/static/{name}", static, methods=["GET", "HEAD"]),
    ]


__all__ = ["PAGES", "STATIC_DIR", "Asset", "dashboard_routes", "load_assets"]
