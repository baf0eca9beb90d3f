"""GET /: is the API up, and which version does it default to (no authentication, Cartesia's API)."""

from __future__ import annotations

from voicesmith.api.routing import SlashRouter
from voicesmith.api.versions import LATEST

router = SlashRouter(tags=["status"])


@router.get("/", summary="API status")
def status() -> dict:
    return {"ok": True, "version": LATEST}
