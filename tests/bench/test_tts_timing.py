"""bench/tts_timing.py: the bench's figures from synthetic timings whose answer is known by hand."""

import pytest

from bench.tts_timing import percentile_ms, rtf, stream_stall

RATE = 1000  # samples per second: 500 samples are half a second of audio


def test_percentiles_interpolate_between_runs_in_milliseconds():
    runs = [0.1 * k for k in range(1, 11)]  # 100 ms .. 1000 ms
    assert percentile_ms(runs, 50) == 550
    assert percentile_ms(runs, 90) == 910
    assert percentile_ms([0.25], 90) == 250


def test_rtf_is_wall_time_per_audio_second():
    assert rtf(2.0, 8 * RATE, RATE) == pytest.approx(0.25)
    assert rtf(3.0, 2 * RATE, RATE) == pytest.approx(1.5)


def test_a_stream_that_keeps_ahead_of_playback_never_stalls():
    # each half-second chunk arrives 0.1 s after the previous one: always ahead of the player
    arrivals = [(10 + 0.1 * k, RATE // 2) for k in range(6)]
    assert stream_stall(arrivals, RATE) == 0.0


def test_the_first_chunk_starts_the_clock_however_late_it_is():
    assert stream_stall([(100.0, RATE), (100.9, RATE)], RATE) == 0.0
    assert stream_stall([], RATE) == 0.0


def test_a_late_chunk_pauses_playback_once_and_later_chunks_follow_the_paused_clock():
    # 1 s of audio at t=0 (played until 1.0); the next second arrives at 1.5 (0.5 s silence, played until 2.5);
    # half a second arrives at 2.4 (in time: played until 3.0); the last at 3.5 (0.5 s silence)
    arrivals = [(0.0, RATE), (1.5, RATE), (2.4, RATE // 2), (3.5, RATE)]
    assert stream_stall(arrivals, RATE) == pytest.approx(1.0)


def test_the_stall_is_the_largest_lateness_against_a_clock_that_never_pauses():
    arrivals = [(0.0, 300), (0.5, 200), (0.55, 700), (2.1, 100), (2.15, 400), (3.0, 100)]
    due, played = [], 0
    for _, samples in arrivals:
        due.append(arrivals[0][0] + played / RATE)
        played += samples
    largest = max(arrived - when for (arrived, _), when in zip(arrivals, due, strict=True))
    assert stream_stall(arrivals, RATE) == pytest.approx(largest)
    assert largest < sum(max(0.0, arrived - when) for (arrived, _), when in zip(arrivals, due, strict=True))
