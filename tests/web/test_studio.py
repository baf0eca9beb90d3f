"""The web studio in a real (headless) Chromium against a live voicesmith server.

Every check compares what the page shows with what the public API says at the same moment, and
HTTP statuses are read from Chromium's own network log (DevTools performance log), not from the page.

A tiny fine-tune is started through the page's confirmation; the checks that wait for it to complete
(`trained`: up to 45 min on a loaded machine) are @pytest.mark.slow, and reuse it for A/B, likeness and delete.
Their fast sibling stores a completed fine-tune through the service layer and checks likeness and A/B on it.
Screenshots of every section at 375 px and 1280 px wide go to $VOICESMITH_TEST_ARTIFACTS (else a pytest
temporary folder, printed).
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf
from tests.web.browser_support import click, connect, goto, q, qa, wait_for

pytestmark = pytest.mark.timeout(240)

WEB_ROOT = Path(__file__).resolve().parents[2] / "src" / "voicesmith" / "web"
API_VERSION = "2026-03-01"
# Enough real speech in three files that the dataset passes the 60 s minimum once it is analysed.
SECONDS_PER_UPLOAD = 30.0
UPLOADS = 3
WIDTHS = (375, 1280)
SECTIONS = ("voices", "datasets", "fine-tunes", "playground")


# Helpers ----------------------------------------------------------------------------------------

class Api:
    """The same public API the page uses, called directly to know the truth."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {key}", "Cartesia-Version": API_VERSION}

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(self.base_url + path, headers=self.headers, params=params, timeout=15)

    def delete(self, path: str) -> requests.Response:
        return requests.delete(self.base_url + path, headers=self.headers, timeout=15)

    def json(self, path: str, **params) -> dict:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def all(self, path: str) -> list[dict]:
        items: list[dict] = []
        after = None
        while True:
            page = self.json(path, limit=100, **({"starting_after": after} if after else {}))
            items += page["data"]
            if not page["has_more"] or not page["data"]:
                return items
            after = page["data"][-1]["id"]


class Network:
    """HTTP responses the browser saw, from the DevTools Network events in the performance log."""

    def __init__(self, driver) -> None:
        self.driver = driver
        self.methods: dict[str, str] = {}
        self.responses: list[dict] = []

    def poll(self) -> list[dict]:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message.get("params", {})
            if message["method"] == "Network.requestWillBeSent":
                self.methods[params["requestId"]] = params["request"]["method"]
            elif message["method"] == "Network.responseReceived":
                response = params["response"]
                self.responses.append({"method": self.methods.get(params["requestId"]), "url": response["url"],
                                       "status": response["status"], "mime": response.get("mimeType", "")})
        return self.responses

    def matching(self, method: str, path_pattern: str) -> list[dict]:
        return [r for r in self.poll() if r["method"] == method and re.search(path_pattern, r["url"])]


# A drop event carrying one file built from base64 bytes, as a desktop drag would deliver it.
DROP_FILE = """
const [zone, name, b64] = arguments;
const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], name, {type: "audio/wav"}));
for (const type of ["dragover", "drop"]) {
  zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
}
"""


def player_src_or_error(driver) -> str | None:
    """The player's blob URL once set; fails at once with the page's error card if one appears."""
    cards = qa(driver, "#errors .error-card")
    assert not cards, f"the page shows an error: {cards[0].text}"
    src = q(driver, "#player").get_attribute("src") or ""
    return src if src.startswith("blob:") else None


def confirm(driver, expect_title: str) -> object:
    """The open confirmation dialog (its title must contain `expect_title`)."""
    dialog = wait_for(lambda: driver.execute_script("return document.getElementById('confirm').open")
                      and q(driver, "#confirm"), 10, "the confirmation dialog")
    assert expect_title in q(dialog, "#confirm-title").text
    return dialog


def player_duration(driver) -> float:
    return driver.execute_script("const p = document.getElementById('player'); "
                                 "return p.readyState >= 1 && Number.isFinite(p.duration) ? p.duration : 0")


def console_errors(driver, allowed_statuses=(), allowed_failures=()) -> list[str]:
    """SEVERE console entries since the last call, except failed loads with an expected HTTP status, and
    `allowed_failures`: (url part, network error) pairs expected from a test."""
    errors = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        message = entry["message"]
        if "Failed to load resource" in message and any(f"status of {s}" in message for s in allowed_statuses):
            continue
        if any(url in message and error in message for url, error in allowed_failures):
            continue
        errors.append(message)
    return errors


