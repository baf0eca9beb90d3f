"""Real speech for the consent tests, and the "reading substitute".

The tests cannot record a person reading a fresh random code. The substitute: take a real recording and its
transcript, and make the challenge's code words come from that transcript (the tests inject a phrase
generator that returns them); the recording then "reads" the challenge, in its speaker's real voice.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import httpx

# allison_en: the dataset's training speech (short prompts, none of them the consent clips below).
TRAINING = ("agent-alreadyon", "agent-incorrect", "agent-user", "auth-incorrect", "confbridge-pin",
            "demo-enterkeywords", "confbridge-lock-extended", "conf-usermenu")
# "You have entered too many invalid personal identification numbers."
ALLISON_CONSENT = ("allison_en", "confbridge-pin-bad", ["invalid", "personal", "identification"])
# "Please press 1 to mute or unmute yourself, 4 or 6 to decrease or increase the conference volume, ..." (14 s):
# a code with a number, which Whisper may write as "4" or "four".
ALLISON_NUMBER = ("allison_en", "conf-usermenu", ["press", "4", "conference"])
# A male LibriVox reader, English: his words match his code, so only the voice can fail him.
LIBRIVOX_CONSENT = ("librivox_en", "sense_and_sensibility_01_austen_64kb-0920", ["married", "amiable", "respectable"])
# carlo_it (8 kHz, Italian).
CARLO_CLIP = ("carlo_it", "agent-alreadyon", ["operatore", "numero", "tasto"])


@dataclass(frozen=True)
class Reading:
    path: Path
    code: list[str]

    def generator(self):  # noqa: ANN201
        """The phrase generator to inject: the code words this recording already says."""
        return lambda: list(self.code)

    def bytes(self) -> bytes:
        return self.path.read_bytes()


def wav(speech: Path, speaker: str, stem: str) -> Path:
    path = speech / "wav" / speaker / f"{stem}.wav"
    assert path.is_file(), path
    return path


def reading(speech: Path, which: tuple[str, str, list[str]]) -> Reading:
    speaker, stem, code = which
    return Reading(wav(speech, speaker, stem), code)


def training_files(speech: Path, exclude: str = "") -> list[Path]:
    return [wav(speech, "allison_en", stem) for stem in TRAINING if stem != exclude]


@contextlib.contextmanager
def consent_policy(value: str):
    """VOICESMITH_CONSENT=value for the block (Settings are re-read on entry and exit)."""
    from voicesmith.config import get_settings

    old = os.environ.get("VOICESMITH_CONSENT")
    os.environ["VOICESMITH_CONSENT"] = value
    get_settings.cache_clear()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("VOICESMITH_CONSENT", None)
        else:
            os.environ["VOICESMITH_CONSENT"] = old
        get_settings.cache_clear()


class ConsentServer:
    """voicesmith in this process over real HTTP (for a browser or the CLI), with the phrase generator injectable."""

    def __init__(self, base_url: str, key: str, monkeypatch) -> None:  # noqa: ANN001 (pytest.MonkeyPatch)
        self.base_url = base_url
        self.key = key
        self.headers = {"Authorization": f"Bearer {key}", "Cartesia-Version": "2026-03-01"}
        self._mp = monkeypatch

    def next_codes_from(self, clip: Reading) -> None:
        """The next challenges' code words are the ones `clip` says (the reading substitute)."""
        from voicesmith.service import consent

        self._mp.setattr(consent, "generate_code", clip.generator())

    def get(self, path: str) -> dict:
        r = httpx.get(self.base_url + path, headers=self.headers, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def dataset(self, name: str, files: list[Path]) -> str:
        r = httpx.post(f"{self.base_url}/datasets", json={"name": name, "description": ""}, headers=self.headers,
                       timeout=30)
        assert r.status_code == 200, r.text
        ds = r.json()["id"]
        for path in files:
            r = httpx.post(f"{self.base_url}/datasets/{ds}/files", headers=self.headers, timeout=60,
                           files={"file": (path.name, path.read_bytes(), "audio/wav")}, data={"purpose": "fine_tune"})
            assert r.status_code == 204, r.text
        return ds

    def consent(self, ds: str) -> dict:
        return self.get(f"/datasets/{ds}/consent")


@contextlib.contextmanager
def consent_server(data_dir_switch, data_dir: Path, org: str):  # noqa: ANN001, ANN201
    """A ConsentServer on a free loopback port (uvicorn in a thread), its data in `data_dir`, a key of `org`.
    Job hand-offs are captured: the consent check needs no worker."""
    import pytest

    from tests.conftest import capture_job_hand_offs
    from tests.tts_support import uvicorn_in_thread
    from voicesmith import admin
    from voicesmith.api.app import create_app

    with data_dir_switch(data_dir), pytest.MonkeyPatch.context() as mp:
        capture_job_hand_offs(mp, [])
        with uvicorn_in_thread(create_app()) as port:
            yield ConsentServer(f"http://127.0.0.1:{port}", admin.create_key(org=org, description="consent tests"),
                                mp)
