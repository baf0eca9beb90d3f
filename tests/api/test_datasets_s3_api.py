"""Uploads with the object store (VOICESMITH_BLOB_URL=s3://..., moto's real S3 server): the content check runs on
the upload before anything is stored, as with the filesystem store; a refused file leaves nothing in the bucket
or on the node. (The scale-out e2e test found that the S3 writer had no local copy for the check to read.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.conftest import capture_job_hand_offs
from tests.wav_support import wav_bytes


def test_uploads_are_checked_then_stored_in_the_bucket(tmp_path, data_dir_switch, s3_server):
    bucket = s3_server.new_bucket()
    env = {"VOICESMITH_BLOB_URL": f"s3://{bucket}/vs", **s3_server.env}
    with data_dir_switch(tmp_path / "data", **env), pytest.MonkeyPatch.context() as mp:
        from voicesmith import admin
        from voicesmith.api.app import create_app
        from voicesmith.store.blobs import get_blob_store

        capture_job_hand_offs(mp, [])
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            h = {"Authorization": f"Bearer {admin.create_key(org='s3-uploads', description='s3')}",
                 "Cartesia-Version": "2026-03-01"}
            ds = client.post("/datasets", json={"name": "s3", "description": ""}, headers=h).json()["id"]
            audio = wav_bytes(2.0)
            ok = client.post(f"/datasets/{ds}/files", files={"file": ("take.wav", audio, "audio/wav")},
                             data={"purpose": "fine_tune"}, headers=h)
            assert ok.status_code == 204, ok.text
            bad = client.post(f"/datasets/{ds}/files", files={"file": ("fake.wav", b"not audio at all\n" * 64,
                                                                          "audio/wav")},
                              data={"purpose": "fine_tune"}, headers=h)
            assert bad.status_code == 400 and bad.json()["error_code"] == "invalid_audio", bad.text
            listed = client.get(f"/datasets/{ds}/files", headers=h).json()["data"]
            assert [f["filename"] for f in listed] == ["take.wav"]
            store = get_blob_store()
            objects = s3_server.client().list_objects_v2(Bucket=bucket, Prefix="vs/datasets/").get("Contents", [])
            assert len(objects) == 1 and objects[0]["Size"] == len(audio)
            assert list(store.cache_tmp.iterdir()) == [] and store.incomplete_uploads() == []
