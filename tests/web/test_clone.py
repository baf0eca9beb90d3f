"""The studio's instant clone (web/js/clone.js) in a real Chromium: a clip recorded through MediaRecorder from a
microphone that plays allison_en (conftest `mic_page`), or chosen as a file, becomes a voice that the page lists
and plays; a file that is not audio gets the server's own error, and no voice."""

from __future__ import annotations

import pytest
from tests.web.browser_support import click, goto, q, qa, wait_for

pytestmark = pytest.mark.timeout(300)


def own_voices(server) -> list[dict]:  # noqa: ANN001 (ConsentServer)
    return [v for v in server.get("/voices?limit=100")["data"] if v["is_owner"]]


def open_clone_panel(page) -> None:  # noqa: ANN001
    goto(page, "voices")
    panel = q(page, "#clone-panel")
    if not panel.get_attribute("open"):
        click(page, q(panel, "summary"))
    wait_for(lambda: q(page, "#clone-name").is_displayed(), 10, "the clone form")


def test_a_clip_recorded_in_the_browser_becomes_a_voice_that_plays(mic_page, mic_server):
    before = own_voices(mic_server)
    open_clone_panel(mic_page)
    q(mic_page, "#clone-name").send_keys("Allison from the microphone")
    assert [o.get_attribute("value") for o in qa(mic_page, "#clone-language option")][:2] == ["en", "es"]

    click(mic_page, q(mic_page, "#clone-record"))
    wait_for(lambda: q(mic_page, "#clone-stop").is_displayed(), 15, "recording to start")
    # About 8 s: the microphone's clip (4.7 s) once and a half, with its pause.
    wait_for(lambda: "8 s of 30 s" in q(mic_page, "#clone-clock").text, 30, "eight seconds recorded")
    click(mic_page, q(mic_page, "#clone-stop"))
    wait_for(lambda: q(mic_page, "#clone-take").is_displayed(), 15, "the take")
    assert q(mic_page, "#clone-take").get_attribute("data-filename") == "clone-clip.webm"
    click(mic_page, q(mic_page, "#clone-submit"))

    made = wait_for(lambda: [v for v in own_voices(mic_server) if v not in before], 120, "the new voice in the API")
    assert len(made) == 1
    voice = made[0]
    assert voice["name"] == "Allison from the microphone" and voice["language"] == "en"
    assert voice["consent"] == "unverified" and voice["provenance"]["clip"]["filename"] == "clone-clip.webm"
    assert voice["provenance"]["clip"]["seconds"] > 6
    row = wait_for(lambda: qa(mic_page, f'#voice-rows tr[data-voice-id="{voice["id"]}"]'), 15, "the row")[0]
    assert "just-made" in row.get_attribute("class") and "Unverified" in row.text
    assert not q(mic_page, "#clone-take").is_displayed()

    click(mic_page, q(row, "button.play"))
    wait_for(lambda: (q(mic_page, "#player").get_attribute("src") or "").startswith("blob:"), 60,
             "the new voice speaking in the player")
    assert not qa(mic_page, "#errors .error-card")


def test_a_file_that_is_not_audio_gets_the_servers_error_and_no_voice(mic_page, mic_server, tmp_path):
    before = own_voices(mic_server)
    open_clone_panel(mic_page)
    fake = tmp_path / "holiday.wav"
    fake.write_text("these are not the recordings you are looking for\n" * 50)
    name = q(mic_page, "#clone-name")
    name.clear()
    name.send_keys("Not a voice")
    q(mic_page, "#clone-file").send_keys(str(fake))
    wait_for(lambda: q(mic_page, "#clone-take").is_displayed(), 15, "the chosen file as the take")
    click(mic_page, q(mic_page, "#clone-submit"))
    card = wait_for(lambda: qa(mic_page, "#errors .error-card"), 60, "an error card")[0]
    assert card.get_attribute("data-code") == "invalid_audio" and "could not be read as audio" in card.text
    assert own_voices(mic_server) == before
    click(mic_page, q(card, ".error-close"))
