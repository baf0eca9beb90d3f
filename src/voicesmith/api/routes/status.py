"""GET /: is the API up, and which version does it default to (no authentication, Cartesia's API).

A browser (an Accept header that asks for HTML) is sent to the studio instead; API clients, which ask for
JSON or anything, get the status.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from voicesmith.api.routing import SlashRouter
from voicesmith.api.versions import LATEST

router = SlashRouter(tags=["status"])


@router.get("/", summary="API status", response_model=None)
def status(request: Request) -> dict | RedirectResponse:
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/studio/", status_code=307)
    return {"ok": True, "version": LATEST}
