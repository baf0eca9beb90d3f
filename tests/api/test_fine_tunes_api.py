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


def _wav(seconds: float, freq: float) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    t = np.arange(int(24000 * seconds)) / 24000
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * freq * t), 24000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_completed_report_lets_the_real_speaker_and_each_voice_be_heard_on_the_same_words(api):
    import numpy as np

    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.service import training

    ds = _dataset_with_file(api, "listen")
    ft = api.client.post("/fine-tunes", json=_body(ds), headers=api.h("listen")).json()
    claim = training.claim(ft["id"], training.new_worker_id("test"))
    rng = np.random.default_rng(1)
    texts = ["The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background."]
    real = [_wav(1.0, 200), _wav(1.2, 210)]
    spoken = {k: [_wav(0.9, 300 + 10 * k + i) for i in range(2)] for k in range(2)}
    voices = [training.NewVoice(f"v{k}", "d", VoiceArtifact(rng.normal(size=(510, 256)).astype(np.float32)),
                                preview_wav=spoken[k][0], samples=tuple(spoken[k])) for k in range(2)]
    report = {"voices": [{"key": "match", "similarity": 0.8}, {"key": "clear", "similarity": 0.7}]}
    samples = [training.HeldOutSample(t, w) for t, w in zip(texts, real)]
    assert training.complete(ft["id"], claim.worker_id, voices, report, samples)

    answer = api.client.get(f"/fine-tunes/{ft['id']}/report", headers=api.h("listen")).json()
    listed = api.client.get(f"/fine-tunes/{ft['id']}/voices", headers=api.h("listen")).json()["data"]
    ids = [v["id"] for v in listed]
    # The report's voice entries say which voice they measure.
    assert [v["voice_id"] for v in answer["report"]["voices"]] == ids
    assert [s["text"] for s in answer["samples"]] == texts
    for i, sample in enumerate(answer["samples"]):
        r = api.client.get(sample["real_audio_url"], headers=api.h("listen"))
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.content == real[i]
        assert [v["voice_id"] for v in sample["voices"]] == ids
        for k, v in enumerate(sample["voices"]):
            r = api.client.get(v["audio_url"], headers=api.h("listen"))
            assert r.status_code == 200 and r.content == spoken[k][i]
    # Another organisation hears nothing; unknown samples and voices are 404 with a code.
    first = answer["samples"][0]
    assert api.client.get(first["real_audio_url"], headers=api.h("other")).json()["error_code"] == "fine_tune_not_found"
    for bad in (f"/fine-tunes/{ft['id']}/samples/7/real", f"/fine-tunes/{ft['id']}/samples/0/voices/nope"):
        r = api.client.get(bad, headers=api.h("listen"))
        assert r.status_code == 404 and r.json()["error_code"] == "sample_not_found"

    # The voice's preview is reachable through preview_file_url (expand[]), and plays the stored clip.
    got = api.client.get(f"/voices/{ids[0]}", params={"expand[]": "preview_file_url"},
                         headers=api.h("listen", version="2025-11-04")).json()
    assert got["preview_file_url"] == f"/voices/{ids[0]}/preview"
    r = api.client.get(got["preview_file_url"], headers=api.h("listen", version="2025-11-04"))
    assert r.status_code == 200 and r.content == spoken[0][0]

    # Deleting the fine-tune removes its held-out audio (the voices stay).
    assert api.client.delete(f"/fine-tunes/{ft['id']}", headers=api.h("listen")).status_code == 204
    assert not list((api.data_dir / "blobs" / "fine_tunes" / ft["id"]).rglob("*.wav"))
    assert list((api.data_dir / "blobs" / "voice_previews").glob("*.wav"))  # the blob layout the check relies on
    assert api.client.get(f"/voices/{ids[0]}/preview", headers=api.h("listen")).status_code == 200
