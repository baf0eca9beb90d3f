"""A headless Debian Chromium driven by Selenium, for the web studio tests.

Selenium Manager must never download a browser or driver here, so both paths are given explicitly
(and SE_OFFLINE forbids it anyway). The tests skip only when Chromium itself is not installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1400",
    # Play buttons are clicked by WebDriver; let audio start without a real user gesture.
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]


@contextlib.contextmanager
def chromium(profile: Path, extra_flags: tuple[str, ...] = ()):
    """A headless Chromium with its own profile folder, quit (and the profile removed) on exit."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, *extra_flags):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    # The performance log carries the DevTools Network events: the tests read real HTTP statuses from it.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


# A studio whose microphone works: Chromium's fake capture device plays a real recording in a loop, and the
# server runs in this process so that tests can inject the consent phrase (tests/consent_support.py).

MIC_PAUSE_S = 1.0  # silence after each pass of the recording


def microphone_file(clip: Path, out: Path, rate: int = 48000) -> Path:
    """The clip resampled for the fake microphone, with a pause after it (Chromium loops the file)."""
    import numpy as np
    import soundfile as sf
    import soxr

    audio, clip_rate = sf.read(clip, dtype="float32")
    audio = soxr.resample(audio, clip_rate, rate)
    sf.write(out, np.concatenate([audio, np.zeros(int(MIC_PAUSE_S * rate), np.float32)]), rate, subtype="PCM_16")
    return out


@pytest.fixture(scope="module")
def mic_server(tmp_path_factory, data_dir_switch):
    from tests.consent_support import consent_server

    with consent_server(data_dir_switch, tmp_path_factory.mktemp("mic-studio"), "mic-studio") as server:
        yield server


@pytest.fixture(scope="module")
def mic_page(mic_server, speech_data, tmp_path_factory):
    """The studio, connected to `mic_server`, with a microphone that reads allison_en's consent clip
    ("You have entered too many invalid personal identification numbers.")."""
    from tests.consent_support import ALLISON_CONSENT, reading
    from tests.web.browser_support import connect, q, wait_for

    folder = tmp_path_factory.mktemp("fake-mic")
    mic = microphone_file(reading(speech_data, ALLISON_CONSENT).path, folder / "mic.wav")
    flags = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-audio-capture={mic}")
    with chromium(folder / "profile", flags) as driver:
        driver.get(mic_server.base_url + "/studio/")
        connect(driver, mic_server.key)
        wait_for(lambda: q(driver, "#conn-status").get_attribute("data-state") == "ok", 30, "the studio to connect")
        yield driver
