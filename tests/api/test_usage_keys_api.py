"""GET /usage/credits and /api-keys (admin); GET /usage/balance (voicesmith, any key)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.wav_support import TINY_WAV

FINE_TUNE_COST = 1_000_000  # config default: VOICESMITH_FINE_TUNE_COST


def test_credits_buckets(api):
    from voicesmith.service import usage

    org = "billing"
    h = api.h(org, admin=True)
    usage.charge_tts(api.org_id(org), None, 120, "stock")
    usage.charge_tts(api.org_id(org), None, 10, "fine_tune")  # 1.5 credits per char -> 15
    r = api.client.get("/usage/credits", headers=h)
    assert r.status_code == 200
    data = r.json()["data"]
    assert len(data) == 1 and data[0]["credits"] == 135
    now = datetime.now(timezone.utc)
    start = (now - timedelta(days=2)).isoformat()
    r = api.client.get("/usage/credits", params={"start_ts": start, "end_ts": now.isoformat(), "interval": "day"},
                       headers=h)
    days = r.json()["data"]
    assert len(days) == 3 and [d["credits"] for d in days] == [0, 0, 135]
    assert all(d["start_ts"].endswith("T00:00:00.000000Z") for d in days)
    assert days[0]["end_ts"] == days[1]["start_ts"]
    r = api.client.get("/usage/credits", params={"interval": "hour"}, headers=h)
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_interval"
    r = api.client.get("/usage/credits", params={"start_ts": "2020-01-01T00:00:00Z"}, headers=h)
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_time_range"
    r = api.client.get("/usage/credits", params={"start_ts": "not a date"}, headers=h)
    assert r.status_code == 422 and "start_ts" in r.json()["message"]
    # another organisation's usage is not counted
    assert api.client.get("/usage/credits", headers=api.h("nobill", admin=True)).json()["data"][0]["credits"] == 0


def test_api_keys_list_and_get(api):
    h = api.h("keyorg", admin=True)
    api.key("keyorg")  # a second, non-admin key
    page = api.client.get("/api-keys", headers=h).json()
    assert len(page["data"]) == 2 and page["has_more"] is False
    entry = page["data"][0]
    assert {"id", "description", "created_at", "creator_email", "creator_still_in_org", "creator_image_url"} <= set(entry)
    assert "sk_vs_" in entry["prefix"] and len(entry["prefix"]) < 20  # a recognisable prefix, never the secret
    assert all(api.key("keyorg") not in str(v) for v in entry.values())
    one = api.client.get("/api-keys", params={"limit": 1}, headers=h).json()
    assert len(one["data"]) == 1 and one["has_more"] is True
    nxt = api.client.get("/api-keys", params={"limit": 1, "starting_after": one["data"][0]["id"]}, headers=h).json()
    assert nxt["data"][0]["id"] != one["data"][0]["id"]
    assert api.client.get(f"/api-keys/{entry['id']}", headers=h).json()["id"] == entry["id"]
    other = api.client.get("/api-keys", headers=api.h("keyorg2", admin=True)).json()["data"][0]["id"]
    r = api.client.get(f"/api-keys/{other}", headers=h)
    assert r.status_code == 404
    r = api.client.get("/api-keys", params={"starting_after": "a", "ending_before": "b"}, headers=h)
    assert r.status_code == 400


def _fine_tune(api, org: str) -> str:
    h = api.h(org)
    ds = api.client.post("/datasets", json={"name": "ds", "description": ""}, headers=h).json()["id"]
    r = api.client.post(f"/datasets/{ds}/files", files={"file": ("a.wav", TINY_WAV, "audio/wav")},
                        data={"purpose": "fine_tune"}, headers=h)
    assert r.status_code == 204
    body = {"name": "ft", "description": "", "language": "en", "model_id": "sonic-2", "dataset": ds}
    r = api.client.post("/fine-tunes", json=body, headers=h)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_balance_follows_reservations_with_a_plain_key(api):
    h = api.h("wallet")  # not an admin key: whoever starts fine-tunes may see what they can afford
    api.set_balance("wallet", 5 * FINE_TUNE_COST)
    r = api.client.get("/usage/balance", headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"balance": 5 * FINE_TUNE_COST, "reserved": 0, "available": 5 * FINE_TUNE_COST,
                        "fine_tune_cost": FINE_TUNE_COST}

    ft = _fine_tune(api, "wallet")
    reserved = {"balance": 5 * FINE_TUNE_COST, "reserved": FINE_TUNE_COST, "available": 4 * FINE_TUNE_COST,
                "fine_tune_cost": FINE_TUNE_COST}
    assert api.client.get("/usage/balance", headers=h).json() == reserved
    assert api.client.get("/usage/balance/", headers=h).json() == reserved  # both spellings, as everywhere

    # Another organisation sees only its own credits, untouched by this one's fine-tune.
    other = api.client.get("/usage/balance", headers=api.h("wallet-neighbour")).json()
    assert other["reserved"] == 0 and other["available"] == other["balance"] == api.credits("wallet-neighbour")[0]

    assert api.client.delete(f"/fine-tunes/{ft}", headers=h).status_code == 204
    assert api.client.get("/usage/balance", headers=h).json()["available"] == 5 * FINE_TUNE_COST


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk_vs_wrong"}])
def test_balance_needs_an_api_key(api, headers):
    r = api.client.get("/usage/balance", headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert body["error_code"] == "unauthorized" and body["message"] and body["request_id"]


def test_balance_refuses_access_tokens(api):
    token = api.client.post("/access-token", json={"grants": {"tts": True}}, headers=api.h("wallet")).json()["token"]
    r = api.client.get("/usage/balance", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error_code"] == "unauthorized"
