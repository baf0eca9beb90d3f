"""Fine-tunes over HTTP (in process): validation, credits, lifecycle fields, delete."""

from __future__ import annotations

import pytest

from tests.wav_support import wav_bytes

COST = 1_000_000  # config default: VOICESMITH_FINE_TUNE_COST


def _dataset_with_file(api, org="acme") -> str:
    ds = api.client.post("/datasets", json={"name": "ds", "description": ""}, headers=api.h(org)).json()["id"]
    r = api.client.post(f"/datasets/{ds}/files", files={"file": ("a.wav", wav_bytes(), "audio/wav")},
                        data={"purpose": "fine_tune"}, headers=api.h(org))
    assert r.status_code == 204
    return ds


def _body(ds: str, **over) -> dict:
    return {"name": "ft", "description": "demo", "language": "en", "model_id": "sonic-2", "dataset": ds} | over


def test_create_get_list_delete(api):
    ds = _dataset_with_file(api, "ftorg")
    before = api.credits("ftorg")
    r = api.client.post("/fine-tunes", json=_body(ds), headers=api.h("ftorg"))
    assert r.status_code == 200, r.text
    ft = r.json()
    assert {"id", "name", "description", "language", "model_id", "dataset", "status"} <= set(ft)
    assert ft["status"] == "created" and ft["dataset"] == ds and ft["model_id"] == "sonic-2"
    assert ft["progress"] == 0.0 and ft["created_at"].endswith("Z") and "updated_at" in ft
    assert ft["id"].startswith("fine_tune_")
    assert ("enqueue_fine_tune", ft["id"]) in api.dispatched
    assert api.credits("ftorg") == (before[0], before[1] + COST)  # reserved, not charged

    assert api.client.get(f"/fine-tunes/{ft['id']}", headers=api.h("ftorg")).json()["id"] == ft["id"]
    listed = api.client.get("/fine-tunes/", headers=api.h("ftorg")).json()
    assert [f["id"] for f in listed["data"]] == [ft["id"]]
    voices = api.client.get(f"/fine-tunes/{ft['id']}/voices", headers=api.h("ftorg")).json()
    assert voices == {"data": [], "has_more": False, "next_page": None}
    report = api.client.get(f"/fine-tunes/{ft['id']}/report", headers=api.h("ftorg")).json()
    assert report["status"] == "created" and report["report"] is None

    # the dataset cannot be deleted from under a live fine-tune
    r = api.client.delete(f"/datasets/{ds}", headers=api.h("ftorg"))
    assert r.status_code == 409 and r.json()["error_code"] == "dataset_in_use"

    r = api.client.delete(f"/fine-tunes/{ft['id']}", headers=api.h("ftorg"))
    assert r.status_code == 204 and r.content == b""
    assert api.credits("ftorg") == before  # reservation released, nothing charged
    assert api.client.get(f"/fine-tunes/{ft['id']}", headers=api.h("ftorg")).status_code == 404
    assert api.client.get("/fine-tunes", headers=api.h("ftorg")).json()["data"] == []
    assert api.client.delete(f"/fine-tunes/{ft['id']}", headers=api.h("ftorg")).status_code == 404
    assert api.client.delete(f"/datasets/{ds}", headers=api.h("ftorg")).status_code == 204


@pytest.mark.parametrize("model_id", ["sonic-2", "sonic-3-2026-01-12", "sonic-latest", "sonic-turbo",
                                      "kokoro-82m-v1.0", "sonic-3.5", "sonic-english"])
def test_model_aliases_accepted(api, model_id):
    ds = _dataset_with_file(api)
    r = api.client.post("/fine-tunes", json=_body(ds, model_id=model_id), headers=api.h())
    assert r.status_code == 200, r.text
    assert r.json()["model_id"] == model_id
    api.client.delete(f"/fine-tunes/{r.json()['id']}", headers=api.h())


@pytest.mark.parametrize("over,status,code", [
    ({"model_id": "gpt-4"}, 400, "model_not_found"),
    ({"model_id": "sonic-9"}, 400, "model_not_found"),
    ({"language": "xx"}, 400, "unsupported_language"),
    ({"dataset": "dataset_doesnotexist"}, 404, "dataset_not_found"),
])
def test_create_rejections(api, over, status, code):
    ds = _dataset_with_file(api)
    r = api.client.post("/fine-tunes", json=_body(ds, **over), headers=api.h())
    assert r.status_code == status, r.text
    assert r.json()["error_code"] == code and r.json()["message"]


def test_missing_field_is_422_naming_it(api):
    body = _body("x")
    del body["language"]
    r = api.client.post("/fine-tunes", json=body, headers=api.h())
    assert r.status_code == 422 and "language" in r.json()["message"]


def test_empty_dataset_rejected(api):
    ds = api.client.post("/datasets", json={"name": "empty", "description": ""}, headers=api.h()).json()["id"]
    r = api.client.post("/fine-tunes", json=_body(ds), headers=api.h())
    assert r.status_code == 400 and r.json()["error_code"] == "dataset_empty"


def test_rejected_dataset_report_blocks_training(api):
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Dataset
    from sqlalchemy import select

    ds = _dataset_with_file(api)
    with session_scope() as s:
        row = s.scalar(select(Dataset).where(Dataset.id == ds))
        row.report_status = "ready"
        row.report = {"ok_to_train": False, "usable_seconds": 3.0,
                      "reasons": [{"code": "too_little_speech", "message": "only 3 s of usable speech"}]}
    r = api.client.post("/fine-tunes", json=_body(ds), headers=api.h())
    assert r.status_code == 400 and r.json()["error_code"] == "dataset_rejected"
    assert "only 3 s of usable speech" in r.json()["message"]


def test_insufficient_credits_is_402_and_reserves_nothing(api):
    ds = _dataset_with_file(api, "poor")
    api.set_balance("poor", COST + COST // 2)
    first = api.client.post("/fine-tunes", json=_body(ds), headers=api.h("poor"))
    assert first.status_code == 200
    r = api.client.post("/fine-tunes", json=_body(ds), headers=api.h("poor"))
    assert r.status_code == 402
    body = r.json()
    assert body["error_code"] == "insufficient_credits" and "credits" in body["message"]
    assert api.credits("poor") == (COST + COST // 2, COST)
    api.client.delete(f"/fine-tunes/{first.json()['id']}", headers=api.h("poor"))
    assert api.client.post("/fine-tunes", json=_body(ds), headers=api.h("poor")).status_code == 200


def test_fine_tune_voices_listed_in_order(api):
    ds = _dataset_with_file(api, "voiceorg")
    ft = api.client.post("/fine-tunes", json=_body(ds), headers=api.h("voiceorg")).json()
    ids = [api.add_voice("voiceorg", f"v{i}", kind="fine_tune", fine_tune_id=ft["id"]) for i in range(4)]
    page1 = api.client.get(f"/fine-tunes/{ft['id']}/voices", params={"limit": 3}, headers=api.h("voiceorg")).json()
    page2 = api.client.get(f"/fine-tunes/{ft['id']}/voices", params={"limit": 3, "starting_after": ids[2]},
                           headers=api.h("voiceorg")).json()
    assert [v["id"] for v in page1["data"] + page2["data"]] == ids
    assert page1["has_more"] and not page2["has_more"]
    assert all(v["is_owner"] for v in page1["data"])
