"""VoicesmithClient against a real voicesmith server (the session's `live_server`), no HTTP mocks."""

from __future__ import annotations

import io
import socket
import uuid
import wave
from pathlib import Path

import pytest
import soundfile as sf

from voicesmith.client import (
    AuthError,
    BadRequest,
    NotFound,
    ServerUnavailable,
    VoicesmithClient,
)


@pytest.fixture()
def client(live_server) -> VoicesmithClient:
    # A small page size so that listing "all pages" really crosses pages.
    with VoicesmithClient(live_server.base_url, live_server.api_key, page_size=2) as c:
        yield c


@pytest.fixture()
def clips(speech_data: Path) -> list[Path]:
    return sorted((speech_data / "wav" / "allison_en").glob("*.wav"))[:3]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_dataset_lifecycle_and_listing_across_pages(client: VoicesmithClient) -> None:
    names = [_unique("client-ds") for _ in range(3)]
    created = [client.create_dataset(n, "for the client test") for n in names]
    listed = {d.id: d for d in client.list_datasets()}
    assert {d.id for d in created} <= set(listed)
    assert listed[created[0].id].name == names[0]

    client.update_dataset(created[0].id, "renamed", "new description")
    got = client.get_dataset(created[0].id)
    assert (got.name, got.description) == ("renamed", "new description")

    for d in created:
        client.delete_dataset(d.id)
    with pytest.raises(NotFound) as info:
        client.get_dataset(created[0].id)
    assert info.value.status == 404 and info.value.error_code


def test_upload_streams_with_progress_and_lists_files(client: VoicesmithClient, clips: list[Path]) -> None:
    ds = client.create_dataset(_unique("client-files"), "")
    seen: list[tuple[int, int]] = []
    for clip in clips:
        client.upload_file(ds.id, clip, on_progress=lambda sent, total: seen.append((sent, total)))
    # Progress is reported chunk by chunk, never goes back, and ends at the file's size.
    last_clip_updates = [s for s in seen if s[1] == clips[-1].stat().st_size]
    assert last_clip_updates[0][0] == 0 and last_clip_updates[-1][0] == clips[-1].stat().st_size
    assert all(a[0] <= b[0] for a, b in zip(last_clip_updates, last_clip_updates[1:]))

    files = client.list_files(ds.id)  # page size 2: three files cross a page boundary
    assert sorted(f.filename for f in files) == sorted(c.name for c in clips)
    assert {f.filename: f.size for f in files} == {c.name: c.stat().st_size for c in clips}

    report = client.dataset_report(ds.id)
    assert report.status in ("pending", "ready", "failed")
    assert {f.filename for f in report.uploaded} == {c.name for c in clips}
    assert all(f.sha256 and len(f.sha256) == 64 for f in report.uploaded)

    client.delete_file(ds.id, files[0].id)
    assert len(client.list_files(ds.id)) == 2
    client.delete_dataset(ds.id)


def test_fine_tune_errors_carry_the_servers_code(client: VoicesmithClient) -> None:
    ds = client.create_dataset(_unique("client-empty"), "")
    with pytest.raises(BadRequest) as info:
        client.create_fine_tune(ds.id, name="x", language="en", model_id="kokoro-82m-v1.0")
    assert info.value.status == 400 and info.value.error_code == "dataset_empty"
    assert "no files" in info.value.message
    with pytest.raises(BadRequest) as info:
        client.create_fine_tune(ds.id, name="x", language="en", model_id="no-such-model")
    assert info.value.error_code == "model_not_found"
    with pytest.raises(BadRequest) as info:
        client.create_fine_tune(ds.id, name="x", language="en", model_id="kokoro-82m-v1.0", budget="huge")
    assert "budget" in info.value.message  # validation errors name the field
    with pytest.raises(NotFound):
        client.get_fine_tune("fine_tune_does_not_exist")
    client.delete_dataset(ds.id)


def test_unknown_voice_is_not_found(client: VoicesmithClient) -> None:
    with pytest.raises(NotFound) as info:
        client.get_voice(str(uuid.uuid4()))
    assert info.value.error_code


