"""The studio's consent panel (web/js/consent.js) in a real Chromium: the statement to read, a reading recorded
through the browser's MediaRecorder, or chosen as a file, the server's check, and the verdict the page shows
against what the API stored.

The microphone plays allison_en's consent clip (conftest `mic_page`), and the server runs in this process so
that the challenge's code words can be made the ones that recording says: the "reading substitute" of
tests/consent_support.py. Whisper and the speaker encoder run for real on what the browser recorded (Opus in WebM).
"""

from __future__ import annotations

import time

import pytest
import soundfile as sf
from selenium.webdriver.support.select import Select
from tests.consent_support import ALLISON_CONSENT, LIBRIVOX_CONSENT, ConsentServer, reading, training_files
from tests.web.browser_support import click, goto, q, wait_for
from tests.web.conftest import MIC_PAUSE_S

pytestmark = pytest.mark.timeout(300)


def open_dataset(driver, ds: str) -> None:
    driver.refresh()  # datasets made through the API since the page loaded
    wait_for(lambda: q(driver, "#conn-status").get_attribute("data-state") == "ok", 30, "the studio to connect")
    goto(driver, "datasets")
    wait_for(lambda: any(o.get_attribute("value") == ds for o in Select(q(driver, "#dataset-select")).options),
             15, "the dataset in the list")
    Select(q(driver, "#dataset-select")).select_by_value(ds)
    wait_for(lambda: q(driver, "#consent-policy").text, 15, "the consent panel")


def ask_for_statement(driver, server: ConsentServer, ds: str, name: str) -> dict:
    field = q(driver, "#consent-name")
    field.clear()
    field.send_keys(name)
    click(driver, q(driver, "#consent-form button[type=submit]"))
    shown = wait_for(lambda: q(driver, "#consent-statement").is_displayed() and q(driver, "#consent-statement").text,
                     15, "the statement")
    challenge = server.consent(ds)["challenge"]
    assert challenge is not None and shown == challenge["statement"]
    assert f"I, {name}, agree" in shown
    return challenge


def send_and_read_verdict(driver, server: ConsentServer, ds: str) -> tuple[object, dict]:
    click(driver, q(driver, "#consent-send"))
    before = q(driver, "#consent-verdict").get_attribute("data-attempt-id")
    wait_for(lambda: q(driver, "#consent-verdict").get_attribute("data-attempt-id") not in (before, None), 120,
             "the verdict")
    verdict = q(driver, "#consent-verdict .verdict")
    attempt = server.consent(ds)["attempts"][0]
    assert q(driver, "#consent-verdict").get_attribute("data-attempt-id") == attempt["id"]
    assert verdict.get_attribute("data-verified") == str(attempt["verified"]).lower()
    assert verdict.get_attribute("data-reason") == (attempt["reason_code"] or "")
    shown = q(driver, "#consent-verdict").text
    assert attempt["text"]["transcript"] in shown
    assert f"{attempt['speaker']['similarity']:.2f} (needs {attempt['speaker']['threshold']:.2f})" in shown
    return verdict, attempt


def test_a_reading_recorded_in_the_browser_verifies_the_dataset(mic_page, mic_server, speech_data):
    clip = reading(speech_data, ALLISON_CONSENT)
    mic_server.next_codes_from(clip)
    ds = mic_server.dataset("allison", training_files(speech_data))
    open_dataset(mic_page, ds)
    state = mic_server.consent(ds)
    assert q(mic_page, "#consent-status").text == state["consent"] == "unverified"
    assert "records whether the speaker consented" in q(mic_page, "#consent-policy").text  # the default policy
    challenge = ask_for_statement(mic_page, mic_server, ds, "Allison")
    assert "invalid personal identification" in challenge["statement"]

    # Two passes of the looping microphone, so the whole sentence is in the take wherever the loop started.
    loop_s = sf.info(clip.path).duration + MIC_PAUSE_S
    click(mic_page, q(mic_page, "#consent-record"))
    wait_for(lambda: q(mic_page, "#consent-stop").is_displayed(), 15, "recording to start")
    started = time.monotonic()
    wait_for(lambda: time.monotonic() - started > 2 * loop_s + 0.5, 3 * loop_s + 5, "two passes of the reading")
    assert "s of 30 s" in q(mic_page, "#consent-clock").text
    click(mic_page, q(mic_page, "#consent-stop"))
    wait_for(lambda: q(mic_page, "#consent-take").is_displayed(), 15, "the take to be ready")
    assert q(mic_page, "#consent-take").get_attribute("data-filename") == "consent-reading.webm"
    # The mic_page's player can play the take (a MediaRecorder WebM states no duration, so none is checked).
    wait_for(lambda: mic_page.execute_script(
        "const a = document.getElementById('consent-audio'); return a.readyState >= 1 && !a.error"), 15,
        "the take to load in the player")

    verdict, attempt = send_and_read_verdict(mic_page, mic_server, ds)
    assert attempt["filename"] == "consent-reading.webm" and attempt["seconds"] > 2 * loop_s - 1
    assert attempt["verified"], attempt
    assert verdict.text == "Consent verified"
    wait_for(lambda: q(mic_page, "#consent-status").text == "verified", 15, "the verified badge")
    assert mic_server.consent(ds)["consent"] == "verified"
    assert not q(mic_page, "#consent-form").is_displayed()  # nothing more to ask for


def test_a_chosen_file_of_another_voice_is_refused_on_the_voice(mic_page, mic_server, speech_data):
    # His words match the code, so only the speaker check can refuse him.
    other = reading(speech_data, LIBRIVOX_CONSENT)
    mic_server.next_codes_from(other)
    ds = mic_server.dataset("allison again", training_files(speech_data))
    open_dataset(mic_page, ds)
    ask_for_statement(mic_page, mic_server, ds, "Allison")
    q(mic_page, "#consent-file").send_keys(str(other.path))
    wait_for(lambda: q(mic_page, "#consent-take").is_displayed(), 15, "the chosen file as the take")
    assert q(mic_page, "#consent-take").get_attribute("data-filename") == other.path.name

    verdict, attempt = send_and_read_verdict(mic_page, mic_server, ds)
    assert (attempt["verified"], attempt["reason_code"]) == (False, "speaker_mismatch"), attempt
    assert attempt["text"]["ok"] and not attempt["speaker"]["ok"]
    assert verdict.text == "Not verified" and attempt["message"] in q(mic_page, "#consent-verdict").text
    assert q(mic_page, "#consent-status").text == "unverified" and q(mic_page, "#consent-take").is_displayed()


def test_the_page_logged_no_errors(mic_page):
    severe = [e["message"] for e in mic_page.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
