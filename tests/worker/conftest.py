"""Fixtures for the worker tests (helpers in jobs_support.py; `jobs_env` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.worker.jobs_support import JobsEnv, make_jobs_env


@pytest.fixture(scope="module")
def shared_jobs_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobsEnv]:
    """One data dir and one running worker (two jobs at once) for a whole test module."""
    with make_jobs_env(tmp_path_factory.mktemp("jobs")) as env:
        env.start_worker(concurrency=2)
        yield env
