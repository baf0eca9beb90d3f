"""voicesmith's Python client and CLI. `from voicesmith.client import VoicesmithClient`."""

from voicesmith.client.api import VoicesmithClient
from voicesmith.client.errors import (
    AuthError,
    BadRequest,
    InsufficientCredits,
    NotFound,
    ServerError,
    ServerUnavailable,
    VoicesmithError,
)
from voicesmith.client.models import Dataset, DatasetFile, DatasetReport, FineTune, Voice

__all__ = [
    "AuthError",
    "BadRequest",
    "Dataset",
    "DatasetFile",
    "DatasetReport",
    "FineTune",
    "InsufficientCredits",
    "NotFound",
    "ServerError",
    "ServerUnavailable",
    "Voice",
    "VoicesmithClient",
    "VoicesmithError",
]
