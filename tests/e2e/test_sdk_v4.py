"""The official `cartesia` v4 SDK, unchanged except for its base URL, against a live voicesmith."""

from __future__ import annotations

import io
import time
import wave
from pathlib import Path

import pytest

cartesia = pytest.importorskip("cartesia", minversion="4")


def _wav_bytes(seconds: float, freq: float) -> bytes:
    import numpy as np

    sr = 16000
    t = np.arange(int(sr * seconds)) / sr
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.sin(2 * np.pi * freq * t) * 6000).astype("<i2").tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def three_wavs(speech_data: Path) -> list[Path]:
    rows = [line.split("\t") for line in (speech_data / "manifest.tsv").read_text().splitlines()[1:]]
    paths = [speech_data / r[2] for r in rows if r[0] == "allison_en" and 2.0 < float(r[3]) < 8.0][:3]
    assert len(paths) == 3
    return paths


def _client(live_server, key: str | None = None, **kw):
    return cartesia.Cartesia(api_key=key or live_server.api_key, base_url=live_server.base_url, max_retries=0, **kw)


def test_status(live_server):
    status = _client(live_server).get_status()
    assert status.ok is True and status.version


def test_pvc_workflow(live_server, three_wavs):
    client = _client(live_server, live_server.make_key("sdk-v4"))
    ds = client.datasets.create(name="sdk v4", description="three clips")
    assert ds.id and ds.name == "sdk v4"
    assert client.datasets.retrieve(ds.id).id == ds.id
    client.datasets.update(ds.id, name="sdk v4 renamed", description="three clips")
    assert client.datasets.retrieve(ds.id).name == "sdk v4 renamed"
    assert ds.id in [d.id for d in client.datasets.list()]

    for path in three_wavs:
        with path.open("rb") as fh:
            assert client.datasets.files.upload(ds.id, file=fh, purpose="fine_tune") is None

    first = client.datasets.files.list(ds.id, limit=2)
    assert len(first.data) == 2
    # auto-pagination: follows starting_after until an empty page
    files = list(client.datasets.files.list(ds.id, limit=2))
    assert [f.filename for f in files] == [p.name for p in three_wavs]
    assert [f.size for f in files] == [p.stat().st_size for p in three_wavs]

    ft = client.fine_tunes.create(dataset=ds.id, name="sdk ft", description="from the SDK", language="en",
                                  model_id="sonic-3-2026-01-12")
    assert ft.status in ("created", "training", "failed", "completed") and ft.dataset == ds.id
    got = client.fine_tunes.retrieve(ft.id)
    assert got.id == ft.id and got.model_id == "sonic-3-2026-01-12"
    assert ft.id in [f.id for f in client.fine_tunes.list()]
    voices = list(client.fine_tunes.list_voices(ft.id))
    assert all(v.is_owner for v in voices)

    client.fine_tunes.delete(ft.id)
    with pytest.raises(cartesia.NotFoundError):
        client.fine_tunes.retrieve(ft.id)
    client.datasets.files.delete(files[0].id, id=ds.id)
    assert [f.id for f in client.datasets.files.list(ds.id)] == [f.id for f in files[1:]]
    client.datasets.delete(ds.id)
    with pytest.raises(cartesia.NotFoundError):
        client.datasets.retrieve(ds.id)


def test_voices_through_sdk(live_server):
    client = _client(live_server)
    voices = list(client.voices.list(limit=2))
    assert len({v.id for v in voices}) == len(voices)
    for v in voices:
        assert client.voices.get(v.id).id == v.id


def test_error_mapping(live_server):
    with pytest.raises(cartesia.AuthenticationError) as err:
        _client(live_server, "sk_vs_not_a_key").datasets.list().data
    assert err.value.status_code == 401
    assert err.value.body["error_code"] == "unauthorized"

    client = _client(live_server, live_server.make_key("sdk-v4"))
    with pytest.raises(cartesia.NotFoundError) as err:
        client.datasets.retrieve("dataset_does_not_exist")
    assert err.value.body["error_code"] == "dataset_not_found" and err.value.body["request_id"]

    with pytest.raises(cartesia.UnprocessableEntityError) as err:
        client.datasets.list(limit=1000).data
    assert "limit" in err.value.body["message"]

    with pytest.raises(cartesia.BadRequestError) as err:
        ds = client.datasets.create(name="e", description="")
        client.datasets.files.upload(ds.id, file=("a.wav", _wav_bytes(1.0, 200.0)), purpose="fine_tune")
        client.fine_tunes.create(dataset=ds.id, name="x", description="", language="en", model_id="no-such-model")
    assert err.value.body["error_code"] == "model_not_found"


def test_insufficient_credits_is_402(live_server):
    # An organisation whose balance cannot cover one fine-tune, set up through the data dir's database.
    import sqlite3

    key = live_server.make_key("sdk-poor")
    with sqlite3.connect(live_server.data_dir / "voicesmith.db") as db:
        db.execute("UPDATE organizations SET credits_balance = 10 WHERE name = 'sdk-poor'")
    client = _client(live_server, key)
    ds = client.datasets.create(name="p", description="")
    client.datasets.files.upload(ds.id, file=("a.wav", _wav_bytes(1.0, 300.0)), purpose="fine_tune")
    with pytest.raises(cartesia.APIStatusError) as err:
        client.fine_tunes.create(dataset=ds.id, name="x", description="", language="en", model_id="sonic-2")
    assert err.value.status_code == 402 and err.value.body["error_code"] == "insufficient_credits"
    assert [f for f in client.fine_tunes.list().data if f.dataset == ds.id] == []


def test_cross_org_isolation_through_sdk(live_server):
    a = _client(live_server, live_server.make_key("sdk-v4"))
    b = _client(live_server, live_server.make_key("sdk-other"))
    ds = a.datasets.create(name="private", description="")
    with pytest.raises(cartesia.NotFoundError):
        b.datasets.retrieve(ds.id)
    with pytest.raises(cartesia.NotFoundError):
        b.datasets.files.upload(ds.id, file=("x.wav", _wav_bytes(0.5, 100.0)), purpose="fine_tune")
    assert ds.id not in [d.id for d in b.datasets.list()]
    assert a.datasets.retrieve(ds.id).id == ds.id
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and list(a.datasets.files.list(ds.id)):
        time.sleep(0.1)
    assert list(a.datasets.files.list(ds.id)) == []