def test_stock_voices_are_listed_and_fetched(client: VoicesmithClient, tts_available: None) -> None:
    voices = client.list_voices()  # page size 2: five stock voices cross pages
    assert len(voices) >= 5 and len({v.id for v in voices}) == len(voices)
    first = client.get_voice(voices[0].id)
    assert first.id == voices[0].id and first.name


def test_tts_bytes_and_stream_with_a_stock_voice(client: VoicesmithClient, tmp_path: Path, tts_available: None) -> None:
    voice = client.list_voices()[0]
    out = tmp_path / "hello.wav"
    n = client.tts_to_file(
        out,
        "Hello from the client test.",
        voice_id=voice.id,
        model_id="kokoro-82m-v1.0",
        output_format={"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000},
        language="en",
    )
    audio, rate = sf.read(out)
    assert n == out.stat().st_size and rate == 16000 and len(audio) > 0.5 * rate
    with wave.open(str(out)) as w:  # the header's sizes are the file's, not a stream's placeholder
        assert w.getnframes() == len(audio)
    pcm = b"".join(client.tts_stream("Streaming works too.", voice_id=voice.id, model_id="sonic-2", sample_rate=24000))
    samples, _ = sf.read(io.BytesIO(pcm), format="RAW", subtype="PCM_16", samplerate=24000, channels=1)
    assert len(samples) > 0.5 * 24000 and abs(samples).max() > 0.01


def test_bad_key_is_an_auth_error(live_server) -> None:
    with VoicesmithClient(live_server.base_url, "sk_not_a_real_key") as c, pytest.raises(AuthError) as info:
        c.list_datasets()
    assert info.value.status == 401


def test_server_down_is_server_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        with VoicesmithClient(f"http://127.0.0.1:{port}", "k", timeout=5) as c, pytest.raises(ServerUnavailable) as info:
            c.list_voices()
    assert info.value.status is None and f"127.0.0.1:{port}" in info.value.message


def test_usage_needs_an_admin_key(live_server, client: VoicesmithClient) -> None:
    usage = client.usage_credits(interval="day")  # the session's key is an admin key
    assert isinstance(usage["data"], list) and all("credits" in b for b in usage["data"])
    with VoicesmithClient(live_server.base_url, live_server.make_key("cli-plain-org")) as plain, pytest.raises(AuthError) as info:
        plain.usage_credits()
    assert info.value.status in (401, 403)


def test_organisations_do_not_see_each_others_datasets(live_server, client: VoicesmithClient) -> None:
    ds = client.create_dataset(_unique("client-private"), "")
    with VoicesmithClient(live_server.base_url, live_server.make_key("cli-other-org")) as other:
        assert ds.id not in {d.id for d in other.list_datasets()}
        with pytest.raises(NotFound):
            other.get_dataset(ds.id)
    client.delete_dataset(ds.id)


def test_consent_challenge_and_a_recording_that_does_not_say_the_code(client: VoicesmithClient,
                                                                       speech_data: Path) -> None:
    from tests.consent_support import training_files

    ds = client.create_dataset(_unique("client-consent"), "")
    for clip in training_files(speech_data)[:4]:
        client.upload_file(ds.id, clip)
    state = client.consent_status(ds.id)
    assert state["consent"] == "unverified" and state["policy"] == "record" and state["challenge"] is None
    challenge = client.consent_challenge(ds.id, "Allison")
    assert challenge["statement"].startswith("I, Allison, agree") and challenge["code"] in challenge["statement"]
    assert client.consent_status(ds.id)["challenge"]["id"] == challenge["id"]
    recording = speech_data / "wav" / "allison_en" / "confbridge-pin-bad.wav"  # her voice, not the fresh code
    attempt = client.submit_consent(ds.id, recording)
    assert not attempt["verified"] and attempt["reason_code"] == "code_mismatch", attempt
    assert attempt["speaker"]["ok"] and attempt["text"]["transcript"]
