"""Organisations never see each other's objects: everything foreign is a 404, never a 403."""

from __future__ import annotations

from tests.wav_support import TINY_WAV


def test_cross_org_isolation(api):
    a, b = "tenant-a", "tenant-b"
    ds = api.client.post("/datasets", json={"name": "a's", "description": ""}, headers=api.h(a)).json()["id"]
    api.client.post(f"/datasets/{ds}/files", files={"file": ("x.wav", TINY_WAV, "audio/wav")}, headers=api.h(a))
    file_id = api.client.get(f"/datasets/{ds}/files", headers=api.h(a)).json()["data"][0]["id"]
    ft = api.client.post("/fine-tunes", json={"name": "f", "description": "", "language": "en", "model_id": "sonic-2",
                                              "dataset": ds}, headers=api.h(a)).json()["id"]
    voice = api.add_voice(a, "A's voice")

    hb = api.h(b)
    c = api.client
    checks = [
        c.get(f"/datasets/{ds}", headers=hb), c.patch(f"/datasets/{ds}", json={"name": "x", "description": ""}, headers=hb),
        c.delete(f"/datasets/{ds}", headers=hb), c.get(f"/datasets/{ds}/files", headers=hb),
        c.post(f"/datasets/{ds}/files", files={"file": ("y.wav", b"zz", "audio/wav")}, headers=hb),
        c.delete(f"/datasets/{ds}/files/{file_id}", headers=hb), c.get(f"/datasets/{ds}/report", headers=hb),
        c.get(f"/fine-tunes/{ft}", headers=hb), c.delete(f"/fine-tunes/{ft}", headers=hb),
        c.get(f"/fine-tunes/{ft}/voices", headers=hb), c.get(f"/fine-tunes/{ft}/report", headers=hb),
        c.post("/fine-tunes", json={"name": "f", "description": "", "language": "en", "model_id": "sonic-2",
                                    "dataset": ds}, headers=hb),
        c.get(f"/voices/{voice}", headers=hb), c.patch(f"/voices/{voice}", json={"name": "x"}, headers=hb),
        c.delete(f"/voices/{voice}", headers=hb),
    ]
    assert [r.status_code for r in checks] == [404] * len(checks), [(r.request.method, r.request.url.path, r.status_code)
                                                                   for r in checks]
    assert c.get("/datasets", headers=hb).json()["data"] == []
    assert c.get("/fine-tunes", headers=hb).json()["data"] == []
    assert voice not in {v["id"] for v in c.get("/voices", params={"limit": 100}, headers=hb).json()["data"]}
    # ...and a's objects are untouched
    assert c.get(f"/datasets/{ds}/files", headers=api.h(a)).json()["data"][0]["id"] == file_id
    assert c.get(f"/fine-tunes/{ft}", headers=api.h(a)).status_code == 200
    assert c.get(f"/voices/{voice}", headers=api.h(a)).json()["name"] == "A's voice"
