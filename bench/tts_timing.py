"""The figures bench/bench_tts.py computes from raw timings, kept free of I/O so tests can check them.

Imported as `tts_timing` by the bench script (run as `python bench/bench_tts.py`, so this folder is on the path)
and as `bench.tts_timing` by tests/bench/.
"""

from __future__ import annotations

import numpy as np


def percentile_ms(seconds: list[float], q: float) -> int:
    """The q-th percentile (numpy's linear interpolation) of durations in seconds, in whole milliseconds."""
    return round(1000 * float(np.percentile(np.asarray(seconds), q)))


def rtf(wall_s: float, audio_samples: int, sample_rate: int) -> float:
    """Real-time factor: wall seconds spent per second of audio made (below 1: faster than real time)."""
    return wall_s / (audio_samples / sample_rate)


def stream_stall(arrivals: list[tuple[float, int]], sample_rate: int) -> float:
    """Seconds a player would sit silent after the first audio of a stream, waiting for late chunks.

    `arrivals` are (clock time, samples) of each audio chunk in order. Playback starts when the first chunk
    arrives; a chunk is late when it arrives after the player has played everything before it, and the player
    then waits for it (pausing the playback clock) before going on. The stall is the sum of those waits.

    This equals the largest lateness of any chunk against a clock that never pauses (first arrival + audio
    before it / rate), not the sum of those latenesses: one late chunk would otherwise be counted again for
    every chunk after it.
    """
    if not arrivals:
        return 0.0
    playing_until = arrivals[0][0]  # when the audio received so far will have been played
    stall = 0.0
    for arrived, samples in arrivals:
        if arrived > playing_until:
            stall += arrived - playing_until
            playing_until = arrived
        playing_until += samples / sample_rate
    return stall
