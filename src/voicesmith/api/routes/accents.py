"""GET /accents: the accents this server speaks and can localize voices to (Cartesia 2026-08-14 catalog ids)."""

from __future__ import annotations

from fastapi import Depends

from voicesmith.api.auth import Principal, api_key_principal
from voicesmith.api.routing import SlashRouter
from voicesmith.api.versions import api_version
from voicesmith.service import localization

router = SlashRouter(prefix="/accents", tags=["voices"], dependencies=[Depends(api_version)])


@router.get("", summary="The accent catalog (the accents this engine speaks)")
def list_accents(principal: Principal = Depends(api_key_principal)) -> dict:
    return {"accents": [{"id": a.id, "name": a.name, "language": a.language, "locale": a.locale,
                         "is_locale_default": True, "is_localizable": True} for a in localization.accents()]}
