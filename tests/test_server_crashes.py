"""`voicesmith serve` killed with SIGKILL mid-upload, and serving from a data directory that really fills up (a small
tmpfs): nothing half-written is ever listed or kept, files stored before are intact, and the server goes on.

The always-run siblings fake these in-process: tests/api/test_datasets_api.py (a client hanging up, a writer
raising ENOSPC) and tests/store/test_blob_common.py (the sweep of dead writers' temp files).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.disk_support import small_disk
from tests.wav_support import wav_bytes, wav_header
from tests.worker.jobs_support import VOICESMITH, free_port, wait_for

MB = 1024 * 1024
BOUNDARY = "vs-crash-boundary-41c9"


class Server:
    """`voicesmith serve --no-worker` on a data directory, in its own process group (so SIGKILL takes all of it)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.key = ""  # the first key, which the first start prints
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def _env(self) -> dict[str, str]:
        return {**os.environ, "VOICESMITH_DATA": str(self.data_dir), "PYTHONUNBUFFERED": "1",
                "XDG_CONFIG_HOME": str(self.data_dir.parent / "config")}  # where serve saves its first key

    def start(self) -> None:
        log = self.data_dir.parent / f"serve-{self.starts}.log"  # outside the data dir: a full disk must not stop it
        self.starts += 1
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([str(VOICESMITH), "serve", "--port", str(self.port), "--no-worker"],
                                         env=self._env(), stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

        def up() -> bool:
            assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                return httpx.get(self.base_url + "/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 120, "the server to answer", interval=0.2)
        if not self.key:
            lines = log.read_text().splitlines()
            self.key = lines[next(i for i, line in enumerate(lines) if "created the first API key" in line) + 1].strip()

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Cartesia-Version": "2025-04-16"}

    def post(self, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        return httpx.post(self.base_url + path, headers=self.headers, timeout=60, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base_url + path, headers=self.headers, timeout=60)

    def new_dataset(self) -> str:
        r = self.post("/datasets", json={"name": "crash", "description": ""})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def upload(self, ds: str, name: str, data: bytes) -> httpx.Response:
        return self.post(f"/datasets/{ds}/files", files={"file": (name, data, "audio/wav")},
                         data={"purpose": "fine_tune"})

    def listed(self, ds: str) -> list[tuple[str, str, int]]:
        r = self.get(f"/datasets/{ds}/files")
        assert r.status_code == 200, r.text
        return [(f["id"], f["filename"], f["size"]) for f in r.json()["data"]]

    def parts(self) -> list[Path]:
        return sorted((self.data_dir / "blobs" / ".tmp").glob("*.part"))

    def stored(self, ds: str) -> dict[str, str]:
        """Every blob file of the dataset on disk, by name, with its sha256."""
        folder = self.data_dir / "blobs" / "datasets" / ds
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def server(tmp_path) -> Iterator[Server]:
    srv = Server(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()


def _part_head(filename: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine_tune\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()


def test_a_server_killed_mid_upload_restarts_with_nothing_partial_and_earlier_files_intact(server: Server) -> None:
    server.start()
    ds = server.new_dataset()
    for i, seconds in enumerate((0.5, 1.0)):
        assert server.upload(ds, f"kept{i}.wav", wav_bytes(seconds, freq=200 + 50 * i)).status_code == 204
    listed, stored = server.listed(ds), server.stored(ds)
    assert len(listed) == 2 and len(stored) == 2

    # A 40 MB upload, of which 6 MB arrive before the whole server (API process and all) is SIGKILLed.
    head = _part_head("cut.wav") + wav_header(40 * MB)
    declared = len(head) + 40 * MB + len(f"\r\n--{BOUNDARY}--\r\n")
    request = (f"POST /datasets/{ds}/files HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               f"Authorization: {server.headers['Authorization']}\r\nCartesia-Version: 2025-04-16\r\n"
               f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {declared}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request + head)
        noise = os.urandom(MB)  # 16-bit PCM noise: audio the upload check would accept
        for _ in range(6):
            sock.sendall(noise)
        wait_for(lambda: any(p.stat().st_size >= 2 * MB for p in server.parts()), 30,
                 "the upload to be streaming into a temp file")
        server.kill9()
    assert server.parts(), "the kill left the temp file behind (what the restart must sweep)"

    server.start()
    assert server.parts() == [], "a temp file no live writer owns survived the restart"
    assert server.listed(ds) == listed
    assert server.stored(ds) == stored
    assert server.get(f"/datasets/{ds}/files/{listed[0][0]}/audio").content == wav_bytes(0.5, freq=200)
    assert server.upload(ds, "after.wav", wav_bytes(0.5)).status_code == 204  # and the server goes on
    assert len(server.listed(ds)) == 3 and server.parts() == []


@pytest.fixture()
def full_disk_server(tmp_path) -> Iterator[Server]:
    with small_disk(tmp_path / "data", "20m") as data_dir:
        srv = Server(data_dir)
        try:
            yield srv
        finally:
            srv.stop()


def test_a_really_full_disk_is_507_for_that_request_only_and_the_server_goes_on(full_disk_server: Server) -> None:
    server = full_disk_server
    server.start()
    ds = server.new_dataset()
    assert server.upload(ds, "before.wav", wav_bytes(1.0)).status_code == 204
    before = server.listed(ds), server.stored(ds)
    free = os.statvfs(server.data_dir).f_bavail * os.statvfs(server.data_dir).f_frsize
    assert free < 20 * MB

    too_big = free + 4 * MB  # a 16-bit PCM WAV of noise: audio the upload check accepts, if it could be stored

    def body() -> Iterator[bytes]:
        yield _part_head("huge.wav") + wav_header(too_big)
        block = os.urandom(MB)
        for _ in range(too_big // MB):
            yield block
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    r = httpx.post(f"{server.base_url}/datasets/{ds}/files", content=body(), timeout=120,
                   headers={**server.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert r.status_code == 507, r.text
    error = r.json()
    assert error["error_code"] == "insufficient_storage"
    assert str(server.data_dir) not in error["message"] and "Errno" not in error["message"]
    assert server.parts() == [], "the refused upload left its temp file"
    assert (server.listed(ds), server.stored(ds)) == before, "the refused upload was listed or stored in part"

    # The request failed alone: the next upload is stored, speech is synthesised, the server is healthy.
    assert server.upload(ds, "after.wav", wav_bytes(0.5)).status_code == 204
    assert [f[1] for f in server.listed(ds)] == ["before.wav", "after.wav"]
    voice = server.get("/voices").json()["data"][0]["id"]
    tts = server.post("/tts/bytes", json={"model_id": "sonic-2", "transcript": "Still talking.",
                                          "voice": {"mode": "id", "id": voice},
                                          "output_format": {"container": "wav", "encoding": "pcm_s16le",
                                                            "sample_rate": 22050}})
    assert tts.status_code == 200 and tts.content[:4] == b"RIFF" and len(tts.content) > 10_000, tts.text[:300]
    assert httpx.get(server.base_url + "/", timeout=10).json()["ok"] is True
