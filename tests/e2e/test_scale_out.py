"""The reference deployment of docs/deploy.md, on real servers started here (issue 16): PostgreSQL (Debian's
server binaries, a throwaway cluster), redis-server, an S3 server (moto's), two API processes
(`voicesmith serve --no-worker`) and two workers (`voicesmith worker`), each with a data directory of its own, as
on separate machines.

- The whole professional voice clone through the official `cartesia` SDK, alternating between the two API ports
  (uploads on both, the report and the fine-tune's status on the other one than it was created on, TTS on both);
  the worker running the fine-tune is SIGKILLed mid-training, and the other worker finishes it from the checkpoint
  the first one left in the bucket.
- The TTS concurrency limit (1 here) counted across both API processes, and the slots of a killed API process
  freed within the lease TTL.

A real fine-tune (tiny budget, one minute of speech) runs twice over here: minutes on a quiet machine, so the module
is behind `-m slow`. Its parts have fast tests of their own: tests/store/test_blobs*.py (S3),
tests/service/test_checkpoints.py and tests/worker/test_checkpoint_handover.py (checkpoints across machines),
tests/service/test_limits_redis.py (the shared limits).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.engine.adapt_data import corpus_rows
from tests.pg_support import PostgresUnavailable, running_postgres
from tests.tts_support import assert_speech, decode_wav
from tests.worker.jobs_support import free_port, wait_for

cartesia = pytest.importorskip("cartesia", minversion="4")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

VOICESMITH = Path(sys.executable).with_name("voicesmith")
SYNC_S = 2.0
LEASE_TTL_S = 3.0
TRAIN_TIMEOUT_S = 2400
WAV = {"container": "wav", "encoding": "pcm_s16le", "sample_rate": 24000}
VERSION = "2026-03-01"


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    db_url: str
    bucket: str
    s3: object
    ports: list[int] = field(default_factory=list)
    apis: list[subprocess.Popen] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> subprocess.Popen:
        data = self.root / name
        data.mkdir(exist_ok=True)
        log = open(self.root / f"{name}.log", "ab")
        return subprocess.Popen([str(VOICESMITH), *args, "--data", str(data)], env={**self.env, "VOICESMITH_DATA": str(data)},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def key(self, org: str) -> str:
        if org not in self.keys:
            self.keys[org] = subprocess.run(
                [str(VOICESMITH), "keys", "create", "--org", org, "--data", str(self.root / "admin")],
                env={**self.env, "VOICESMITH_DATA": str(self.root / "admin")}, capture_output=True, text=True,
                check=True, timeout=300).stdout.strip()
        return self.keys[org]

    def base(self, node: int) -> str:
        return f"http://127.0.0.1:{self.ports[node]}"

    def sdk(self, node: int, org: str) -> cartesia.Cartesia:
        return cartesia.Cartesia(api_key=self.key(org), base_url=self.base(node),
                                 websocket_base_url=f"ws://127.0.0.1:{self.ports[node]}", max_retries=0, timeout=300)

    def rest(self, node: int, org: str) -> httpx.Client:
        return httpx.Client(base_url=self.base(node), timeout=60,
                            headers={"Authorization": f"Bearer {self.key(org)}", "Cartesia-Version": VERSION})

    def fine_tune_row(self, ft_id: str) -> dict:
        engine = sa.create_engine(self.db_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                return dict(conn.execute(sa.text("SELECT * FROM fine_tunes WHERE id = :id"), {"id": ft_id})
                            .mappings().one())
        finally:
            engine.dispose()

    def stored_checkpoint(self, ft_id: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"vs/checkpoints/{ft_id}/")
        return [o["Key"].split(f"{ft_id}/", 1)[1] for o in listing.get("Contents", [])]


def _wait(predicate, timeout: float, what: str, interval: float = 1.0):  # noqa: ANN001, ANN202
    return wait_for(predicate, timeout, what, interval)  # polling once a second by default: these are slow steps


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3_server, redis_server_url):
    try:
        pg = running_postgres()
        db_url = pg.__enter__()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("scale-out")
    bucket = s3_server.new_bucket()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICESMITH_")}
    env.update({
        "VOICESMITH_DATABASE_URL": db_url,
        "VOICESMITH_BROKER_URL": redis_server_url.rsplit("/", 1)[0] + "/5",  # a database of its own
        "VOICESMITH_BLOB_URL": f"s3://{bucket}/vs",
        "VOICESMITH_TOKEN_SECRET": "0123456789abcdef" * 4,
        "VOICESMITH_TTS_CONCURRENCY": "1",
        "VOICESMITH_TTS_LEASE_TTL_S": str(LEASE_TTL_S),
        "VOICESMITH_HEARTBEAT_TIMEOUT_S": "10",
        "VOICESMITH_CHECKPOINT_SYNC_S": str(SYNC_S),
        "VOICESMITH_MIN_USABLE_SPEECH_S": "30",
        "VOICESMITH_SPEECH_DATA": os.environ.get("VOICESMITH_SPEECH_DATA", ""),
        "PYTHONUNBUFFERED": "1",
        **s3_server.env,
    })
    c = Cluster(root, env, db_url, bucket, s3_server.client())
    try:
        for i in range(2):
            c.ports.append(free_port())
            c.apis.append(c.start(f"api{i}", "serve", "--no-worker", "--port", str(c.ports[i])))
        for i, proc in enumerate(c.apis):
            def up(i=i, proc=proc) -> bool:  # noqa: ANN001
                assert proc.poll() is None, c.log(f"api{i}")[-3000:]
                try:
                    return httpx.get(c.base(i) + "/", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False
            _wait(up, 300, f"API node {i} to answer")
        c.workers = [c.start(f"worker{i}", "worker", "--concurrency", "1") for i in range(2)]
        yield c
    finally:
        for proc in c.apis + c.workers:
            _stop(proc)
        pg.__exit__(None, None, None)


def _speak(client: cartesia.Cartesia, voice_id: str, text: str, min_s: float = 0.3) -> None:
    audio = client.tts.generate(model_id="sonic-3", transcript=text, voice={"mode": "id", "id": voice_id},
                                language="en", output_format=WAV)
    pcm, rate, _ = decode_wav(audio.read())
    assert_speech(pcm, rate, min_s=min_s, max_s=15)


def test_professional_clone_across_nodes_with_a_worker_killed_mid_training(cluster, speech_data):
    org = "scale-out"
    a, b = cluster.sdk(0, org), cluster.sdk(1, org)
    rest_a, rest_b = cluster.rest(0, org), cluster.rest(1, org)

    ds = a.datasets.create(name="allison", description="one minute, two nodes")
    rows = corpus_rows(speech_data, "allison_en", minutes=1.2)
    for i, row in enumerate(rows):  # uploads alternate between the nodes, all into one dataset in the bucket
        with (speech_data / row["path"]).open("rb") as fh:
            (a if i % 2 == 0 else b).datasets.files.upload(ds.id, file=fh, purpose="fine_tune")
    assert len(list(b.datasets.files.list(ds.id))) == len(rows)
    report = _wait(lambda: (r := rest_b.get(f"/datasets/{ds.id}/report").json())["status"] != "pending" and r,
                   900, "the dataset report")
    assert report["status"] == "ready" and report["report"]["ok_to_train"], report

    ft = a.fine_tunes.create(dataset=ds.id, name="Allison", description="killed once", language="en",
                             model_id="sonic-3-2026-01-12", extra_body={"budget": "tiny"})

    # Node B reports the training; once it is adapting and its prepared utterances are in the bucket, the
    # machine running it goes away.
    def adapting() -> bool:
        body = rest_b.get(f"/fine-tunes/{ft.id}").json()
        assert body["status"] in ("created", "training"), body
        stored = cluster.stored_checkpoint(ft.id)
        return body.get("stage") == "adapt" and "files/prepared.json" in stored and "synced.json" in stored

    _wait(adapting, TRAIN_TIMEOUT_S, "the fine-tune to reach adaptation with its checkpoint stored", interval=2)
    time.sleep(2 * SYNC_S)
    row = cluster.fine_tune_row(ft.id)
    pool_pid = int(row["worker_id"].split("/")[1])
    victim = next(i for i, w in enumerate(cluster.workers)
                  if pool_pid in {p.pid for p in psutil.Process(w.pid).children(recursive=True)})
    os.killpg(cluster.workers[victim].pid, signal.SIGKILL)
    cluster.workers[victim].wait()
    survivor = 1 - victim

    final = _wait(lambda: (r := rest_a.get(f"/fine-tunes/{ft.id}").json())["status"] in ("completed", "failed") and r,
                  TRAIN_TIMEOUT_S, "the fine-tune to end on the other worker", interval=3)
    assert final["status"] == "completed", (final, cluster.log(f"worker{survivor}")[-5000:])
    row = cluster.fine_tune_row(ft.id)
    assert row["attempts"] == 2
    survivor_log = cluster.log(f"worker{survivor}")
    assert f"fine-tune {ft.id}: restored" in survivor_log, survivor_log[-5000:]
    # The second attempt started from the first one's prepared utterances: no segmenting or transcribing again.
    report = rest_b.get(f"/fine-tunes/{ft.id}/report").json()["report"]
    assert report["timings_s"]["segment_transcribe"] < 5, report["timings_s"]
    # The stored checkpoint goes with the job's end (the worker deletes it just after recording the completion).
    _wait(lambda: cluster.stored_checkpoint(ft.id) == [], 120, "the stored checkpoint to be deleted")

    voices = list(b.fine_tunes.list_voices(ft.id))
    assert len(voices) == 4
    # A voice made by a worker is spoken by both API nodes (each fetches the artifact into its own cache).
    _speak(a, voices[0].id, "The library closes early on Sundays.", min_s=1.0)
    _speak(b, voices[1].id, "The library closes early on Sundays.", min_s=1.0)
    for i in range(2):
        assert list((cluster.root / f"api{i}" / "blob-cache" / "voices").glob("*")), f"api{i} cached no voice"


def _hold_context(ws, voice: str, cid: str) -> None:  # noqa: ANN001
    # Unfinished text waits in the buffer: the context is open (and holds its slot) but nothing is spoken yet.
    ws.send(json.dumps({"model_id": "sonic-2", "voice": {"mode": "id", "id": voice}, "transcript": "Hello there my",
                        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000},
                        "language": "en", "context_id": cid, "continue": True, "max_buffer_delay_ms": 5000}))


def test_the_concurrency_limit_holds_across_both_api_processes(cluster):
    org = "limits"
    key = cluster.key(org)
    b = cluster.sdk(1, org)
    voice = cluster.rest(0, org).get("/voices").json()["data"][0]["id"]
    headers = {"Authorization": f"Bearer {key}", "Cartesia-Version": VERSION}

    def speak_on_b() -> bool:
        try:
            _speak(b, voice, "Hello.")
            return True
        except cartesia.RateLimitError:
            return False

    def limited_on_b() -> bool:
        # Refused three times over a second: the slot is held elsewhere, not just B's own last request ending.
        for _ in range(3):
            if speak_on_b():
                return False
            time.sleep(0.5)
        return True

    try:
        with connect(f"ws://127.0.0.1:{cluster.ports[0]}/tts/websocket", additional_headers=headers,
                     open_timeout=30) as ws:
            _hold_context(ws, voice, "held")
            # Node A takes the slot once it has handled the message (seconds, on a busy machine).
            _wait(limited_on_b, 30, "node A's context to take the slot", interval=0.2)
            with pytest.raises(cartesia.RateLimitError) as err:  # the one slot is taken, on the other process
                _speak(b, voice, "Hello.")
            assert "concurrency_limited" in str(err.value)
            ws.send(json.dumps({"context_id": "held", "cancel": True}))
            _wait(speak_on_b, 20, "node B to get the slot node A released", interval=0.2)

            # Node A dies holding the slot: node B gets it once A's lease has lapsed.
            _hold_context(ws, voice, "held-2")
            _wait(limited_on_b, 30, "node A's second context to take the slot", interval=0.2)
            os.killpg(cluster.apis[0].pid, signal.SIGKILL)
            cluster.apis[0].wait()
            killed = time.monotonic()
    except (ConnectionClosed, OSError):
        pass  # closing the socket of the node just killed
    _wait(speak_on_b, 30, "the dead node's slot to be freed", interval=0.2)
    assert time.monotonic() - killed < LEASE_TTL_S + 15  # the TTL, plus one TTS request on a busy machine
