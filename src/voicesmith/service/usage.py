"""Usage events, credit reports (GET /usage/credits) and the credit balance (GET /usage/balance)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from voicesmith.service.errors import InvalidRequest
from voicesmith.service.orgs import charge, fine_tune_price
from voicesmith.store.db import session_scope
from voicesmith.store.models import Organization, UsageEvent

# Credits per character of speech, by the kind of voice (Cartesia: 1 for stock and instant clones,
# 1.5 for pro voice clones).
TTS_CREDITS_PER_CHAR = {"stock": 1.0, "clone": 1.0, "localized": 1.0, "fine_tune": 1.5}
INTERVALS = ("day", "week", "month")
MAX_WINDOW = timedelta(days=366)
DEFAULT_WINDOW = timedelta(days=7)


def record(session: Session, *, org_id: str, kind: str, quantity: int, credits: int,
           api_key_id: str | None = None, ref_id: str | None = None) -> None:
    session.add(UsageEvent(org_id=org_id, api_key_id=api_key_id, kind=kind, quantity=quantity, credits=credits,
                           ref_id=ref_id))


def charge_tts(org_id: str, api_key_id: str | None, characters: int, voice_kind: str = "stock",
               voice_id: str | None = None) -> int:
    """Spend credits for synthesized characters and record them; raises InsufficientCredits (402)."""
    credits = math.ceil(characters * TTS_CREDITS_PER_CHAR.get(voice_kind, 1.0))
    with session_scope() as session:
        charge(session, org_id, credits, what=f"Synthesizing {characters:,} characters")
        record(session, org_id=org_id, kind="tts", quantity=characters, credits=credits, api_key_id=api_key_id,
               ref_id=voice_id)
    return credits


@dataclass(frozen=True)
class Balance:
    """An organisation's credits, and what a fine-tune costs on this server (to decide before starting one)."""

    balance: int
    reserved: int  # held by fine-tunes still running, until they complete (charged) or end otherwise (released)
    fine_tune_cost: int

    @property
    def available(self) -> int:
        return max(self.balance - self.reserved, 0)


def balance(org_id: str) -> Balance:
    with session_scope() as session:
        org = session.get(Organization, org_id)
        return Balance(balance=org.credits_balance, reserved=org.credits_reserved, fine_tune_cost=fine_tune_price())


@dataclass(frozen=True)
class Bucket:
    start_ts: datetime
    end_ts: datetime
    credits: int


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _floor_day(dt: datetime) -> datetime:
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil_day(dt: datetime) -> datetime:
    floor = _floor_day(dt)
    return floor if floor == dt else floor + timedelta(days=1)


def _next_boundary(dt: datetime, interval: str) -> datetime:
    if interval == "day":
        return dt + timedelta(days=1)
    if interval == "week":
        return dt + timedelta(days=7)
    year, month = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
    return dt.replace(year=year, month=month, day=1)


def credits_report(org_id: str, *, start_ts: datetime | None, end_ts: datetime | None, interval: str | None,
                   api_key_id: str | None = None) -> list[Bucket]:
    """Credits used per bucket, oldest first, empty buckets as 0; one bucket when no interval."""
    end = _ceil_day(_utc(end_ts or datetime.now(timezone.utc)))
    start = _floor_day(_utc(start_ts)) if start_ts else end - DEFAULT_WINDOW
    if start >= end:
        raise InvalidRequest("start_ts must be before end_ts.", error_code="invalid_time_range")
    if end - start > MAX_WINDOW:
        raise InvalidRequest("The time window may not exceed one year.", error_code="invalid_time_range")
    if interval is not None and interval not in INTERVALS:
        raise InvalidRequest(f"interval must be one of {', '.join(INTERVALS)}.", error_code="invalid_interval")

    edges = [start]
    if interval is None:
        edges.append(end)
    else:
        while edges[-1] < end:
            edges.append(min(_next_boundary(edges[-1], interval), end))
    totals = [0] * (len(edges) - 1)
    with session_scope() as session:
        stmt = select(UsageEvent.created_at, UsageEvent.credits).where(
            UsageEvent.org_id == org_id, UsageEvent.created_at >= start, UsageEvent.created_at < end)
        if api_key_id:
            stmt = stmt.where(UsageEvent.api_key_id == api_key_id)
        for created_at, credits in session.execute(stmt):
            at = _utc(created_at)
            for i in range(len(totals)):
                if edges[i] <= at < edges[i + 1]:
                    totals[i] += int(credits)
                    break
    return [Bucket(edges[i], edges[i + 1], totals[i]) for i in range(len(totals))]
