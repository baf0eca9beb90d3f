"""Error bodies, request ids, Cartesia-Version handling, route spelling, OpenAPI."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from voicesmith.api.errors import ApiError, RequestContextMiddleware, install_error_handlers
from voicesmith.api.versions import KNOWN_VERSIONS, LATEST, parse_version

ERROR_KEYS = {"error_code", "title", "message", "request_id"}


@pytest.mark.parametrize("raw,expected", [
    (None, LATEST), ("", LATEST), ("2024-06-10", "2024-06-10"), ("2024-06-11", "2024-06-10"),
    ("2025-04-16", "2025-04-16"), ("2025-10-01", "2025-04-16"), ("2025-11-04", "2025-11-04"),
    ("2026-03-01", "2026-03-01"), ("2026-08-13", "2026-03-01"), ("2026-08-14", "2026-08-14"),
    ("2031-01-01", "2026-08-14"),
])
def test_parse_version_snaps_to_known(raw, expected):
    assert parse_version(raw) == expected
    assert parse_version(raw) in KNOWN_VERSIONS


@pytest.mark.parametrize("raw", ["2024-06-09", "2020-01-01", "latest", "2025-13-01", "2025-02-30", "v1"])
def test_parse_version_rejects(raw):
    with pytest.raises(ApiError) as err:
        parse_version(raw)
    assert err.value.status == 400 and err.value.error_code == "invalid_version"


def test_version_from_header_or_query_query_wins(api):
    vid = api.add_voice("verorg", "V")
    url = f"/voices/{vid}"
    assert "embedding" in api.client.get(url, headers=api.h("verorg", "2024-06-10")).json()
    r = api.client.get(url, params={"cartesia_version": "2024-06-10"}, headers=api.h("verorg", "2026-08-14"))
    assert "embedding" in r.json()
    r = api.client.get("/datasets", headers=api.h("verorg", "yesterday"))
    assert r.status_code == 400 and set(r.json()) == ERROR_KEYS and r.json()["error_code"] == "invalid_version"


def test_every_error_is_structured_with_a_request_id(api):
    cases = [
        api.client.get("/nope", headers=api.h()),                       # unknown route
        api.client.put("/datasets", headers=api.h()),                    # method not allowed
        api.client.get("/datasets"),                                     # 401
        api.client.get("/datasets/dataset_x", headers=api.h()),          # 404
        api.client.post("/datasets", content=b"{", headers={**api.h(), "content-type": "application/json"}),
    ]
    assert [r.status_code for r in cases] == [404, 405, 401, 404, 400]
    for r in cases:
        body = r.json()
        assert set(body) == ERROR_KEYS, body
        assert body["request_id"] == r.headers["x-request-id"]
        assert body["title"] and body["message"] and body["error_code"]


def test_client_request_id_is_echoed(api):
    r = api.client.get("/datasets/dataset_x", headers={**api.h(), "X-Request-ID": "my-trace-12345"})
    assert r.headers["x-request-id"] == "my-trace-12345" and r.json()["request_id"] == "my-trace-12345"


def test_unhandled_exception_is_a_clean_500():
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    r = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert r.status_code == 500
    body = r.json()
    assert set(body) == ERROR_KEYS and body["error_code"] == "internal_error"
    assert "secret" not in r.text and "Traceback" not in r.text
    assert body["request_id"] == r.headers["x-request-id"]


@pytest.mark.parametrize("path", ["/datasets", "/datasets/", "/fine-tunes", "/fine-tunes/", "/voices", "/voices/"])
def test_collections_answer_both_spellings_without_redirect(api, path):
    r = api.client.get(path, headers=api.h(), follow_redirects=False)
    assert r.status_code == 200, (path, r.status_code)


def test_post_with_trailing_slash_is_not_redirected(api):
    r = api.client.post("/fine-tunes/", json={}, headers=api.h(), follow_redirects=False)
    assert r.status_code == 422  # handled by the route itself, not a 307


def test_openapi_and_docs(api):
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/datasets", "/datasets/{dataset_id}/files", "/fine-tunes", "/fine-tunes/{fine_tune_id}/voices",
              "/voices", "/voices/clone", "/voices/localize", "/access-token", "/usage/credits", "/api-keys"):
        assert p in paths, p
    assert "multipart/form-data" in paths["/datasets/{dataset_id}/files"]["post"]["requestBody"]["content"]
    assert api.client.get("/docs").status_code == 200


def test_os_errors_become_507_when_the_disk_is_full_else_a_clean_500():
    import errno

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from voicesmith.api.errors import RequestContextMiddleware, install_error_handlers

    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/full")
    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/secret/data/blobs/x")

    @app.get("/missing")
    def missing() -> None:
        open("/srv/secret/data/nothing-here")  # noqa: SIM115

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/full")
    assert r.status_code == 507 and r.json()["error_code"] == "insufficient_storage"
    r = client.get("/missing")
    assert r.status_code == 500 and r.json()["error_code"] == "internal_error"
    for r in (client.get("/full"), client.get("/missing")):
        assert "/srv/secret" not in r.text and "Errno" not in r.text
