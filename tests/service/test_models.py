"""Model ids: the engine id, Cartesia's ids as aliases, everything else rejected."""

from __future__ import annotations

import pytest

from voicesmith.service.errors import InvalidRequest
from voicesmith.service.models import DEFAULT_ENGINE_MODEL, resolve_model


@pytest.mark.parametrize("model_id", [
    "kokoro-82m-v1.0", "sonic", "sonic-english", "sonic-multilingual", "sonic-preview", "sonic-latest",
    "sonic-2", "sonic-2-2025-03-07", "sonic-2-2025-06-11", "sonic-turbo", "sonic-turbo-2025-06-04",
    "sonic-3", "sonic-3-2025-10-27", "sonic-3-2026-01-12", "sonic-3-latest", "sonic-3.5", "sonic-3.5-2026-05-04",
])
def test_known_ids_resolve_to_the_engine(model_id):
    assert resolve_model(model_id) == DEFAULT_ENGINE_MODEL


@pytest.mark.parametrize("model_id", [None, "", "sonic-4", "sonic-2-latest-x", "sonic-3-2026", "gpt-4o",
                                      "SONIC-2", "sonic-2 ", "kokoro"])
def test_unknown_ids_are_model_not_found(model_id):
    with pytest.raises(InvalidRequest) as err:
        resolve_model(model_id)
    assert err.value.error_code == "model_not_found" and err.value.status == 400
