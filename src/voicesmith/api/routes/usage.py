"""GET /usage/credits: credits used per time bucket (admin key, Cartesia's API); GET /usage/balance: the
organisation's credit balance (voicesmith extension, any API key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from fastapi import Depends, Query

from voicesmith.api.auth import Principal, admin_principal, api_key_principal
from voicesmith.api.routing import SlashRouter
from voicesmith.api.schemas import iso
from voicesmith.api.versions import api_version
from voicesmith.service import usage

router = SlashRouter(prefix="/usage", tags=["usage"], dependencies=[Depends(api_version)])


@router.get("/credits", summary="Credits used over time")
def credits(
    start_ts: Optional[datetime] = Query(None, description="RFC 3339; rounded down to the UTC day."),
    end_ts: Optional[datetime] = Query(None, description="RFC 3339; rounded up to the next UTC day."),
    interval: Optional[str] = Query(None, description="day, week or month; one bucket when left out."),
    api_key_id: Optional[str] = Query(None),
    principal: Principal = Depends(admin_principal),
) -> dict:
    buckets = usage.credits_report(principal.org_id, start_ts=start_ts, end_ts=end_ts, interval=interval,
                                   api_key_id=api_key_id)
    return {"data": [{"start_ts": iso(b.start_ts), "end_ts": iso(b.end_ts), "credits": b.credits} for b in buckets]}


@router.get("/balance", summary="Credit balance and the price of a fine-tune (voicesmith)")
def balance(principal: Principal = Depends(api_key_principal)) -> dict:
    # Any key, not only admin ones: whoever may start a fine-tune needs to know whether it can be paid for.
    b = usage.balance(principal.org_id)
    return {"balance": b.balance, "reserved": b.reserved, "available": b.available, "fine_tune_cost": b.fine_tune_cost}
