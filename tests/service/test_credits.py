"""Credits: reserve at fine-tune creation, release on delete, never overspend under concurrency."""

from __future__ import annotations

import threading

import pytest
from tests.wav_support import wav_bytes

from voicesmith.service.errors import InsufficientCredits, NotFound

COST = 1_000_000  # default fine-tune cost; store_env gives every org 3,000,000 credits


def _free(org: str) -> int:
    from voicesmith.service.orgs import available_credits
    from voicesmith.store.db import session_scope

    with session_scope() as s:
        return available_credits(s, org)


def _dataset(org: str) -> str:
    from voicesmith.service import datasets

    ds = datasets.create(org, "d", "")
    up = datasets.begin_upload(org, ds.id)
    up.writer.write(wav_bytes())
    datasets.finish_upload(up, "a.wav", None, None)
    return ds.id


def _create(org: str, ds: str):
    from voicesmith.service import fine_tunes

    return fine_tunes.create(org, name="ft", description="", language="en", model_id="sonic-2", dataset_id=ds)


def test_reserve_and_release(org, dispatched):
    from voicesmith.service import fine_tunes
    from voicesmith.service.orgs import release_credits, reserve_credits
    from voicesmith.store.db import session_scope

    ds = _dataset(org)
    ft = _create(org, ds)
    assert ft.credits_reserved == COST and _free(org) == 2 * COST
    assert ("enqueue_fine_tune", ft.id) in dispatched
    fine_tunes.delete(org, ft.id)
    assert _free(org) == 3 * COST
    with pytest.raises(NotFound):  # deleting twice is a 404, and does not release twice
        fine_tunes.delete(org, ft.id)
    assert _free(org) == 3 * COST

    with session_scope() as s:
        reserve_credits(s, org, 100)
    assert _free(org) == 3 * COST - 100
    with session_scope() as s:
        release_credits(s, org, 100)
    assert _free(org) == 3 * COST


def test_insufficient_credits(org):
    ds = _dataset(org)
    for _ in range(3):
        _create(org, ds)
    with pytest.raises(InsufficientCredits) as err:
        _create(org, ds)
    assert err.value.status == 402 and "1,000,000" in err.value.message
    assert _free(org) == 0


def test_concurrent_creates_never_overspend(org):
    ds = _dataset(org)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            _create(org, ds)
            result = "ok"
        except InsufficientCredits:
            result = "402"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["402"] * 5 + ["ok"] * 3
    assert _free(org) == 0


def test_tts_charges_and_records_usage(org):
    from voicesmith.service import usage

    assert usage.charge_tts(org, None, 100, "stock") == 100
    assert usage.charge_tts(org, None, 3, "fine_tune") == 5  # 1.5 credits per character, rounded up
    assert _free(org) == 3 * COST - 105
    buckets = usage.credits_report(org, start_ts=None, end_ts=None, interval=None)
    assert [b.credits for b in buckets] == [105]
    with pytest.raises(InsufficientCredits):
        usage.charge_tts(org, None, 10 * COST, "stock")
    assert _free(org) == 3 * COST - 105
