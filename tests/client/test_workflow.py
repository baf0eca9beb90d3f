"""client/workflow.py: the parts of the clone workflow that need no server (the ETA clock, Ctrl-C while watching)."""

from __future__ import annotations

import io
import os
import signal
import time

import pytest
from rich.console import Console

from voicesmith.client import workflow
from voicesmith.client.models import FineTune
from voicesmith.client.workflow import CancelledByUser, EtaClock, watch_fine_tune


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


class SlowServer:
    """Answers polls slowly; Ctrl-C is pressed (SIGINT to this process) in the middle of poll `ctrl_c_at`."""

    def __init__(self, ctrl_c_at: int, presses: int = 1) -> None:
        self.ctrl_c_at, self.presses = ctrl_c_at, presses
        self.polls_finished = 0
        self.deleted: list[str] = []

    def get_fine_tune(self, fine_tune_id: str) -> FineTune:
        if self.polls_finished == self.ctrl_c_at:
            for _ in range(self.presses):
                os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the request in flight
        self.polls_finished += 1
        return FineTune(id=fine_tune_id, name="n", description="", language="en", model_id="m", dataset="d",
                        status="training", stage="adapt", progress=0.1 * self.polls_finished)

    def delete_fine_tune(self, fine_tune_id: str) -> None:
        self.deleted.append(fine_tune_id)


@pytest.fixture
def quick_polls(monkeypatch):
    monkeypatch.setattr(workflow, "POLL_SECONDS", 0.01)


def test_ctrl_c_mid_poll_lets_the_poll_finish_then_asks_and_cancels(quick_polls, monkeypatch) -> None:
    server = SlowServer(ctrl_c_at=2)
    monkeypatch.setattr("sys.stdin", io.StringIO("c\n"))
    before = signal.getsignal(signal.SIGINT)
    console = Console(file=io.StringIO(), force_terminal=False)
    with pytest.raises(CancelledByUser):
        watch_fine_tune(server, "fine_tune_x", console)  # type: ignore[arg-type]
    assert server.polls_finished == 3, "the poll that Ctrl-C hit ran to its end, and no poll followed"
    assert server.deleted == ["fine_tune_x"]
    assert "still running" in console.file.getvalue()
    assert signal.getsignal(signal.SIGINT) is before, "Ctrl-C's own handler is back after watching"


def test_a_second_ctrl_c_interrupts_at_once(quick_polls, monkeypatch) -> None:
    server = SlowServer(ctrl_c_at=1, presses=2)
    with pytest.raises(KeyboardInterrupt):
        watch_fine_tune(server, "fine_tune_x", Console(file=io.StringIO()))  # type: ignore[arg-type]
    assert server.polls_finished == 1 and server.deleted == []


def test_resume_goes_back_to_watching_and_detach_leaves_it_training(quick_polls, monkeypatch) -> None:
    server = SlowServer(ctrl_c_at=1)
    monkeypatch.setattr("sys.stdin", io.StringIO("r\n"))
    original = server.get_fine_tune

    def second_press_then_detach(fine_tune_id: str) -> FineTune:
        if server.polls_finished == 4:
            monkeypatch.setattr("sys.stdin", io.StringIO("d\n"))
            os.kill(os.getpid(), signal.SIGINT)
        return original(fine_tune_id)

    server.get_fine_tune = second_press_then_detach  # type: ignore[method-assign]
    with pytest.raises(workflow.Detached):
        watch_fine_tune(server, "fine_tune_x", Console(file=io.StringIO()))  # type: ignore[arg-type]
    assert server.polls_finished == 5 and server.deleted == []
