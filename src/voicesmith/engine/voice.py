"""The Voice artifact: everything the engine needs to speak in a voice, as one versioned blob.

Today a voice is a Kokoro style pack (510 rows x 256: row i is used for a text of i+1 phonemes;
the first 128 values condition the decoder/timbre, the last 128 the prosody predictor), a pitch
scale, a speaking-rate factor and, for fine-tuned voices, a timbre filter (`engine.timbre`) applied
to the model's output. A bespoke voice also carries low-rank adapters of the decoder (`engine.adapter`):
a few MB that synthesis merges into the decoder's weights. The format is versioned so later engines can
add fields: version 2 added the filter, version 3 the adapter, each written only when a voice has it, so
voices without them stay readable by older servers.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

FORMAT_VERSION = 3
_ADAPTER = "adapter:"  # prefix of the adapter's arrays in the file
STYLE_ROWS = 510
STYLE_DIM = 256
# Kokoro splits each style row: the first half conditions the decoder (timbre, acoustics), the second the prosody
# predictor (durations, F0, energy). Checked here: a voice with one pack's first half and another's second says a
# sentence in exactly as many samples as the second pack does, and the speaker encoder hears the first pack.
TIMBRE = slice(0, 128)
PROSODY = slice(128, 256)


@dataclass
class VoiceArtifact:
    style: np.ndarray  # float32, (STYLE_ROWS, STYLE_DIM)
    pitch_scale: float = 1.0  # multiplies the predicted F0 curve
    speed: float = 1.0  # multiplies the speaking rate
    engine_model: str = "kokoro-82m-v1.0"
    meta: dict = field(default_factory=dict)  # provenance: stock pack name, fine-tune id, scores...
    timbre: np.ndarray | None = None  # (2, bands): band centres (Hz) and gains (dB); see engine.timbre
    adapter: dict[str, np.ndarray] | None = None  # decoder module -> its low-rank factors; see engine.adapter

    def __post_init__(self) -> None:
        style = np.asarray(self.style, dtype=np.float32)
        if style.ndim == 3:  # packs ship as (510, 1, 256)
            style = style.reshape(style.shape[0], style.shape[-1])
        if style.ndim == 1:  # one shared row
            style = np.repeat(style[None, :], STYLE_ROWS, axis=0)
        if style.shape != (STYLE_ROWS, STYLE_DIM):
            raise ValueError(f"style must be ({STYLE_ROWS}, {STYLE_DIM}), got {style.shape}")
        if not np.isfinite(style).all():
            raise ValueError("style contains non-finite values")
        self.style = style
        if self.timbre is not None:
            timbre = np.asarray(self.timbre, dtype=np.float32)
            if timbre.ndim != 2 or timbre.shape[0] != 2 or not np.isfinite(timbre).all():
                raise ValueError("timbre must be a finite (2, bands) array")
            self.timbre = timbre
        if self.adapter is not None:
            adapter = {k: np.asarray(v, dtype=np.float32) for k, v in self.adapter.items()}
            if not adapter or not all(v.ndim == 2 and np.isfinite(v).all() for v in adapter.values()):
                raise ValueError("adapter must be a non-empty set of finite matrices")
            self.adapter = adapter

    def filter(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """The model's output for this voice through its timbre filter (unchanged if it has none)."""
        if self.timbre is None:
            return audio
        from voicesmith.engine.timbre import TimbreFilter

        return TimbreFilter.from_array(self.timbre).apply(audio, sr)

    def style_for(self, n_phonemes: int) -> np.ndarray:
        """The (1, 256) style row for a text of n_phonemes phonemes."""
        row = min(max(n_phonemes - 1, 0), STYLE_ROWS - 1)
        return self.style[row : row + 1]

    def with_prosody_of(self, donor: "VoiceArtifact", meta: dict) -> "VoiceArtifact":
        """This voice's timbre (first style half, pitch scale, filter) with `donor`'s prosody (second half, speed)."""
        style = self.style.copy()
        style[:, PROSODY] = donor.style[:, PROSODY]
        timbre = None if self.timbre is None else self.timbre.copy()
        adapter = None if self.adapter is None else dict(self.adapter)
        return VoiceArtifact(style=style, pitch_scale=self.pitch_scale, speed=donor.speed,
                             engine_model=self.engine_model, meta=meta, timbre=timbre, adapter=adapter)

    def kokoro_pack(self) -> np.ndarray:
        """The style as a Kokoro voice pack, (STYLE_ROWS, 1, STYLE_DIM) float32, the shape kokoro-onnx loads.
        Only the style travels: the pitch scale, speed and timbre filter are voicesmith's own."""
        return self.style.reshape(STYLE_ROWS, 1, STYLE_DIM).copy()

    def to_bytes(self) -> bytes:
        version = 3 if self.adapter is not None else 2 if self.timbre is not None else 1
        header = {
            "format_version": version,
            "pitch_scale": self.pitch_scale,
            "speed": self.speed,
            "engine_model": self.engine_model,
            "meta": self.meta,
        }
        arrays = {} if self.timbre is None else {"timbre": self.timbre}
        arrays.update({_ADAPTER + k: v for k, v in (self.adapter or {}).items()})
        buf = io.BytesIO()
        np.savez_compressed(buf, style=self.style, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                            **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "VoiceArtifact":
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes().decode())
            if header.get("format_version", 0) > FORMAT_VERSION:
                raise ValueError(f"voice artifact format {header['format_version']} is newer than this server")
            return cls(
                style=npz["style"],
                pitch_scale=float(header.get("pitch_scale", 1.0)),
                speed=float(header.get("speed", 1.0)),
                engine_model=header.get("engine_model", "kokoro-82m-v1.0"),
                meta=header.get("meta", {}),
                timbre=npz["timbre"] if "timbre" in npz.files else None,
                adapter={k[len(_ADAPTER):]: npz[k] for k in npz.files if k.startswith(_ADAPTER)} or None,
            )
