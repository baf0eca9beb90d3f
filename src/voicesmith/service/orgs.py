"""Organisations and their credit balance.

Credits move in three steps: a fine-tune *reserves* its cost when created (so two fine-tunes cannot
spend the same credits), is *charged* when it completes (service/training.py), and the reservation
is *released* when it fails or is deleted. Each step is one conditional UPDATE, so concurrent requests and worker
processes cannot race each other into a negative balance.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from voicesmith.config import get_settings
from voicesmith.service.errors import InsufficientCredits, InvalidRequest
from voicesmith.service.ids import new_id
from voicesmith.store.models import FineTune, Organization


def fine_tune_price() -> int:
    """Credits a fine-tune reserves when created and is charged if it completes (the same for every fine-tune)."""
    return get_settings().fine_tune_cost


def get_or_create_org(session: Session, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        org = Organization(id=new_id("org"), name=name, credits_balance=get_settings().initial_credits,
                           credits_reserved=0)
        session.add(org)
        session.flush()
    return org


def add_credits(session: Session, name: str, amount: int) -> Organization:
    """Top up (or, with a negative amount, take back) an organisation's credits; the server operator's tool.
    The balance never goes below what running fine-tunes have reserved."""
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise InvalidRequest(f"no organisation named {name!r}", error_code="organization_not_found")
    result = session.execute(
        update(Organization)
        .where(Organization.id == org.id, Organization.credits_balance + amount >= Organization.credits_reserved)
        .values(credits_balance=Organization.credits_balance + amount)
    )
    if result.rowcount != 1:
        raise InvalidRequest(f"{name} has {org.credits_balance:,} credits with {org.credits_reserved:,} reserved: "
                             f"taking {-amount:,} would leave less than the reservation", error_code="credits_reserved")
    session.refresh(org)
    return org


def available_credits(session: Session, org_id: str) -> int:
    org = session.get(Organization, org_id, populate_existing=True)
    return 0 if org is None else org.credits_balance - org.credits_reserved


def reserve_credits(session: Session, org_id: str, amount: int, what: str = "this fine-tune") -> None:
    """Hold `amount` credits; raises InsufficientCredits (402) when the free balance is short."""
    if amount <= 0:
        return
    result = session.execute(
        update(Organization)
        .where(Organization.id == org_id, Organization.credits_balance - Organization.credits_reserved >= amount)
        .values(credits_reserved=Organization.credits_reserved + amount)
    )
    if result.rowcount != 1:
        free = available_credits(session, org_id)
        raise InsufficientCredits(
            f"{what} needs {amount:,} credits but your organisation has {max(free, 0):,} available. "
            "Add credits or delete a running fine-tune to release its reservation."
        )


def release_credits(session: Session, org_id: str, amount: int) -> None:
    """Give back a reservation (fine-tune failed or deleted)."""
    if amount <= 0:
        return
    session.execute(
        update(Organization)
        .where(Organization.id == org_id)
        .values(credits_reserved=Organization.credits_reserved - amount)
    )


def release_fine_tune_reservation(session: Session, fine_tune_id: str) -> int:
    """Give a fine-tune's reservation back to its organisation, at most once; returns the amount.

    Call it after a write to the fine-tune's row in the same transaction (that write locks the row on
    PostgreSQL, the database on SQLite), so a worker settling the same fine-tune cannot interleave;
    the conditional UPDATE makes a second release a no-op either way.
    """
    org_id, amount = session.execute(
        select(FineTune.org_id, FineTune.credits_reserved).where(FineTune.id == fine_tune_id)
    ).one()
    if not amount:
        return 0
    moved = session.execute(
        update(FineTune).where(FineTune.id == fine_tune_id, FineTune.credits_reserved == amount)
        .values(credits_reserved=0).execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return 0
    release_credits(session, org_id, int(amount))
    return int(amount)


def charge_fine_tune_reservation(session: Session, fine_tune_id: str) -> int:
    """Turn a completing fine-tune's reservation into its charge; returns the amount charged.

    Same guard as release_fine_tune_reservation: call it after the write that completes the fine-tune's
    row in the same transaction; the conditional UPDATE makes a second settlement a no-op.
    """
    org_id, amount = session.execute(
        select(FineTune.org_id, FineTune.credits_reserved).where(FineTune.id == fine_tune_id)
    ).one()
    moved = session.execute(
        update(FineTune).where(FineTune.id == fine_tune_id, FineTune.credits_reserved == amount)
        .values(credits_reserved=0, credits_charged=amount).execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1 or not amount:
        return 0
    session.execute(
        update(Organization)
        .where(Organization.id == org_id)
        .values(credits_balance=Organization.credits_balance - amount,
                credits_reserved=Organization.credits_reserved - amount)
        .execution_options(synchronize_session=False)
    )
    return int(amount)


def charge(session: Session, org_id: str, amount: int, what: str) -> None:
    """Spend credits directly (TTS); raises InsufficientCredits when the free balance is short."""
    if amount <= 0:
        return
    result = session.execute(
        update(Organization)
        .where(Organization.id == org_id, Organization.credits_balance - Organization.credits_reserved >= amount)
        .values(credits_balance=Organization.credits_balance - amount)
    )
    if result.rowcount != 1:
        free = available_credits(session, org_id)
        raise InsufficientCredits(f"{what} needs {amount:,} credits but your organisation has {max(free, 0):,} available.")
