"""Which recordings `voicesmith clone` uploads again, and which it recognises as already uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicesmith.client.models import DatasetFile
from voicesmith.client.uploads import ResumeManifest, find_recordings, hash_file, identify_upload, plan_uploads


def _remote(file_id: str, filename: str, size: int, sha256: str | None = None) -> DatasetFile:
    return DatasetFile(file_id, filename, size, "2026-01-01T00:00:00Z", sha256)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "samples"
    d.mkdir()
    (d / "a.wav").write_bytes(b"RIFF-a" * 10)
    (d / "b.flac").write_bytes(b"fLaC-b" * 20)
    (d / "a.txt").write_text("the transcript of a.wav")
    (d / "notes.txt").write_text("not a transcript of any recording")
    (d / "metadata.csv").write_text("b.flac|the transcript of b")
    (d / ".hidden.wav").write_bytes(b"x")
    (d / "sub").mkdir()
    (d / "sub" / "d.wav").write_bytes(b"nested")
    return d


def test_find_recordings_takes_audio_and_their_transcripts_in_the_folder_only(folder: Path) -> None:
    assert [p.name for p in find_recordings(folder)] == ["a.txt", "a.wav", "b.flac", "metadata.csv"]


def test_transcripts_alone_are_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "metadata.csv").write_text("x.wav|hello")
    assert find_recordings(tmp_path) == []


def test_find_recordings_refuses_missing_folder_and_file(folder: Path) -> None:
    with pytest.raises(FileNotFoundError, match="folder not found"):
        find_recordings(folder / "nope")
    with pytest.raises(NotADirectoryError):
        find_recordings(folder / "a.wav")


def test_manifest_survives_a_restart_and_separates_datasets(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "uploads.json"
    m = ResumeManifest(path, "http://h:1/", "ds1")
    m.record("sha-a", "file_1")
    assert ResumeManifest(path, "http://h:1", "ds1").entries == {"sha-a": "file_1"}
    assert ResumeManifest(path, "http://h:1", "ds2").entries == {}
    assert ResumeManifest(path, "http://other:1", "ds1").entries == {}


def test_damaged_manifest_is_ignored_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "uploads.json"
    path.write_text("{not json")
    assert ResumeManifest(path, "http://h:1", "ds").entries == {}


def test_server_sha256_is_authoritative(folder: Path, tmp_path: Path) -> None:
    a, b = hash_file(folder / "a.wav"), hash_file(folder / "b.flac")
    manifest = ResumeManifest(tmp_path / "m.json", "http://h:1", "ds")
    # Same content under another name counts as uploaded; same name and size with other content does not.
    remote = [_remote("f1", "renamed.wav", a.size, a.sha256), _remote("f2", "b.flac", b.size, "0" * 64)]
    plan = plan_uploads([a, b], remote, manifest)
    assert plan.done == {a.path: "f1"}
    assert [lf.path for lf in plan.todo] == [b.path]


def test_without_server_hashes_the_manifest_and_then_name_and_size_decide(folder: Path, tmp_path: Path) -> None:
    a, b = hash_file(folder / "a.wav"), hash_file(folder / "b.flac")
    manifest = ResumeManifest(tmp_path / "m.json", "http://h:1", "ds")
    manifest.record(a.sha256, "f1")
    remote = [_remote("f1", "old-name.wav", a.size), _remote("f2", "b.flac", b.size)]
    plan = plan_uploads([a, b], remote, manifest)
    assert plan.done == {a.path: "f1", b.path: "f2"}
    assert plan.todo == []


def test_a_file_deleted_on_the_server_is_uploaded_again(folder: Path, tmp_path: Path) -> None:
    a = hash_file(folder / "a.wav")
    manifest = ResumeManifest(tmp_path / "m.json", "http://h:1", "ds")
    manifest.record(a.sha256, "gone")
    plan = plan_uploads([a], [], manifest)
    assert plan.todo == [a]


def test_name_and_size_match_is_refused_when_the_manifest_ties_it_to_other_content(folder: Path, tmp_path: Path) -> None:
    a = hash_file(folder / "a.wav")
    manifest = ResumeManifest(tmp_path / "m.json", "http://h:1", "ds")
    manifest.record("f" * 64, "f1")  # the server's a.wav was an earlier take with other content
    plan = plan_uploads([a], [_remote("f1", "a.wav", a.size)], manifest)
    assert plan.todo == [a]


def test_one_server_file_stands_for_one_local_file_only(tmp_path: Path) -> None:
    d = tmp_path / "s"
    d.mkdir()
    (d / "x.wav").write_bytes(b"1234")
    x = hash_file(d / "x.wav")
    twin = type(x)(d / "copy" / "x.wav", x.size, "e" * 64)  # same name and size, other content
    plan = plan_uploads([x, twin], [_remote("f1", "x.wav", 4)], ResumeManifest(tmp_path / "m.json", "u", "ds"))
    assert list(plan.done.values()) == ["f1"]
    assert len(plan.todo) == 1


def test_identify_upload_picks_the_new_file(folder: Path) -> None:
    a = hash_file(folder / "a.wav")
    remote = [_remote("old", "a.wav", a.size), _remote("new", "a.wav", a.size)]
    assert identify_upload(a, remote, known_ids={"old"}) == "new"
    assert identify_upload(a, remote, known_ids={"old", "new"}) is None
    assert identify_upload(a, [_remote("s", "zz.wav", 1, a.sha256)], known_ids=set()) == "s"
