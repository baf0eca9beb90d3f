"""The web studio in a real (headless) Chromium against a live voicesmith server.

Every check compares what the page shows with what the public API says at the same moment, and
HTTP statuses are read from Chromium's own network log (DevTools performance log), not from the page.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.timeout(240)

WEB_ROOT = Path(__file__).resolve().parents[2] / "src" / "voicesmith" / "web"
API_VERSION = "2026-03-01"
# Enough real speech in two files that the dataset may pass the 60 s minimum once it is analysed.
SECONDS_PER_UPLOAD = 35.0


# Helpers ----------------------------------------------------------------------------------------

class Api:
    """The same public API the page uses, called directly to know the truth."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {key}", "Cartesia-Version": API_VERSION}

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(self.base_url + path, headers=self.headers, params=params, timeout=15)

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


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except StaleElementReferenceException:
            last = None  # the page re-rendered under us: look again
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def q(scope, css: str):
    """The element matching `css` inside `scope` (the driver or an element)."""
    return scope.find_element(By.CSS_SELECTOR, css)


def qa(scope, css: str):
    return scope.find_elements(By.CSS_SELECTOR, css)


def click(driver, element) -> None:
    # The speak bar is fixed at the bottom: bring the target to the middle of the window first.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def player_src_or_error(driver) -> str | None:
    """The player's blob URL once set; fails at once with the page's error card if one appears."""
    cards = qa(driver, "#errors .error-card")
    assert not cards, f"the page shows an error: {cards[0].text}"
    src = q(driver, "#player").get_attribute("src") or ""
    return src if src.startswith("blob:") else None


def connect(driver, key: str) -> None:
    field = q(driver, "#api-key")
    field.clear()
    field.send_keys(key)
    click(driver, q(driver, "#key-form button[type=submit]"))


def real_speech_wavs(speech_data: Path, out_dir: Path) -> list[Path]:
    """Two WAVs of one real speaker (allison_en), each ~35 s of her consecutive prompts."""
    rows = [line.split("\t") for line in (speech_data / "manifest.tsv").read_text().splitlines()[1:]]
    clips = [speech_data / row[2] for row in rows if row[0] == "allison_en"]
    assert clips, "allison_en is missing from the speech data"
    paths = []
    for part in range(2):
        audio, rate, total = [], None, 0.0
        for clip in clips[part * 60:]:
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


