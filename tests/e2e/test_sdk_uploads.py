"""Uploads against the live server: a 200 MB file with flat server memory, and an interrupted upload."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from urllib.parse import urlparse

import psutil
import pytest
import requests

from tests.wav_support import wav_header

MB = 1024 * 1024
BOUNDARY = "vs-test-boundary-7d1e"


def _server_process(live_server) -> psutil.Process:
    """The process that listens on the server's port (where the API's memory is)."""
    port = urlparse(live_server.base_url).port
    proc = psutil.Process(live_server.process.pid)
    for p in [proc, *proc.children(recursive=True)]:
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in p.net_connections("tcp")):
                return p
        except psutil.Error:
            continue
    pytest.fail("no process of `voicesmith serve` is listening on the server port")


def _dataset(live_server, org: str) -> tuple[str, dict]:
    headers = live_server.headers(live_server.make_key(org))
    r = requests.post(f"{live_server.base_url}/datasets", json={"name": "big", "description": ""}, headers=headers,
                      timeout=30)
    r.raise_for_status()
    return r.json()["id"], headers


def _part_header(filename: str) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine_tune\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()


def _temp_files(live_server) -> list:
    return list((live_server.data_dir / "blobs" / ".tmp").glob("*.part"))


def test_200mb_upload_keeps_server_memory_flat(live_server):
    ds, headers = _dataset(live_server, "uploads")
    server = _server_process(live_server)
    block = os.urandom(MB)  # as 16-bit PCM: white noise, which the upload check accepts as audio
    n_blocks = 200
    header = wav_header(n_blocks * MB)
    digest = hashlib.sha256(header)
    for _ in range(n_blocks):
        digest.update(block)

    def body():
        yield _part_header("big.wav")
        yield header
        for _ in range(n_blocks):
            yield block  # the client never holds the whole file either
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    baseline = server.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        r = requests.post(f"{live_server.base_url}/datasets/{ds}/files", data=body(), timeout=300,
                          headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    finally:
        done.set()
        sampler.join()
    elapsed = time.monotonic() - started
    assert r.status_code == 204, r.text
    growth_mb = (peak - baseline) / MB
    print(f"200 MB upload: {elapsed:.1f} s, {n_blocks / elapsed:.0f} MB/s, server RSS growth {growth_mb:.1f} MB")
    assert growth_mb < 64, f"server RSS grew by {growth_mb:.0f} MB during a {n_blocks} MB upload"

    files = requests.get(f"{live_server.base_url}/datasets/{ds}/files", headers=headers, timeout=30).json()["data"]
    assert [(f["filename"], f["size"]) for f in files] == [("big.wav", len(header) + n_blocks * MB)]
    report = requests.get(f"{live_server.base_url}/datasets/{ds}/report", headers=headers, timeout=30).json()
    assert report["files"][0]["sha256"] == digest.hexdigest()
    requests.delete(f"{live_server.base_url}/datasets/{ds}", headers=headers, timeout=30)


def test_interrupted_upload_leaves_nothing(live_server):
    ds, headers = _dataset(live_server, "uploads")
    url = urlparse(live_server.base_url)
    head = _part_header("cut.bin")
    declared = len(head) + 50 * MB + len(f"\r\n--{BOUNDARY}--\r\n")
    request = (f"POST /datasets/{ds}/files HTTP/1.1\r\nHost: {url.netloc}\r\n"
               f"Authorization: {headers['Authorization']}\r\n"
               f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {declared}\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request + head)
        chunk = b"\x01" * MB
        for _ in range(8):  # 8 of the 50 MB, then hang up
            sock.sendall(chunk)
        deadline = time.monotonic() + 30
        while not _temp_files(live_server) and time.monotonic() < deadline:
            time.sleep(0.05)  # the server is streaming into a temp file...
        assert _temp_files(live_server), "the upload never reached the blob store's temp area"
    # ...until the client is gone: then nothing may remain, listed or on disk.
    deadline = time.monotonic() + 15
    while _temp_files(live_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _temp_files(live_server) == []
    files = requests.get(f"{live_server.base_url}/datasets/{ds}/files", headers=headers, timeout=30).json()["data"]
    assert files == []
    assert not (live_server.data_dir / "blobs" / "datasets" / ds).exists()
    # and the server is still healthy
    assert requests.get(f"{live_server.base_url}/", timeout=10).json()["ok"] is True
