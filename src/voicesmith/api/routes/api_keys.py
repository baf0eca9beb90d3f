"""GET /api-keys and /api-keys/{id}: the organisation's keys, never their secrets (admin key)."""

from __future__ import annotations

from typing import Optional

from fastapi import Depends, Query

from voicesmith.api.auth import Principal, admin_principal
from voicesmith.api.pagination import envelope, make_page_request
from voicesmith.api.routing import SlashRouter
from voicesmith.api.schemas import api_key_json
from voicesmith.api.versions import api_version
from voicesmith.service import keys
from voicesmith.service.pagination import paginate_list

router = SlashRouter(prefix="/api-keys", tags=["api-keys"], dependencies=[Depends(api_version)])


@router.get("", summary="List API keys")
def list_api_keys(
    limit: Optional[int] = Query(None), starting_after: Optional[str] = Query(None),
    ending_before: Optional[str] = Query(None), q: Optional[str] = Query(None),
    principal: Principal = Depends(admin_principal),
) -> dict:
    page = make_page_request(limit, starting_after, ending_before, default=20, cap=True)
    rows = [k for k, _org in keys.list_keys(principal.org_id)]
    if q:
        needle = q.lower()
        rows = [k for k in rows if needle in (k.description or "").lower() or needle in k.id]
    return envelope(paginate_list(rows, page), api_key_json)


@router.get("/{key_id}", summary="Get an API key")
def get_api_key(key_id: str, principal: Principal = Depends(admin_principal)) -> dict:
    return api_key_json(keys.get_key(principal.org_id, key_id))
