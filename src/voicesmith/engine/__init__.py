"""The speech engine: audio, transcription, the TTS model, the speaker encoder, fine-tuning and evaluation.

Pure speech code: it takes paths, arrays and parameters and returns audio, artifacts and numbers. It
knows nothing of HTTP, the database or the server's settings (its own knobs are in settings.py).

The modules named in `__all__` are its public surface, the only ones the service layer and the worker
import (tests/test_layers.py holds every import to that). The rest (the style search, the CMA-ES
optimiser, the Kokoro graph surgery, the voice set's recipes...) are internal and free to change.
"""

__all__ = [
    "audio",  # decoding any upload, resampling
    "clone",  # instant clone from one clip
    "consent",  # the spoken consent check: code words heard (Whisper), speaker match, the threshold
    "dataset_report",  # per-file analysis and the dataset's quality report
    "encoding",  # output formats (wav, raw PCM, mp3, mu-law, a-law) and their encoders
    "fine_tune",  # the fine-tune pipeline: request, progress, result, its errors
    "settings",  # the engine's environment settings and the usable cores
    "stock",  # the stock voices
    "synthesis",  # text to streamed audio with timings
    "voice",  # the voice artifact format
]
