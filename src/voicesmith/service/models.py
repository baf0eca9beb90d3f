"""Model ids: voicesmith's engine ids, and Cartesia's model ids accepted as aliases of them.

Client code written for Cartesia sends `sonic-2`, `sonic-3-2026-01-12`, `sonic-latest`...; all of
them run on the one engine voicesmith has today. Anything else is a 400 `model_not_found`.
"""

from __future__ import annotations

import re

from voicesmith.service.errors import InvalidRequest

DEFAULT_ENGINE_MODEL = "kokoro-82m-v1.0"
ENGINE_MODELS = (DEFAULT_ENGINE_MODEL,)

# Every Cartesia TTS model name seen across the API definitions and SDKs (Cartesia's API), with or
# without a release date or "-latest" suffix.
_CARTESIA_ALIAS = re.compile(
    r"^sonic(?:-english|-multilingual|-preview|-latest)?$"
    r"|^sonic-(?:2|turbo|3|3\.5)(?:-latest|-\d{4}-\d{2}-\d{2})?$"
)


def is_cartesia_alias(model_id: str) -> bool:
    return bool(_CARTESIA_ALIAS.match(model_id))


def resolve_model(model_id: str | None) -> str:
    """The engine model that serves `model_id`; raises InvalidRequest(model_not_found)."""
    if model_id in ENGINE_MODELS:
        return model_id
    if model_id and is_cartesia_alias(model_id):
        return DEFAULT_ENGINE_MODEL
    raise InvalidRequest(
        f"Model {model_id!r} is not available. Use {DEFAULT_ENGINE_MODEL!r} or a Cartesia model id such as "
        "'sonic-2', 'sonic-3' or 'sonic-latest' (they all run on voicesmith's engine).",
        error_code="model_not_found", title="Model not found",
    )