def real_speech_wavs(speech_data: Path, out_dir: Path) -> list[Path]:
    """Three WAVs of one real speaker (allison_en), each ~30 s of her consecutive prompts."""
    rows = [line.split("\t") for line in (speech_data / "manifest.tsv").read_text().splitlines()[1:]]
    clips = [speech_data / row[2] for row in rows if row[0] == "allison_en"]
    assert clips, "allison_en is missing from the speech data"
    paths = []
    for part in range(UPLOADS):
        audio, rate, total = [], None, 0.0
        for clip in clips[part * 40:]:
            data, sr = sf.read(clip, dtype="float32")
            rate = rate or sr
            if sr != rate:
                continue
            audio.append(data)
            total += len(data) / sr
            if total >= SECONDS_PER_UPLOAD:
                break
        path = out_dir / f"allison_part{part + 1}.wav"
        sf.write(path, np.concatenate(audio), rate, subtype="PCM_16")
        paths.append(path)
    return paths


# Fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def studio_key(live_server) -> str:
    # An organisation of its own: other modules' datasets, fine-tunes and voices never show up here.
    return live_server.make_key("studio")


@pytest.fixture(scope="module")
def api(live_server, studio_key) -> Api:
    return Api(live_server.base_url, studio_key)


@pytest.fixture(scope="module")
def studio(browser, live_server, studio_key):
    """The studio page, loaded and connected with the studio organisation's key."""
    browser.get(live_server.base_url + "/studio/")
    connect(browser, studio_key)
    wait_for(lambda: q(browser, "#conn-status").get_attribute("data-state") == "ok", 20, "the studio to connect")
    return browser


