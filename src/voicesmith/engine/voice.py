"""The Voice artifact: everything the engine needs to speak in a voice, as one versioned blob.

Today a voice is a Kokoro style pack (510 rows x 256: row i is used for a text of i+1 phonemes;
the first 128 values condition the decoder/timbre, the last 128 the prosody predictor) plus a pitch
scale and a speaking-rate factor. The format is versioned so later engines can add fields.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

FORMAT_VERSION = 1
STYLE_ROWS = 510
STYLE_DIM = 256


@dataclass
class VoiceArtifact:
    style: np.ndarray  # float32, (STYLE_ROWS, STYLE_DIM)
    pitch_scale: float = 1.0  # multiplies the predicted F0 curve
    speed: float = 1.0  # multiplies the speaking rate
    engine_model: str = "kokoro-82m-v1.0"
    meta: dict = field(default_factory=dict)  # provenance: stock pack name, fine-tune id, scores...

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

    def style_for(self, n_phonemes: int) -> np.ndarray:
        """The (1, 256) style row for a text of n_phonemes phonemes."""
        row = min(max(n_phonemes - 1, 0), STYLE_ROWS - 1)
        return self.style[row : row + 1]

    def to_bytes(self) -> bytes:
        header = {
            "format_version": FORMAT_VERSION,
            "pitch_scale": self.pitch_scale,
            "speed": self.speed,
            "engine_model": self.engine_model,
            "meta": self.meta,
        }
        buf = io.BytesIO()
        np.savez_compressed(buf, style=self.style, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
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
            )
