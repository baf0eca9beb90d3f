"""Datasets and dataset files over HTTP (in process)."""

from __future__ import annotations

import hashlib

import pytest

from tests.wav_support import wav_bytes, wav_header


def _create(api, org="acme", name="ds", path="/datasets"):
    r = api.client.post(path, json={"name": name, "description": "d"}, headers=api.h(org))
    assert r.status_code == 200, r.text
    return r.json()


def _upload(api, ds_id, data: bytes, filename="a.wav", purpose="fine_tune", org="acme", path_suffix=""):
    files = {"file": (filename, data, "audio/wav")}
    form = {"purpose": purpose} if purpose is not None else {}
    return api.client.post(f"/datasets/{ds_id}/files{path_suffix}", files=files, data=form, headers=api.h(org))


def test_create_get_update_delete(api):
    ds = _create(api, name="first")
    assert set(ds) == {"id", "name", "description", "created_at"}
    assert ds["id"].startswith("dataset_") and ds["created_at"].endswith("Z")
    assert api.client.get(f"/datasets/{ds['id']}", headers=api.h()).json() == ds

    r = api.client.patch(f"/datasets/{ds['id']}", json={"name": "renamed", "description": "new"}, headers=api.h())
    assert r.status_code == 204 and r.content == b""
    got = api.client.get(f"/datasets/{ds['id']}", headers=api.h()).json()
    assert (got["name"], got["description"]) == ("renamed", "new")

    r = api.client.delete(f"/datasets/{ds['id']}", headers=api.h())
    assert r.status_code == 204 and r.content == b""
    r = api.client.get(f"/datasets/{ds['id']}", headers=api.h())
    assert r.status_code == 404 and r.json()["error_code"] == "dataset_not_found"


@pytest.mark.parametrize("path", ["/datasets", "/datasets/"])
def test_both_spellings_answer_without_redirect(api, path):
    ds = _create(api, path=path)
    r = api.client.get(path, headers=api.h(), follow_redirects=False)
    assert r.status_code == 200
    assert ds["id"] in [d["id"] for d in r.json()["data"]]
    r = api.client.get(f"/datasets/{ds['id']}/files/", headers=api.h(), follow_redirects=False)
    assert r.status_code == 200


def test_list_pages_end_on_empty_page(api):
    ids = [_create(api, org="pager", name=f"p{i}")["id"] for i in range(5)]
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": 2} | ({"starting_after": cursor} if cursor else {})
        page = api.client.get("/datasets", params=params, headers=api.h("pager")).json()
        if not page["data"]:
            assert page["has_more"] is False and page["next_page"] is None
            break
        assert len(page["data"]) <= 2
        assert page["next_page"] == (page["data"][-1]["id"] if page["has_more"] else None)
        seen += [d["id"] for d in page["data"]]
        cursor = page["data"][-1]["id"]
    assert seen == list(reversed(ids))  # newest first, each once
    # ending_before walks back
    page = api.client.get("/datasets", params={"limit": 2, "ending_before": seen[-1]}, headers=api.h("pager")).json()
    assert [d["id"] for d in page["data"]] == seen[-3:-1] and page["has_more"] is True


def test_pagination_parameter_errors(api):
    r = api.client.get("/datasets", params={"limit": 0}, headers=api.h())
    assert r.status_code == 422 and "limit" in r.json()["message"]
    r = api.client.get("/datasets", params={"starting_after": "dataset_nope"}, headers=api.h())
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_cursor"
    r = api.client.get("/datasets", params={"starting_after": "a", "ending_before": "b"}, headers=api.h())
    assert r.status_code == 400