@pytest.fixture(scope="module")
def network(studio) -> Network:
    return Network(studio)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("VOICESMITH_TEST_ARTIFACTS")
    path = Path(folder) / "studio" if folder else tmp_path_factory.mktemp("studio-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    print(f"studio screenshots: {path}")
    return path


def screenshot(driver, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    path.write_bytes(driver.get_screenshot_as_png())
    return path


# Static files -----------------------------------------------------------------------------------

def test_studio_files_are_served_with_their_content_types(live_server):
    base = live_server.base_url
    redirect = requests.get(base + "/studio", allow_redirects=False, timeout=10)
    assert redirect.status_code in (301, 302, 307, 308) and redirect.headers["location"].endswith("/studio/")
    expected = {"": "text/html", "studio.css": "text/css", "js/main.js": "text/javascript",
                "js/api.js": "text/javascript", "favicon.svg": "image/svg+xml"}
    for path, content_type in expected.items():
        response = requests.get(f"{base}/studio/{path}", timeout=10)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(content_type), (path, response.headers["content-type"])
    # The page may only load from its own server; audio plays from blob: URLs it makes itself.
    csp = requests.get(base + "/studio/", timeout=10).headers["content-security-policy"]
    assert "default-src 'self'" in csp and "media-src 'self' blob:" in csp
    for bad in ("missing.js", "%2e%2e/api/routes/studio.py", "js/../../api/app.py", ".hidden.js"):
        response = requests.get(f"{base}/studio/{bad}", timeout=10)
        assert response.status_code == 404, bad
        assert response.json()["error_code"] == "not_found"


def test_studio_loads_nothing_from_other_hosts():
    html = (WEB_ROOT / "index.html").read_text()
    for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not re.match(r"^(?:[a-z]+:)?//", ref), f"index.html loads {ref} from elsewhere"
    for script in (WEB_ROOT / "js").glob("*.js"):
        for spec in re.findall(r'^import .* from "([^"]+)";', script.read_text(), flags=re.M):
            assert spec.startswith("./"), f"{script.name} imports {spec}"
    css = (WEB_ROOT / "studio.css").read_text()
    assert "@import" not in css and "url(" not in css


# The page ---------------------------------------------------------------------------------------

def test_a_wrong_key_shows_the_servers_error(browser, live_server):
    browser.get(live_server.base_url + "/studio/")
    wrong = "sk_wrong_" + uuid.uuid4().hex
    expected = requests.get(live_server.base_url + "/voices", timeout=10,
                            headers={"Authorization": f"Bearer {wrong}", "Cartesia-Version": API_VERSION})
    assert expected.status_code == 401
    connect(browser, wrong)
    wait_for(lambda: q(browser, "#conn-status").get_attribute("data-state") == "error", 15, "the key to be rejected")
    card = wait_for(lambda: qa(browser, "#errors .error-card"), 5, "an error card")[0]
    body = expected.json()
    assert card.get_attribute("data-code") == body["error_code"]
    assert q(browser, "#errors .error-message").text == body["message"]
    assert body["title"] in q(browser, "#errors .error-title").text
    assert "HTTP 401" in q(browser, "#errors .error-meta").text


def test_connecting_lists_the_voices_the_api_lists(studio, api):
    voices = api.all("/voices")
    stock = [v for v in voices if not v["is_owner"]]
    assert stock, "the server lists no stock voices"
    assert q(studio, "#conn-status").text == f"Connected · {len(voices)} voices"
    assert studio.execute_script("return localStorage.getItem('voicesmith.apiKey')") == api.headers["Authorization"][7:]
    rows = qa(studio, "#voice-rows tr[data-voice-id]")
    shown = {row.get_attribute("data-voice-id"): row for row in rows}
    assert set(shown) == {v["id"] for v in voices}
    for voice in stock:
        row = shown[voice["id"]]
        assert q(row, ".name").text == voice["name"]
        assert q(row, ".tag").text == "Stock"
    # The key is remembered: a reload connects without asking again.
    studio.refresh()
    wait_for(lambda: q(studio, "#conn-status").get_attribute("data-state") == "ok", 20, "the reload to reconnect")


def test_own_voices_show_their_consent_badge(studio, api, speech_data):
    clip = speech_data / "wav" / "allison_en" / "demo-echotest.wav"
    r = requests.post(api.base_url + "/voices/clone", headers=api.headers, timeout=300,
                      files={"clip": (clip.name, clip.read_bytes(), "audio/wav")},
                      data={"name": "Badge test", "language": "en"})
    assert r.status_code == 200, r.text
    voice_id = r.json()["id"]
    assert api.json(f"/voices/{voice_id}")["consent"] == "unverified"
    click(studio, q(studio, "#voices-refresh"))
    row = wait_for(lambda: next(iter(qa(studio, f'#voice-rows tr[data-voice-id="{voice_id}"]')), None), 20,
                   "the new voice to be listed")
    badge = q(row, ".badge.consent")
    assert badge.text == "Unverified" and badge.get_attribute("data-consent") == "unverified"
    stock_row = next(row for row in qa(studio, "#voice-rows tr[data-voice-id]") if q(row, ".tag").text == "Stock")
    assert qa(stock_row, ".badge.consent") == []
    requests.delete(api.base_url + f"/voices/{voice_id}", headers=api.headers, timeout=15)


def test_playing_a_stock_voice_fills_the_player(studio, api, network):
    stock = [v for v in api.all("/voices") if not v["is_owner"]]
    assert stock, "the server lists no stock voices"
    voice = stock[0]
    button = q(studio, f'#voice-rows tr[data-voice-id="{voice["id"]}"] button.play')
    click(studio, button)
    src = wait_for(lambda: player_src_or_error(studio), 90, "the player to get a blob URL")
    assert src.startswith("blob:" + api.base_url)
    tts = wait_for(lambda: network.matching("POST", r"/tts/bytes$"), 5, "the TTS response in the network log")
    assert tts[-1]["status"] == 200 and tts[-1]["mime"] == "audio/wav", tts[-1]
    # The browser decoded the WAV: it knows a real, positive duration.
    duration = wait_for(lambda: studio.execute_script(
        "const p = document.getElementById('player'); return p.readyState >= 1 ? p.duration : 0"), 10, "the audio to load")
    assert 0.5 < duration < 30
    assert q(studio, "#player-caption").text == f"Now playing: {voice['name']}"




# Datasets: upload, refusal, playback -------------------------------------------------------------

NOT_AUDIO = b"Dear diary, today I renamed a text file to .wav to see what the studio does with it. " * 30


@pytest.fixture(scope="module")
def dataset(studio, api, network, speech_data, tmp_path_factory) -> dict:
    """A dataset made in the page: three real clips and a text file renamed .wav, chosen in one go."""
    folder = tmp_path_factory.mktemp("studio-uploads")
    wavs = real_speech_wavs(speech_data, folder)
    bad = folder / "diary entry that was never a recording.wav"
    bad.write_bytes(NOT_AUDIO)
    goto(studio, "datasets")
    name = f"studio test {uuid.uuid4().hex[:6]}"
    q(studio, "#dataset-name").send_keys(name)
    click(studio, q(studio, "#dataset-form button[type=submit]"))
    created = wait_for(lambda: next((d for d in api.all("/datasets") if d["name"] == name), None), 10, "the dataset")
    wait_for(lambda: q(studio, "#dataset-select").get_attribute("value") == created["id"], 10, "the dataset selected")
    q(studio, "#file-input").send_keys("\n".join(str(p) for p in [*wavs, bad]))
    wait_for(lambda: q(studio, "#upload-overall").get_attribute("data-state") in ("done", "partial"), 60,
             "every upload answered")
    return {**created, "wavs": wavs, "bad": bad}


def test_upload_refuses_a_file_that_is_not_audio_at_once_and_keeps_the_rest(studio, api, network, dataset):
    rows = qa(studio, "#upload-rows li")
    assert [r.get_attribute("data-state") for r in rows] == ["done"] * UPLOADS + ["failed"]
    assert q(studio, "#upload-overall-text").text == f"1 of {UPLOADS + 1} failed"
    failed = rows[-1]
    assert failed.get_attribute("data-code") == "invalid_audio"
    message = q(failed, ".upload-state").text
    # A sentence about the file, in its own name: no server path, no errno, no exception text.
    assert dataset["bad"].name in message and "not audio" in message
    assert "/" not in message.replace(dataset["bad"].name, "") and "errno" not in message.lower()
    # The long message wraps inside the page instead of widening it.
    assert studio.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    statuses = [u["status"] for u in network.matching("POST", rf"/datasets/{dataset['id']}/files$")]
    assert statuses == [204] * UPLOADS + [400]
    stored = sorted(f["filename"] for f in api.all(f"/datasets/{dataset['id']}/files"))
    assert stored == sorted(p.name for p in dataset["wavs"])
    wait_for(lambda: sorted(q(r, "td.name span").text for r in qa(studio, "#file-rows tr[data-file-id]")) == stored,
             10, "the three files listed once")


def test_an_uploaded_recording_plays_in_the_page(studio, api, network, dataset):
    files = api.all(f"/datasets/{dataset['id']}/files")
    target = files[1]
    row = q(studio, f'#file-rows tr[data-file-id="{target["id"]}"]')
    click(studio, q(row, "button.play"))
    wait_for(lambda: q(studio, "#player").get_attribute("data-playing") == target["id"], 20, "the clip in the player")
    fetched = wait_for(lambda: network.matching("GET", rf"/files/{target['id']}/audio$"), 10, "the audio request")
    assert fetched[-1]["status"] == 200 and fetched[-1]["mime"].startswith("audio/")
    # The audio element received the recording: its duration is the file's own.
    duration = wait_for(lambda: player_duration(studio), 10, "the clip decoded")
    expected = sf.info(str(next(p for p in dataset["wavs"] if p.name == target["filename"]))).duration
    assert abs(duration - expected) < 0.1
    assert q(studio, "#player-caption").text == f"Now playing: {target['filename']}"


def test_a_dropped_file_uploads_and_removing_it_asks_first(studio, api, network, dataset, speech_data):
    clip = speech_data / "wav" / "allison_en" / "activated.wav"
    studio.execute_script(DROP_FILE, q(studio, "#drop-zone"), clip.name, base64.b64encode(clip.read_bytes()).decode())
    wait_for(lambda: [r.get_attribute("data-state") for r in qa(studio, "#upload-rows li")] == ["done"]
             and q(studio, "#upload-overall-text").text == "100%", 30, "the dropped file uploaded")
    dropped = wait_for(lambda: next((f for f in api.all(f"/datasets/{dataset['id']}/files")
                                     if f["filename"] == clip.name), None), 10, "the dropped file stored")

    def click_remove():
        # The files table re-renders while the dataset is re-analysed: find the row afresh on each try.
        rows = qa(studio, f'#file-rows tr[data-file-id="{dropped["id"]}"]')
        if rows:
            click(studio, q(rows[0], "button:not(.play)"))
        return bool(rows)

    wait_for(click_remove, 10, "its remove button")
    click(studio, q(confirm(studio, clip.name), "#confirm-no"))
    assert api.get(f"/datasets/{dataset['id']}/files").json()["data"][-1]["id"] == dropped["id"]  # still there
    wait_for(click_remove, 10, "its remove button again")
    click(studio, q(confirm(studio, clip.name), "#confirm-yes"))
    wait_for(lambda: dropped["id"] not in {f["id"] for f in api.all(f"/datasets/{dataset['id']}/files")}, 10,
             "the file removed")
    deletes = wait_for(lambda: network.matching("DELETE", rf"/files/{dropped['id']}$"), 5, "the DELETE")
    assert deletes[-1]["status"] == 204


def test_the_quality_report_shows_usable_speech_against_the_minimum(studio, api, dataset):
    wait_for(lambda: q(studio, "#report-status").text not in ("", "pending"), 180, "the quality report")
    report = api.json(f"/datasets/{dataset['id']}/report")
    assert report["status"] == "ready" and report["report"]["ok_to_train"], report
    gauge = q(studio, "#speech-gauge")
    assert gauge.is_displayed()
    usable, minimum = report["report"]["usable_seconds"], report["report"]["min_usable_seconds"]
    bar = q(gauge, ".gauge-bar")
    assert bar.get_attribute("data-state") in ("enough", "plenty") and usable >= minimum
    assert "Usable speech" in bar.get_attribute("aria-label")
    assert q(gauge, ".gauge-mark.min").text.startswith("min ")
    # Each analysed file shows its verdict in the one files table.
    verdicts = [q(r, ".tag").text for r in qa(studio, "#file-rows tr[data-file-id]")]
    assert len(verdicts) == UPLOADS and set(verdicts) <= {"ok", "flagged"}


def check_ab(studio, network, samples) -> dict:
    """Plays the real clip and the first voice of the first held-out sentence; returns their durations."""
    blocks = wait_for(lambda: qa(studio, "#ft-ab .ab-sample"), 30, "the A/B samples")
    assert [q(b, ".ab-text").text for b in blocks] == [f"“{s['text']}”" for s in samples]
    buttons = qa(blocks[0], "button.ab")
    assert [b.get_attribute("data-who") for b in buttons] == ["real"] + [v["voice_id"] for v in samples[0]["voices"]]
    durations = {}
    for button in (buttons[0], buttons[1]):
        who = button.get_attribute("data-who")
        click(studio, button)
        wait_for(lambda: q(studio, "#player").get_attribute("data-playing") == who
                 and q(studio, "#player-caption").text.startswith("Now playing"), 20, f"{who} in the player")
        durations[who] = wait_for(lambda: player_duration(studio), 10, f"{who} decoded")
    # Each clip played is drawn: the real one above, the voice below, on the longer clip's time scale.
    for lane, who in (("real", "real"), ("voice", buttons[1].get_attribute("data-who"))):
        canvas = wait_for(lambda: q(blocks[0], f'canvas.wave[data-lane="{lane}"]').get_attribute("data-seconds")
                          and q(blocks[0], f'canvas.wave[data-lane="{lane}"]'), 10, f"the {lane} waveform")
        assert abs(float(canvas.get_attribute("data-seconds")) - durations[who]) < 0.05
        drawn = studio.execute_script(
            "const c = arguments[0]; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1; return [n, c.width * c.height];",
            canvas)
        assert 0.02 < drawn[0] / drawn[1] < 0.9, drawn  # speech: neither blank nor a filled box
    real_calls = network.matching("GET", r"/samples/0/real$")
    voice_calls = network.matching("GET", rf"/samples/0/voices/{buttons[1].get_attribute('data-who')}$")
    assert real_calls[-1]["status"] == 200 and voice_calls[-1]["status"] == 200
    return {"real": durations["real"], "voice": durations[buttons[1].get_attribute("data-who")]}


def test_a_stored_fine_tune_plays_its_real_clips_and_voices_side_by_side(studio, api, network, live_server,
                                                                         data_dir_switch, speech_data):
    """The fast sibling of the tiny fine-tune below: a completed fine-tune stored through the service layer
    (as a worker stores one) in the live server's own database, with real recordings as its clips."""
    from sqlalchemy import select

    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.service import training
    from voicesmith.service.ids import new_id
    from voicesmith.service.models import resolve_model
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import FineTune, Organization, utcnow

    clips = sorted((speech_data / "wav" / "allison_en").glob("*.wav"))[:4]
    texts = ["The first held-out sentence.", "The second held-out sentence."]
    name = f"stored voice {uuid.uuid4().hex[:6]}"
    rng = np.random.default_rng(3)
    worker = "web-test/1/stored"
    with data_dir_switch(live_server.data_dir):
        with session_scope() as s:
            org = s.scalar(select(Organization).where(Organization.name == "studio"))
            ft_id = new_id("fine_tune")
            s.add(FineTune(id=ft_id, org_id=org.id, dataset_id="dataset_stored", name=name, language="en",
                           model_id="sonic-3", engine_model=resolve_model("sonic-3"), status="training", stage="evaluate",
                           progress=0.9, attempts=1, worker_id=worker, heartbeat_at=utcnow(), started_at=utcnow()))
        voices = [training.NewVoice(f"{name} {k}", "", VoiceArtifact(rng.normal(size=(510, 256)).astype(np.float32)),
                                    samples=(clips[2 + k].read_bytes(), clips[3 - k].read_bytes())) for k in range(2)]
        report = {"floor": {"voice": "stock_x", "similarity": 0.6}, "ceiling": {"similarity": 0.9},
                  "voices": [{"key": "match", "similarity": 0.8, "gap_closed": 0.667},
                             {"key": "clear", "similarity": 0.7, "gap_closed": 0.333}]}
        samples = [training.HeldOutSample(t, c.read_bytes()) for t, c in zip(texts, clips)]
        assert training.complete(ft_id, worker, voices, report, samples)
    goto(studio, "fine-tunes")
    studio.refresh()  # the page lists fine-tunes when it connects; the newest is shown
    wait_for(lambda: q(studio, "#ft-title").text == name and q(studio, "#ft-results").is_displayed(), 30,
             "the stored fine-tune's results")
    answer = api.json(f"/fine-tunes/{ft_id}/report")
    assert [r.text.split("\n")[-1] for r in qa(studio, "#ft-likeness .likeness-row")] == ["67%", "33%"]
    # Each voice card carries the consent its fine-tune recorded (none was verified here).
    cards = qa(studio, "#ft-voices .voice-card")
    assert [q(c, ".badge.consent").get_attribute("data-consent") for c in cards] == ["unverified"] * 2
    assert {api.json(f"/voices/{c.get_attribute('data-voice-id')}")["consent"] for c in cards} == {"unverified"}
    durations = check_ab(studio, network, answer["samples"])
    assert abs(durations["real"] - sf.info(str(clips[0])).duration) < 0.1
    assert abs(durations["voice"] - sf.info(str(clips[2])).duration) < 0.1


def test_every_section_fits_phone_and_desktop_widths(studio, artifacts):
    # Runs after the stored fine-tune above, so the fine-tunes section shows likeness bars and A/B.
    saved = []
    try:
        for width in WIDTHS:
            studio.set_window_size(width, 900)
            for section in SECTIONS:
                goto(studio, section)
                overflow = studio.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 1, f"{section} is {overflow}px wider than a {width}px window"
                studio.execute_script("window.scrollTo(0, 0)")
                saved.append(screenshot(studio, artifacts, f"{section}-{width}px"))
                if section == "fine-tunes":
                    studio.execute_script("document.getElementById('ft-results').scrollIntoView({block: 'start'})")
                    saved.append(screenshot(studio, artifacts, f"{section}-results-{width}px"))
    finally:
        studio.set_window_size(1280, 1400)
    assert all(p.stat().st_size > 5000 for p in saved)


# Fine-tune: confirmation, progress, results ------------------------------------------------------

@pytest.fixture(scope="module")
def started(studio, api, network, dataset, artifacts) -> Iterator[dict]:
    """A tiny fine-tune started from the page, through its confirmation dialog (cancelled at the end if unfinished)."""
    wait_for(lambda: api.json(f"/datasets/{dataset['id']}/report")["status"] == "ready", 180, "the report")
    goto(studio, "fine-tunes")
    name = f"studio voice {uuid.uuid4().hex[:6]}"
    q(studio, "#ft-name").send_keys(name)
    wait_for(lambda: q(studio, "#ft-dataset").get_attribute("value") == dataset["id"], 10, "the dataset offered")
    tiny_option = q(studio, "#ft-budget option[value=tiny]")
    wait_for(lambda: "minute" in tiny_option.text, 10, "the budget choices labelled with their expected times")
    option_text = tiny_option.text
    studio.execute_script("const s = document.getElementById('ft-budget'); s.value = 'tiny';"
                          "s.dispatchEvent(new Event('change', {bubbles: true}))")
    click(studio, q(studio, "#fine-tune-form button[type=submit]"))
    dialog = confirm(studio, "Start this fine-tune?")
    shown = {key: q(dialog, f"#confirm-{key}").text for key in ("budget", "time", "price", "balance")}
    budget = q(dialog, "#confirm-budget").get_attribute("data-budget")
    shown["seconds"] = q(dialog, "#confirm-time").get_attribute("data-seconds")
    estimate = api.json(f"/datasets/{dataset['id']}/fine-tune-estimate")
    screenshot(studio, artifacts, "confirm-start-1280px")
    # Nothing is created before the user says yes.
    assert not [ft for ft in api.all("/fine-tunes") if ft["name"] == name]
    click(studio, q(dialog, "#confirm-yes"))
    creates = wait_for(lambda: network.matching("POST", r"/fine-tunes$"), 10, "the fine-tune request")
    assert creates[-1]["status"] == 200, creates[-1]
    fine_tune = next(ft for ft in api.all("/fine-tunes") if ft["name"] == name)
    yield {"fine_tune": fine_tune, "shown": shown, "budget": budget, "estimate": estimate, "option": option_text}
    # Without the slow tests nothing waits for it: cancel it, or it trains on through every later test on the
    # shared server, and their jobs queue behind it.
    now = api.get(f"/fine-tunes/{fine_tune['id']}")
    if now.status_code == 200 and now.json()["status"] not in ("completed", "failed"):
        assert api.delete(f"/fine-tunes/{fine_tune['id']}").status_code == 204


def test_starting_a_fine_tune_shows_price_balance_budget_and_time_first(studio, api, started):
    balance = api.json("/usage/balance")
    shown = started["shown"]
    assert started["budget"] == "tiny" and shown["budget"].startswith("Tiny")
    # The expected time is the server's estimate for this dataset and budget, with what it is based on (the
    # reference machine's figures, or this server's completed fine-tunes when the module has made one already).
    seconds = started["estimate"]["budgets"]["tiny"]["expected_seconds"]
    assert shown["seconds"] == str(seconds) and seconds > 0
    assert shown["time"].startswith(f"about {max(1, int(seconds / 60 + 0.5))} minute") and "on this server" in shown["time"]
    estimate = started["estimate"]
    assert estimate["message"] in shown["time"]
    assert estimate["basis"] == ("measured" if estimate["measured_runs"] else "reference")
    assert started["option"] == f"Tiny · about {max(1, int(seconds / 60 + 0.5))} minutes"  # the choice said it too
    assert f"{balance['fine_tune_cost']:,} credits" in shown["price"]
    # The balance shown was the one before this fine-tune reserved its price.
    assert f"{balance['available'] + balance['fine_tune_cost']:,} credits available" in shown["balance"]
    wait_for(lambda: q(studio, "#ft-title").text == started["fine_tune"]["name"], 10, "the new fine-tune shown")


def test_the_connection_badge_follows_the_network(studio):
    badge = q(studio, "#conn-status")
    assert badge.get_attribute("data-state") == "ok"
    studio.execute_cdp_cmd("Network.enable", {})
    studio.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    try:
        wait_for(lambda: badge.get_attribute("data-state") == "lost", 20, "the badge to say the server is gone")
        assert badge.text in ("Offline", "Server unreachable")
    finally:
        studio.execute_cdp_cmd("Network.emulateNetworkConditions",
                               {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    wait_for(lambda: badge.get_attribute("data-state") == "ok", 20, "the badge to recover")
    assert badge.text.startswith("Connected · ")


def test_the_playground_streams_speech_as_it_is_made(studio, api, network):
    goto(studio, "playground")
    stock = sorted((v for v in api.all("/voices") if not v["is_owner"]), key=lambda v: v["name"])
    voice = stock[0]
    studio.execute_script("const s = document.getElementById('pg-voice'); s.value = arguments[0];"
                          "s.dispatchEvent(new Event('change', {bubbles: true}))", voice["id"])
    text = ("The first sentence plays at once. The second one is still being made while you hear the first. "
            "And a third, so the stream has several pieces.")
    field = q(studio, "#pg-text")
    field.clear()
    field.send_keys(text)
    studio.execute_script("for (const [id, v] of [['pg-speed', '1.2'], ['pg-volume', '0.8']]) {"
                          "const s = document.getElementById(id); s.value = v;"
                          "s.dispatchEvent(new Event('input', {bubbles: true})) }")
    code = q(studio, "#pg-code").text
    assert "from cartesia import Cartesia" in code and "client.tts.generate(" in code
    assert voice["id"] in code and '"speed": 1.2' in code and '"volume": 0.8' in code and text in code
    assert "sk_" not in code  # the key stays out of the snippet
    click(studio, q(studio, "#pg-speak"))
    status = q(studio, "#pg-status")
    wait_for(lambda: status.get_attribute("data-done-ms") or status.get_attribute("data-state") == "error", 120,
             "the stream to finish")
    assert status.get_attribute("data-state") in ("done", "streaming"), status.text
    first, done = int(status.get_attribute("data-first-audio-ms")), int(status.get_attribute("data-done-ms"))
    chunks, samples = int(status.get_attribute("data-chunks")), int(status.get_attribute("data-samples"))
    # Audio was playing before the whole text was made: the first chunk came well before the last.
    assert chunks >= 2 and first < done, (first, done, chunks)
    assert 3 * 24000 < samples < 30 * 24000
    assert studio.execute_script("return document.getElementById('pg-download').disabled") is False
    tokens = network.matching("POST", r"/access-token$")
    assert tokens and tokens[-1]["status"] == 200
    click(studio, q(studio, ".code-tab[data-lang=curl]"))
    curl = q(studio, "#pg-code").text
    assert curl.startswith(f"curl -X POST '{api.base_url}/tts/bytes'") and "$VOICESMITH_API_KEY" in curl


@pytest.fixture(scope="module")
def trained(studio, api, started) -> dict:
    """The tiny fine-tune, completed (it runs while the tests above use the page)."""
    ft_id = started["fine_tune"]["id"]
    goto(studio, "fine-tunes")
    seen_stages = set()

    def finished():
        truth = api.json(f"/fine-tunes/{ft_id}")
        if truth["stage"]:
            seen_stages.add(truth["stage"])
        return truth if truth["status"] in ("completed", "failed") else None

    truth = wait_for(finished, 2700, "the tiny fine-tune to finish", interval=5)
    assert truth["status"] == "completed", truth
    wait_for(lambda: q(studio, "#ft-results").is_displayed(), 30, "the results shown")
    answer = api.json(f"/fine-tunes/{ft_id}/report")
    voices = api.all(f"/fine-tunes/{ft_id}/voices")
    return {"fine_tune": truth, "report": answer, "voices": voices, "stages": seen_stages}


@pytest.mark.slow
@pytest.mark.timeout(3000)  # the first test to need `trained` waits for the tiny fine-tune (minutes)
def test_the_page_shows_the_completed_fine_tune_as_the_api_does(studio, trained):
    assert q(studio, "#ft-status").text == "completed"
    assert q(studio, "#ft-progress").get_attribute("aria-valuenow") == "100"
    assert [li.get_attribute("data-state") for li in qa(studio, "#ft-stages li")] == ["done"] * 5


@pytest.mark.slow
def test_likeness_bars_sit_on_the_floor_to_ceiling_scale(studio, trained):
    report = trained["report"]["report"]
    rows = qa(studio, "#ft-likeness .likeness-row")
    assert [r.get_attribute("data-voice-id") for r in rows] == [v["id"] for v in trained["voices"]]
    assert q(studio, "#ft-likeness .legend.floor").text.startswith("Floor: best stock voice")
    for row in rows:
        entry = next(e for e in report["voices"] if e["voice_id"] == row.get_attribute("data-voice-id"))
        assert q(row, ".likeness-value").text == f"{round(entry['gap_closed'] * 100)}%"
        assert len(qa(row, ".scale-mark.floor")) == 1 and len(qa(row, ".scale-mark.ceiling")) == 1
        assert "of the way from the stock floor to the real speaker" in q(row, ".meter").get_attribute("aria-label")


@pytest.mark.slow
def test_ab_plays_the_real_held_out_clip_and_each_voice_on_the_same_words(studio, api, network, trained):
    samples = trained["report"]["samples"]
    assert samples, "the completed fine-tune stored no held-out samples"
    durations = check_ab(studio, network, samples)
    # The same few words from the speaker and from the voice: lengths of the same order.
    assert 0.3 < durations["real"] < 15 and 0.3 < durations["voice"] < 15, durations
    assert 0.33 < durations["voice"] / durations["real"] < 3, durations


@pytest.mark.slow
def test_deleting_the_fine_tune_asks_first(studio, api, trained):
    goto(studio, "fine-tunes")
    ft_id = trained["fine_tune"]["id"]
    click(studio, q(studio, "#ft-cancel"))
    dialog = confirm(studio, "Delete")
    click(studio, q(dialog, "#confirm-no"))
    assert api.get(f"/fine-tunes/{ft_id}").status_code == 200  # "Go back" changed nothing
    click(studio, q(studio, "#ft-cancel"))
    click(studio, q(confirm(studio, "Delete"), "#confirm-yes"))
    wait_for(lambda: api.get(f"/fine-tunes/{ft_id}").status_code == 404, 15, "the fine-tune deleted")
    assert {v["id"] for v in trained["voices"]} <= {v["id"] for v in api.all("/voices")}  # its voices stay


def test_the_page_logged_no_errors(studio):
    # Expected refusals only: the wrong key (401), the renamed text file (400), a deleted fine-tune's last poll (404).
    # And the badge's health check while the network was switched off.
    offline = [("/voices?limit=1", "net::ERR_INTERNET_DISCONNECTED")]
    assert console_errors(studio, allowed_statuses=(400, 401, 404), allowed_failures=offline) == []
