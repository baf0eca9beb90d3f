"""GET / (status for API clients, the studio for browsers) and /docs (Swagger UI from this server)."""

from __future__ import annotations

import re

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_api_clients_get_the_status_and_browsers_the_studio(api) -> None:
    for accept in (None, "application/json", "*/*"):
        headers = {"Accept": accept} if accept else {}
        r = api.client.get("/", headers=headers, follow_redirects=False)
        assert r.status_code == 200 and r.json()["ok"] is True, (accept, r.text)
    r = api.client.get("/", headers={"Accept": BROWSER_ACCEPT}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/studio/"


def test_docs_load_nothing_from_another_host(api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: *["']([^"']+)["']""", page.text)
    urls = [a or b for a, b in urls]
    assert urls and all(u.startswith("/") for u in urls), urls  # every asset and the spec from this server
    for url in urls:
        r = api.client.get(url)
        assert r.status_code == 200, url
        if url.endswith(".js"):
            assert len(r.content) > 100_000 and "javascript" in r.headers["content-type"]
    assert api.client.get("/docs/assets/../../config.py").status_code == 404
    assert api.client.get("/docs/assets/nothing.js").status_code == 404
