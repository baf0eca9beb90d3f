from __future__ import annotations

import httpx
import pytest


def tts_route_missing(base_url: str, api_key: str) -> bool:
    """True when the server has no /tts/bytes route at all (an empty body on a real route is a 4xx, not 404)."""
    r = httpx.post(f"{base_url}/tts/bytes", json={}, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    return r.status_code == 404


@pytest.fixture()
def tts_available(live_server) -> None:
    if tts_route_missing(live_server.base_url, live_server.api_key):
        pytest.skip("this server answers 404 for POST /tts/bytes: the TTS route is not installed yet")
