"""Store tests: a real S3-compatible server (moto's, started once per session) for the S3 blob store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.s3_support import S3Server, running_s3_server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server
