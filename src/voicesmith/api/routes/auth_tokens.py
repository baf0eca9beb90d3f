"""POST /access-token: mint a short-lived token for /tts (Cartesia's API)."""

from __future__ import annotations

from fastapi import Depends

from voicesmith.api.auth import Principal, api_key_principal
from voicesmith.api.routing import SlashRouter
from voicesmith.api.schemas import AccessTokenCreate
from voicesmith.api.versions import api_version
from voicesmith.service import tokens

router = SlashRouter(tags=["auth"], dependencies=[Depends(api_version)])


@router.post("/access-token", summary="Create an access token")
def create_access_token(body: AccessTokenCreate, principal: Principal = Depends(api_key_principal)) -> dict:
    grants = (body.grants.model_dump() if body.grants else {"tts": False, "stt": False, "agent": False})
    token = tokens.issue(principal.org_id, principal.api_key_id, grants, body.expires_in or tokens.DEFAULT_EXPIRES_IN)
    return {"token": token}
