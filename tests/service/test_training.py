"""service/training.py in-process: claims, fencing, the sweep's decisions, completion and credits.

No worker here; time is moved by passing `now` to the sweep or by back-dating rows.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import numpy as np
import pytest
from tests.worker.jobs_support import COST, HEARTBEAT_TIMEOUT_S, JobsEnv

from voicesmith.engine.voice import VoiceArtifact
from voicesmith.service import training
from voicesmith.store.blobs import get_blob_store
from voicesmith.store.db import session_scope
from voicesmith.store.models import UsageEvent, Voice


@pytest.fixture()
def jobs(jobs_env: JobsEnv) -> JobsEnv:
    """A private database and broker; no worker runs here."""
    return jobs_env


def _voices() -> list[training.NewVoice]:
    rng = np.random.default_rng(0)
    return [
        training.NewVoice(f"voice {i}", f"variant {i}", VoiceArtifact(rng.normal(size=(510, 256)).astype(np.float32)),
                          preview_wav=b"RIFF-preview" if i == 0 else None)
        for i in range(4)
    ]


def _later(seconds: float):  # noqa: ANN202
    return training.utcnow() + timedelta(seconds=seconds)


def test_claim_is_exclusive_until_the_heartbeat_goes_stale(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune()
    first = training.claim(ft_id, training.new_worker_id("a"))
    assert first is not None and first.attempt == 1
    assert training.claim(ft_id, training.new_worker_id("b")) is None  # heartbeat fresh

    jobs.update_fine_tune(ft_id, heartbeat_at=_later(-HEARTBEAT_TIMEOUT_S - 1))
    second = training.claim(ft_id, training.new_worker_id("b"))
    assert second is not None and second.attempt == 2
    # The first worker is fenced off: its heartbeat, progress and completion no longer apply.
    assert training.heartbeat(ft_id, first.worker_id).should_stop
    assert not training.record_progress(ft_id, first.worker_id, stage="adapt", progress=0.9, eta_seconds=1)
    assert not training.complete(ft_id, first.worker_id, _voices(), {})
    assert jobs.fine_tune(ft_id)["status"] == "training"
    assert training.heartbeat(ft_id, second.worker_id) == training.Pulse(owned=True, stop_requested=False)


def test_cancel_is_seen_by_the_heartbeat(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune()
    claim = training.claim(ft_id, training.new_worker_id("a"))
    jobs.update_fine_tune(ft_id, cancel_requested=True)
    pulse = training.heartbeat(ft_id, claim.worker_id)
    assert pulse.owned and pulse.should_stop
    assert training.claim(ft_id, training.new_worker_id("b")) is None


def test_complete_stores_voices_and_charges_exactly_once(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune()
    claim = training.claim(ft_id, training.new_worker_id("a"))
    voices = _voices()
    assert training.complete(ft_id, claim.worker_id, voices, {"similarity": 0.8})
    assert not training.complete(ft_id, claim.worker_id, voices, {})  # already completed
    assert not training.fail(ft_id, "late", "too late", worker_id=claim.worker_id)

    row = jobs.fine_tune(ft_id)
    assert (row["status"], row["progress"], row["report"]) == ("completed", 1.0, {"similarity": 0.8})
    assert (row["credits_charged"], row["credits_reserved"]) == (COST, 0)
    assert (row["org_balance"], row["org_reserved"]) == (9 * COST, 0)
    with session_scope() as s:
        stored = s.query(Voice).filter_by(fine_tune_id=ft_id).order_by(Voice.seq).all()
        events = s.query(UsageEvent).filter_by(ref_id=ft_id).all()
    assert [v.name for v in stored] == [v.name for v in voices]
    assert {(v.kind, v.org_id, v.language) for v in stored} == {("fine_tune", claim.org_id, "en")}
    for voice, made in zip(stored, voices):
        loaded = VoiceArtifact.from_bytes(get_blob_store().get_bytes(voice.artifact_key))
        assert np.array_equal(loaded.style, made.artifact.style)
    assert get_blob_store().get_bytes(stored[0].preview_key) == b"RIFF-preview"
    assert [v.preview_key for v in stored[1:]] == [None] * 3
    assert [(e.kind, e.quantity, e.credits) for e in events] == [("fine_tune", 1, COST)]


def test_a_cancel_at_the_last_moment_wins_over_completion(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune()
    claim = training.claim(ft_id, training.new_worker_id("a"))
    jobs.update_fine_tune(ft_id, cancel_requested=True)
    assert not training.complete(ft_id, claim.worker_id, _voices(), {})
    with session_scope() as s:
        assert s.query(Voice).filter_by(fine_tune_id=ft_id).count() == 0
    voices_dir = get_blob_store().root / "voices"
    assert not voices_dir.exists() or not any(voices_dir.iterdir())  # artifacts written, then removed
    assert jobs.fine_tune(ft_id)["credits_charged"] == 0


def test_release_is_idempotent_when_the_api_released_first(jobs: JobsEnv) -> None:
    from voicesmith.service.orgs import release_credits

    ft_id = jobs.create_fine_tune()
    claim = training.claim(ft_id, training.new_worker_id("a"))
    # What DELETE /fine-tunes/{id} does (service.fine_tunes.delete).
    with session_scope() as s:
        release_credits(s, claim.org_id, COST)
    jobs.update_fine_tune(ft_id, deleted=True, cancel_requested=True, credits_reserved=0)
    assert training.fail(ft_id, "cancelled", "cancelled", worker_id=claim.worker_id)
    row = jobs.fine_tune(ft_id)
    assert (row["status"], row["org_reserved"], row["org_balance"]) == ("failed", 0, 10 * COST)


def test_sweep_dispatches_a_forgotten_job_once_and_backs_off(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune()  # created, never dispatched
    assert training.sweep().dispatch == []  # too young: the API's own send may be in flight
    t1 = _later(HEARTBEAT_TIMEOUT_S + 1)
    assert training.sweep(now=t1).dispatch == [ft_id]
    assert training.sweep(now=t1).dispatch == []  # the compare-and-set was taken
    # Waiting longer makes the next re-send wait longer: half the time the job has waited.
    waited = 100.0
    t2 = _later(waited)
    jobs.update_fine_tune(ft_id, dispatched_at=t2 - timedelta(seconds=waited / 2 - 5))
    assert training.sweep(now=t2).dispatch == []
    jobs.update_fine_tune(ft_id, dispatched_at=t2 - timedelta(seconds=waited / 2 + 5))
    assert training.sweep(now=t2).dispatch == [ft_id]


def test_concurrent_sweepers_dispatch_a_job_exactly_once(jobs: JobsEnv) -> None:
    ids = [jobs.create_fine_tune() for _ in range(5)]
    now = _later(HEARTBEAT_TIMEOUT_S + 1)
    results: list[list[str]] = []
    barrier = threading.Barrier(4)

    def sweeper() -> None:
        barrier.wait()
        results.append(training.sweep(now=now).dispatch)

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = [ft for r in results for ft in r]
    assert sorted(sent) == sorted(ids)


def test_sweep_leaves_live_jobs_alone_and_resends_stale_ones(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune()
    claim = training.claim(ft_id, training.new_worker_id("a"))
    assert training.sweep(now=_later(1)).dispatch == []
    stale = _later(HEARTBEAT_TIMEOUT_S + 1)
    assert training.sweep(now=stale).dispatch == [ft_id]
    assert jobs.fine_tune(ft_id)["status"] == "training"  # re-sent, not reset: the next claim resumes it
    assert claim.attempt == 1


def test_sweep_ends_cancelled_and_exhausted_jobs_and_releases_credits(jobs: JobsEnv) -> None:
    cancelled = jobs.create_fine_tune()
    jobs.update_fine_tune(cancelled, cancel_requested=True)
    exhausted = jobs.create_fine_tune()
    training.claim(exhausted, training.new_worker_id("a"))
    jobs.update_fine_tune(exhausted, attempts=3)  # the default max_job_attempts

    result = training.sweep(now=_later(HEARTBEAT_TIMEOUT_S + 1))
    assert sorted(result.failed) == sorted([cancelled, exhausted]) and result.dispatch == []
    row = jobs.fine_tune(cancelled)
    assert (row["status"], row["error_code"], row["org_reserved"]) == ("failed", "cancelled", 0)
    row = jobs.fine_tune(exhausted)
    assert (row["status"], row["error_code"], row["org_reserved"]) == ("failed", "worker_lost", 0)
    assert "3 times" in row["error"]


def test_release_worker_jobs_makes_them_claimable_at_once(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune()
    training.claim(ft_id, training.new_worker_id("fine_tune-1234@host"))
    other = jobs.create_fine_tune()
    training.claim(other, training.new_worker_id("fine_tune-9999@host"))

    assert training.release_worker_jobs("fine_tune-1234@host", refund_attempt=True) == 1
    row = jobs.fine_tune(ft_id)
    assert row["heartbeat_at"] is None and row["attempts"] == 0  # a clean stop costs no attempt
    assert jobs.fine_tune(other)["heartbeat_at"] is not None
    assert training.sweep().dispatch == [ft_id]  # no waiting for the heartbeat timeout
    assert training.claim(ft_id, training.new_worker_id("b")) is not None


def test_held_out_samples_are_stored_with_completion_and_never_without_it(jobs: JobsEnv) -> None:
    samples = [training.HeldOutSample("one two three", b"RIFF-real-0"), training.HeldOutSample("four five six", b"RIFF-real-1")]
    voices = [training.NewVoice(v.name, v.description, v.artifact, v.preview_wav, (b"RIFF-a", b"RIFF-b"))
              for v in _voices()]
    report = {"voices": [{"key": f"k{i}"} for i in range(4)]}
    refused = jobs.create_fine_tune()
    claim = training.claim(refused, training.new_worker_id("a"))
    jobs.update_fine_tune(refused, cancel_requested=True)
    assert not training.complete(refused, claim.worker_id, voices, report, samples)
    assert not get_blob_store().exists(training.sample_key(refused, 0, "real"))

    ft_id = jobs.create_fine_tune()
    claim = training.claim(ft_id, training.new_worker_id("a"))
    assert training.complete(ft_id, claim.worker_id, voices, report, samples)
    stored = jobs.fine_tune(ft_id)["report"]
    with session_scope() as s:
        ids = [v.id for v in s.query(Voice).filter_by(fine_tune_id=ft_id).order_by(Voice.seq)]
    assert [e["voice_id"] for e in stored["voices"]] == ids
    assert stored["samples"] == [{"text": "one two three", "voice_ids": ids}, {"text": "four five six", "voice_ids": ids}]
    store = get_blob_store()
    assert store.get_bytes(training.sample_key(ft_id, 1, "real")) == b"RIFF-real-1"
    assert store.get_bytes(training.sample_key(ft_id, 1, ids[2])) == b"RIFF-b"
