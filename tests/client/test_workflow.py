"""client/workflow.py: the parts of the clone workflow that need no server (the ETA clock)."""

from __future__ import annotations

from voicesmith.client.workflow import EtaClock


def test_the_eta_runs_down_between_the_servers_revisions() -> None:
    clock = EtaClock()
    assert clock.remaining(0.0) is None
    clock.update(120.0, 0.3, now=100.0)
    assert clock.remaining(100.0) == 120.0
    clock.update(120.0, 0.3, now=130.0)  # the same report polled again: the clock keeps running
    assert clock.remaining(130.0) == 90.0
    assert clock.remaining(400.0) == 0.0  # never below zero while the server is late
    clock.update(200.0, 0.35, now=140.0)  # a revision replaces it, even upwards (the stage turned out longer)
    assert clock.remaining(150.0) == 190.0
    clock.update(None, 0.35, now=160.0)
    assert clock.remaining(160.0) is None