def test_upload_list_delete_files(api):
    ds = _create(api)
    blobs = [wav_bytes(0.1 + 0.01 * i, 200.0 + 50 * i) for i in range(3)]
    for i, blob in enumerate(blobs):
        r = _upload(api, ds["id"], blob, filename=f"clip{i}.wav")
        assert r.status_code == 204 and r.content == b"", r.text
    page = api.client.get(f"/datasets/{ds['id']}/files", params={"limit": 2}, headers=api.h()).json()
    assert [f["filename"] for f in page["data"]] == ["clip0.wav", "clip1.wav"] and page["has_more"]
    rest = api.client.get(f"/datasets/{ds['id']}/files", params={"limit": 2, "starting_after": page["data"][-1]["id"]},
                          headers=api.h()).json()
    assert [f["filename"] for f in rest["data"]] == ["clip2.wav"] and not rest["has_more"]
    files = page["data"] + rest["data"]
    assert [f["size"] for f in files] == [len(b) for b in blobs]
    assert set(files[0]) == {"id", "filename", "created_at", "size"}
    # bytes landed intact, with their sha256 recorded
    report = api.client.get(f"/datasets/{ds['id']}/report", headers=api.h()).json()
    assert [f["sha256"] for f in report["files"]] == [hashlib.sha256(b).hexdigest() for b in blobs]
    assert report["status"] == "pending" and report["report"] is None
    assert ("enqueue_dataset_analysis", ds["id"]) in api.dispatched

    r = api.client.delete(f"/datasets/{ds['id']}/files/{files[1]['id']}", headers=api.h())
    assert r.status_code == 204
    left = api.client.get(f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"]
    assert [f["id"] for f in left] == [files[0]["id"], files[2]["id"]]
    r = api.client.delete(f"/datasets/{ds['id']}/files/{files[1]['id']}", headers=api.h())
    assert r.status_code == 404 and r.json()["error_code"] == "file_not_found"


def test_upload_without_purpose_defaults_to_fine_tune_and_keeps_utf8_names(api):
    ds = _create(api)
    r = _upload(api, ds["id"], wav_bytes(), filename="é clip.wav", purpose=None, path_suffix="/")
    assert r.status_code == 204, r.text
    files = api.client.get(f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"]
    assert files[0]["filename"] == "é clip.wav"


def test_upload_errors(api):
    ds = _create(api)
    r = _upload(api, ds["id"], b"abc", purpose="voice_clone")
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_purpose"
    r = _upload(api, ds["id"], b"")
    assert r.status_code == 400 and r.json()["error_code"] == "empty_file"
    r = api.client.post(f"/datasets/{ds['id']}/files", files={"purpose": (None, "fine_tune")}, headers=api.h())
    assert r.status_code == 422 and "file" in r.json()["message"]
    r = api.client.post(f"/datasets/{ds['id']}/files", json={"file": "x"}, headers=api.h())
    assert r.status_code == 415 and r.json()["error_code"] == "unsupported_media_type"
    r = _upload(api, "dataset_missing", b"abc")
    assert r.status_code == 404
    # A text file renamed .wav is refused at upload, in words a person can act on, and nothing is stored.
    r = _upload(api, ds["id"], b"Dear diary, this is not a recording at all. " * 40, filename="notes.wav")
    body = r.json()
    assert r.status_code == 400 and body["error_code"] == "invalid_audio", body
    assert "notes.wav" in body["message"] and "/" not in body["message"].replace("notes.wav", "")
    assert "errno" not in body["message"].lower() and "[" not in body["message"]
    # Files not named as audio (transcripts, other kinds) are left to the dataset analysis.
    assert _upload(api, ds["id"], b"hello there", filename="clip.txt").status_code == 204
    r = api.client.delete(f"/datasets/{ds['id']}/files/" + api.client.get(
        f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"][0]["id"], headers=api.h())
    assert r.status_code == 204
    assert api.client.get(f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"] == []
    assert list((api.data_dir / "blobs" / ".tmp").iterdir()) == []


def test_truncated_multipart_body_leaves_nothing(api):
    ds = _create(api)
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
            b"Content-Type: audio/wav\r\n\r\n" + b"\0" * 50_000)  # no closing boundary
    r = api.client.post(f"/datasets/{ds['id']}/files", content=body,
                        headers={**api.h(), "Content-Type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_multipart"
    assert api.client.get(f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"] == []
    assert list((api.data_dir / "blobs" / ".tmp").iterdir()) == []
    assert not (api.data_dir / "blobs" / "datasets" / ds["id"]).exists()


def test_create_validation_names_the_field(api):
    r = api.client.post("/datasets", json={"description": "no name"}, headers=api.h())
    assert r.status_code == 422
    body = r.json()
    assert body["error_code"] == "invalid_request" and "name" in body["message"] and body["request_id"]
    r = api.client.patch("/datasets/whatever", json={"name": "x"}, headers=api.h())
    assert r.status_code == 422 and "description" in r.json()["message"]


def test_report_of_missing_dataset_is_404(api):
    assert api.client.get("/datasets/dataset_nope/report", headers=api.h()).status_code == 404


def test_too_large_upload_is_413_and_leaves_nothing(api, data_dir_switch):
    ds = _create(api)
    with data_dir_switch(api.data_dir, VOICESMITH_MAX_UPLOAD_BYTES="4096"):
        r = _upload(api, ds["id"], b"\0" * 10_000)
        assert r.status_code == 413 and r.json()["error_code"] == "file_too_large"
        big = b"\0" * 3 * 1024 * 1024  # also when Content-Length gives it away up front
        r = _upload(api, ds["id"], big)
        assert r.status_code == 413
        small = wav_bytes(0.1)
        assert len(small) < 4096 and _upload(api, ds["id"], small).status_code == 204
    assert len(api.client.get(f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"]) == 1
    assert list((api.data_dir / "blobs" / ".tmp").iterdir()) == []


@pytest.mark.parametrize("filename,data,what", [
    ("notes.wav", b"This is a text file that merely has a .wav name.\n" * 20, "damaged"),
    ("photo.mp3", b"\x89PNG\r\n\x1a\n" + b"\0" * 2000, "no audio stream"),
    ("header-only.wav", wav_header(0), "no audio samples"),
    ("zero-hz.wav", wav_header(3200, rate=0) + b"\0" * 3200, "damaged"),
    ("no-channels.wav", wav_header(3200, channels=0) + b"\0" * 3200, "impossible audio"),
])
def test_upload_that_is_not_audio_is_refused_and_nothing_is_stored(api, filename, data, what):
    ds = _create(api)
    r = _upload(api, ds["id"], data, filename=filename)
    body = r.json()
    assert r.status_code == 400 and body["error_code"] == "invalid_audio", r.text
    assert filename in body["message"] and what in body["message"], body["message"]
    assert str(api.data_dir) not in body["message"] and "Errno" not in body["message"] and ".part" not in body["message"]
    assert api.client.get(f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"] == []
    assert list((api.data_dir / "blobs" / ".tmp").iterdir()) == []
    assert not (api.data_dir / "blobs" / "datasets" / ds["id"]).exists()
    assert ("enqueue_dataset_analysis", ds["id"]) not in api.dispatched


def test_transcripts_are_accepted_as_text_and_refused_as_binary(api):
    ds = _create(api)
    assert _upload(api, ds["id"], "Hello there, é.".encode(), filename="clip.txt").status_code == 204
    assert _upload(api, ds["id"], b"clip.wav|Hello there.\n", filename="metadata.csv").status_code == 204
    r = _upload(api, ds["id"], b"\xff\xfe\x00binary", filename="other.txt")
    assert r.status_code == 400 and r.json()["error_code"] == "invalid_transcript", r.text
    names = [f["filename"] for f in api.client.get(f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"]]
    assert names == ["clip.txt", "metadata.csv"]


def test_disk_full_during_an_upload_is_507_for_that_request_only(api, monkeypatch):
    """The disk filling up mid-upload (a fake writer raising ENOSPC after 64 KB) answers 507
    insufficient_storage, leaves no temp file or listing, and the next upload works."""
    import errno

    from voicesmith.store import blobs

    ds = _create(api)
    real_write = blobs.BlobWriter.write

    def full_disk(self, data):
        if self.size + len(data) > 64 * 1024:
            raise OSError(errno.ENOSPC, "No space left on device", str(self._tmp))
        real_write(self, data)

    monkeypatch.setattr(blobs.BlobWriter, "write", full_disk)
    r = _upload(api, ds["id"], wav_bytes(10.0))
    body = r.json()
    assert r.status_code == 507 and body["error_code"] == "insufficient_storage", r.text
    assert "Errno" not in body["message"] and str(api.data_dir) not in body["message"]
    assert list((api.data_dir / "blobs" / ".tmp").iterdir()) == []
    assert api.client.get(f"/datasets/{ds['id']}/files", headers=api.h()).json()["data"] == []
    monkeypatch.setattr(blobs.BlobWriter, "write", real_write)
    assert _upload(api, ds["id"], wav_bytes(1.0)).status_code == 204
    assert api.client.get("/").json()["ok"] is True


def test_uploaded_files_play_back_to_their_owner_only(api):
    import io

    import numpy as np
    import soundfile as sf

    ds = _create(api, org="player", name="listen")
    buf = io.BytesIO()
    sf.write(buf, np.zeros(2400, np.float32), 24000, format="WAV", subtype="PCM_16")
    wav = buf.getvalue()
    assert _upload(api, ds["id"], wav, filename="hello.wav", org="player").status_code == 204
    file_id = api.client.get(f"/datasets/{ds['id']}/files", headers=api.h("player")).json()["data"][0]["id"]
    r = api.client.get(f"/datasets/{ds['id']}/files/{file_id}/audio", headers=api.h("player"))
    assert r.status_code == 200 and r.content == wav and r.headers["content-type"] == "audio/wav"
    r = api.client.get(f"/datasets/{ds['id']}/files/{file_id}/audio", headers=api.h("stranger"))
    assert r.status_code == 404 and r.json()["error_code"] == "dataset_not_found"
    r = api.client.get(f"/datasets/{ds['id']}/files/file_nope/audio", headers=api.h("player"))
    assert r.status_code == 404 and r.json()["error_code"] == "file_not_found"
    assert api.client.get(f"/datasets/{ds['id']}/files/{file_id}/audio").status_code == 401


def test_fine_tune_estimate_gives_each_budgets_time_once_the_files_are_analysed(api):
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import DatasetFile

    ds = _create(api)
    for i in range(2):
        assert _upload(api, ds["id"], wav_bytes(0.2, 220.0), filename=f"clip{i}.wav").status_code == 204
    url = f"/datasets/{ds['id']}/fine-tune-estimate"
    pending = api.client.get(url, headers=api.h()).json()
    assert pending["audio_seconds"] is None and pending["budgets"]["tiny"] == {"expected_seconds": None}
    assert pending["message"].startswith("the recordings are still being analysed")
    with session_scope() as s:  # what the dataset analysis job records per file
        for f in s.query(DatasetFile).filter_by(dataset_id=ds["id"]):
            f.analysis = {"duration_seconds": 60.0, "verdict": "ok"}
    answer = api.client.get(url, headers=api.h()).json()
    assert answer["audio_seconds"] == 120.0 and answer["basis"] == "reference" and answer["measured_runs"] == 0
    times = [answer["budgets"][b]["expected_seconds"] for b in ("tiny", "default", "max")]
    assert all(isinstance(t, int) for t in times) and times == sorted(times)
    assert "no fine-tune has completed on this server yet" in answer["message"]
    other = api.client.get(url, headers=api.h("someone-else"))
    assert other.status_code == 404 and other.json()["error_code"] == "dataset_not_found"
