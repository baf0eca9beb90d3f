"""Schemathesis against /openapi.json (in process): every documented operation gets generated requests, valid and
invalid, sent with a real admin API key, in every API version's header; none may answer 5xx, and every error is
the structured JSON body (OpenAI's error shape on the OpenAI-compatible /v1/ routes). Bounded (FUZZ_EXAMPLES per operation) to stay well under a minute in the default run."""

from __future__ import annotations

import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from voicesmith.api.app import create_app
from voicesmith.api.versions import KNOWN_VERSIONS

FUZZ_EXAMPLES = 8
FUZZ_ORG = "fuzz"

schema = schemathesis.openapi.from_dict(create_app().openapi())


@pytest.fixture(scope="module")
def fuzz_api(api, data_dir_switch):
    # Hundreds of requests from one key in seconds: the per-key rate limit is not what is under test here.
    with data_dir_switch(api.data_dir, VOICESMITH_RATE_LIMIT_PER_MIN="0"):
        api.key(FUZZ_ORG, admin=True)
        yield api


def _started(app):
    """The app as schemathesis sees it: already started (by the `api` fixture's client), so its lifespan
    messages are acknowledged at once. Schemathesis ends an app's lifespan after each test and starts it again
    at the next request, which would run the start-up (migrations, stock voices: seconds) per operation."""
    async def wrapped(scope, receive, send):
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped


@pytest.fixture(scope="module")
def fuzz_session(fuzz_api):
    """One in-process client for every case."""
    with asgi.get_client(_started(fuzz_api.client.app)) as client:
        yield client


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(fuzz_api, fuzz_session, case):
    # Each generated case in one of the versions, chosen from its content: all versions get exercised.
    version = KNOWN_VERSIONS[zlib.crc32(repr((case.method, case.path_parameters, case.query, case.body)).encode())
                             % len(KNOWN_VERSIONS)]
    headers = {**fuzz_api.h(FUZZ_ORG, admin=True), "Cartesia-Version": str(version)}
    response = case.call(session=fuzz_session, headers=headers)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        body = response.json()
        if case.path.startswith("/v1/"):
            # The OpenAI-compatible routes answer in OpenAI's error shape, which OpenAI's SDKs read.
            assert {"message", "type", "code"} <= set(body.get("error") or {}), body
            message = body["error"]["message"]
        else:
            assert {"error_code", "message", "request_id"} <= set(body), body
            message = body["message"]
        assert str(fuzz_api.data_dir) not in message and "Errno" not in message, body
