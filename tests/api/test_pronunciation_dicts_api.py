"""/pronunciation-dicts: create, list (cursor pagination), get, update, delete; items validated when stored; each
organisation sees only its own dictionaries; TTS requests name one with `pronunciation_dict_id` (an unknown id is
a 404 from 2026-03-01, ignored before). Speech through a dictionary: tests/e2e/test_sdk_pronunciation.py."""

from __future__ import annotations

import pytest

ITEMS = [{"text": "Nguyen", "alias": "win"}, {"text": "tomato", "alias": "<<təˈmɑːtoʊ>>", "case_sensitive": True}]


@pytest.fixture(scope="module")
def client(api):
    return api.client


def test_crud_round_trip(api, client):
    h = api.h("dicts")
    r = client.post("/pronunciation-dicts/", json={"name": "Names", "items": ITEMS}, headers=h)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["name"] == "Names" and created["items"] == ITEMS and created["pinned"] is False
    assert created["owner_id"] == api.org_id("dicts") and created["created_at"]
    did = created["id"]
    assert client.get(f"/pronunciation-dicts/{did}", headers=h).json() == created
    r = client.patch(f"/pronunciation-dicts/{did}", json={"name": "Renamed"}, headers=h)
    assert r.json()["name"] == "Renamed" and r.json()["items"] == ITEMS  # items untouched when not sent
    r = client.patch(f"/pronunciation-dicts/{did}", json={"items": ITEMS[:1]}, headers=h)
    assert r.json()["name"] == "Renamed" and r.json()["items"] == ITEMS[:1]
    assert client.delete(f"/pronunciation-dicts/{did}", headers=h).status_code == 204
    r = client.get(f"/pronunciation-dicts/{did}", headers=h)
    assert r.status_code == 404 and r.json()["error_code"] == "pronunciation_dict_not_found"


def test_list_paginates_newest_first(api, client):
    h = api.h("dict-pages")
    ids = [client.post("/pronunciation-dicts", json={"name": f"d{i}"}, headers=h).json()["id"] for i in range(3)]
    first = client.get("/pronunciation-dicts", params={"limit": 2}, headers=h).json()
    assert [d["id"] for d in first["data"]] == ids[::-1][:2] and first["has_more"] is True
    rest = client.get("/pronunciation-dicts", params={"limit": 2, "starting_after": first["next_page"]},
                      headers=h).json()
    assert [d["id"] for d in rest["data"]] == [ids[0]] and rest["has_more"] is False


def test_dictionaries_are_private_to_their_organisation(api, client):
    did = client.post("/pronunciation-dicts", json={"name": "mine"}, headers=api.h("owner-org")).json()["id"]
    other = api.h("other-org")
    assert client.get(f"/pronunciation-dicts/{did}", headers=other).status_code == 404
    assert client.patch(f"/pronunciation-dicts/{did}", json={"name": "x"}, headers=other).status_code == 404
    assert client.delete(f"/pronunciation-dicts/{did}", headers=other).status_code == 404
    assert client.get("/pronunciation-dicts", headers=other).json()["data"] == []


@pytest.mark.parametrize(("items", "status", "code", "says"), [
    ([{"text": "word", "alias": "<<>>"}], 400, "invalid_pronunciation_dict", "items[0]"),
    ([{"text": "ok", "alias": "fine"}, {"text": "word", "alias": "say <<wɜːd>>"}], 400,
     "invalid_pronunciation_dict", "items[1]"),
    ([{"text": "...", "alias": "dots"}], 400, "invalid_pronunciation_dict", "word"),
    ([{"text": "word"}], 422, "invalid_request", "alias"),
])
def test_bad_items_are_refused(api, client, items, status, code, says):
    r = client.post("/pronunciation-dicts", json={"name": "bad", "items": items}, headers=api.h("dicts"))
    assert r.status_code == status, r.text
    assert r.json()["error_code"] == code and says in r.json()["message"]


def test_unknown_dict_on_tts_is_404_from_2026_03_01(api, client):
    voice = client.get("/voices", params={"limit": 1}, headers=api.h("dicts")).json()["data"][0]["id"]
    body = {"model_id": "sonic-3", "transcript": "Hi.", "voice": voice, "pronunciation_dict_id": "nope",
            "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 8000}}
    r = client.post("/tts/bytes", json=body, headers=api.h("dicts", version="2026-03-01"))
    assert r.status_code == 404 and r.json()["error_code"] == "pronunciation_dict_not_found"
    other = client.post("/pronunciation-dicts", json={"name": "theirs"}, headers=api.h("other-org")).json()["id"]
    r = client.post("/tts/bytes", json={**body, "pronunciation_dict_id": other},
                    headers=api.h("dicts", version="2026-03-01"))
    assert r.status_code == 404  # another organisation's dictionary is unknown here
    r = client.post("/tts/bytes", json=body, headers=api.h("dicts", version="2025-04-16"))
    assert r.status_code == 200 and len(r.content) > 1000  # old versions never validated the field
