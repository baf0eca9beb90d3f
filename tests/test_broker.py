"""The broker module: queues declared once, before worker processes start."""

from __future__ import annotations

import sqlite3


def test_queues_are_declared_before_workers_start_and_declaring_again_is_harmless(tmp_path, data_dir_switch):
    # On a new data directory `serve` declares the queues (creating the SQLite transport's tables) before it
    # starts its two workers, so they never race to create the same tables.
    from voicesmith.broker import ANALYSIS_QUEUE, FINE_TUNE_QUEUE, declare_queues

    with data_dir_switch(tmp_path / "data"):
        declare_queues()
        declare_queues()
    with sqlite3.connect(tmp_path / "data" / "broker.db") as db:
        names = sorted(name for (name,) in db.execute("SELECT name FROM kombu_queue"))
    assert names == sorted([FINE_TUNE_QUEUE, ANALYSIS_QUEUE])
