"""The web studio: static files under /studio/, served as they are (no build step).

The studio is a plain client of the public API, so these routes need no key: the page asks the
user for one and sends it with every API call. Only known file types inside web/ are served.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

WEB_ROOT = (Path(__file__).resolve().parent.parent.parent / "web").resolve()

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}

# Everything the page loads comes from this server; audio plays from blob: URLs made in the page.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


def _file_response(relative: str) -> FileResponse:
    path = (WEB_ROOT / relative).resolve()
    content_type = CONTENT_TYPES.get(path.suffix)
    # is_relative_to stops "../" escapes; hidden files and unknown types are simply not there.
    if (
        content_type is None
        or not path.is_relative_to(WEB_ROOT)
        or any(part.startswith(".") for part in path.relative_to(WEB_ROOT).parts)
        or not path.is_file()
    ):
        raise HTTPException(status_code=404, detail=f"There is no studio file named '{relative}'.")
    # no-cache: browsers revalidate, so an upgraded server never runs a stale mix of old and new modules.
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=content_type, headers=headers)


@router.get("/studio")
def studio_redirect() -> RedirectResponse:
    # Relative module imports in the page need the trailing slash.
    return RedirectResponse("/studio/", status_code=307)


@router.get("/studio/")
def studio_index() -> FileResponse:
    return _file_response("index.html")


@router.get("/studio/{relative:path}")
def studio_file(relative: str) -> FileResponse:
    return _file_response(relative)
