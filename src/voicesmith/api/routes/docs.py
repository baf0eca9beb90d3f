"""`/docs`: the interactive API reference (Swagger UI), served from this server.

FastAPI's default page loads Swagger UI from a CDN, which is a blank page on an offline server; the
assets come from the `swagger-ui-bundle` package instead.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS = Path(str(swagger_ui_bundle.swagger_ui_path))
_SERVED = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="voicesmith API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/studio/favicon.svg",
    )


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> FileResponse:
    if name not in _SERVED:
        raise HTTPException(status_code=404, detail=f"There is no docs asset named '{name}'.")
    return FileResponse(ASSETS / name, media_type=_SERVED[name], headers={"Cache-Control": "max-age=86400"})