def test_dataset_upload_report_and_fine_tune_lifecycle(studio, api, network, speech_data, tmp_path):
    wavs = real_speech_wavs(speech_data, tmp_path)

    # Create a dataset from the form: it becomes the selected one.
    name = f"studio test {uuid.uuid4().hex[:6]}"
    q(studio, "#dataset-name").send_keys(name)
    click(studio, q(studio, "#dataset-form button[type=submit]"))
    dataset = wait_for(lambda: next((d for d in api.all("/datasets") if d["name"] == name), None), 10, "the dataset")
    wait_for(lambda: q(studio, "#dataset-select").get_attribute("value") == dataset["id"], 10, "the dataset selected")

    # Upload through the file input: per-file and overall bars reach 100%, then the files are listed.
    q(studio, "#file-input").send_keys("\n".join(str(p) for p in wavs))
    wait_for(lambda: q(studio, "#upload-overall").get_attribute("aria-valuenow") == "100", 30,
             "the overall upload bar at 100%")
    # The overall bar reaches 100% only once the server has stored every file.
    assert q(studio, "#upload-overall-text").text == "100%"
    rows = qa(studio, "#upload-rows li")
    assert [r.get_attribute("data-state") for r in rows] == ["done", "done"]
    assert [q(r, ".progress").get_attribute("aria-valuenow") for r in rows] == ["100", "100"]

    # Drag and drop: a real clip dropped on the drop zone goes through the same upload path.
    clip = speech_data / "wav" / "allison_en" / "activated.wav"
    studio.execute_script(DROP_FILE, q(studio, "#drop-zone"), clip.name, base64.b64encode(clip.read_bytes()).decode())
    wait_for(lambda: [r.get_attribute("data-state") for r in qa(studio, "#upload-rows li")] == ["done"]
             and q(studio, "#upload-overall-text").text == "100%", 30, "the dropped file uploaded")
    uploads = network.matching("POST", rf"/datasets/{dataset['id']}/files$")
    assert [u["status"] for u in uploads] == [204, 204, 204]
    names = sorted([p.name for p in wavs] + [clip.name])
    assert sorted(f["filename"] for f in api.all(f"/datasets/{dataset['id']}/files")) == names
    wait_for(lambda: sorted(r.text for r in qa(studio, "#file-rows td.name")) == names, 10, "the three files listed")

    # The quality report: the page's status settles where the API's does.
    wait_for(lambda: q(studio, "#report-status").text not in ("", "pending"), 90, "the quality report")
    report = api.json(f"/datasets/{dataset['id']}/report")
    assert q(studio, "#report-status").text == report["status"]
    if report["report"] is not None:
        verdict = q(studio, "#report-body .verdict")
        assert verdict.get_attribute("data-ok") == str(bool(report["report"].get("ok_to_train"))).lower()

    # Start a fine-tune on it.
    ft_name = f"studio voice {uuid.uuid4().hex[:6]}"
    q(studio, "#ft-name").send_keys(ft_name)
    assert q(studio, "#ft-dataset").get_attribute("value") == dataset["id"]
    click(studio, q(studio, "#fine-tune-form button[type=submit]"))
    creates = wait_for(lambda: network.matching("POST", r"/fine-tunes$"), 10, "the fine-tune request")
    if creates[-1]["status"] != 200:
        # The server refused (e.g. not enough usable speech): the page must say exactly why.
        card = wait_for(lambda: qa(studio, "#errors .error-card"), 5, "the refusal shown")[0]
        assert report["report"] and report["report"].get("ok_to_train") is False, "refused a dataset the report accepted"
        assert card.get_attribute("data-code") == "dataset_rejected"
        assert not [ft for ft in api.all("/fine-tunes") if ft["name"] == ft_name]
        return
    fine_tune = next(ft for ft in api.all("/fine-tunes") if ft["name"] == ft_name)
    wait_for(lambda: q(studio, "#ft-title").text == ft_name, 10, "the new fine-tune shown")

    # Live progress: the page agrees with the API, first as queued, then once the worker has moved it on.
    def page_matches_api(moved_on: bool = True):
        truth = api.json(f"/fine-tunes/{fine_tune['id']}")
        shown = {
            "status": q(studio, "#ft-status").text,
            "stage": q(studio, "#ft-stage").get_attribute("data-stage") or None,
            "percent": int(q(studio, "#ft-progress").get_attribute("aria-valuenow")),
        }
        expected_percent = 100 if truth["status"] == "completed" else round(truth["progress"] * 100)
        agree = (shown["status"] == truth["status"] and shown["stage"] == truth["stage"]
                 and abs(shown["percent"] - expected_percent) <= 1)
        return truth if agree and (truth["status"] != "created" or not moved_on) else None

    # The embedded worker trains one fine-tune at a time: another module's may still hold it.
    truth = wait_for(lambda: page_matches_api(moved_on=False), 15, "the page to show the fine-tune", interval=0.5)
    try:
        truth = wait_for(page_matches_api, 45, "the page to show the worker's progress", interval=0.5)
    except AssertionError:
        if api.json(f"/fine-tunes/{fine_tune['id']}")["status"] != "created":
            raise
        warnings.warn("the worker did not pick the fine-tune up within 45 s (busy?): only 'created' was checked")
    if truth["status"] == "failed":
        error_box = q(studio, "#ft-error")
        assert error_box.is_displayed() and truth["error"] in error_box.text
    elif truth["status"] == "training":
        eta = q(studio, "#ft-eta").text
        assert (eta == "") == (truth["eta_seconds"] is None), eta

    # For a human look at the layout (pytest keeps the last few tmp dirs).
    studio.execute_script("document.getElementById('ft-detail').scrollIntoView({block: 'center'})")
    (tmp_path / "studio.png").write_bytes(studio.get_screenshot_as_png())

    # Cancel (or delete) from the page: two clicks, then the API no longer has it.
    cancel = q(studio, "#ft-cancel")
    click(studio, cancel)
    assert cancel.get_attribute("data-armed") == "true"
    click(studio, cancel)
    wait_for(lambda: api.get(f"/fine-tunes/{fine_tune['id']}").status_code == 404, 15, "the fine-tune deleted")
    deletes = wait_for(lambda: network.matching("DELETE", rf"/fine-tunes/{fine_tune['id']}$"), 5, "the DELETE")
    assert deletes[-1]["status"] == 204
    wait_for(lambda: fine_tune["id"] not in studio.execute_script(
        "return [...document.querySelectorAll('#fine-tune-select option')].map((o) => o.value)"),
        10, "the fine-tune gone from the page")
