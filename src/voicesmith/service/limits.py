"""Per-organisation TTS limits (Cartesia's API): concurrent generations, and open WebSocket connections.

A generation is one /tts/bytes or /tts/sse request, or one open WebSocket context; an organisation may run
`tts_concurrency` of them at once and hold ten times that many WebSockets open. Going over raises
ConcurrencyLimited, which the API answers with 429 (an `error` event for a WebSocket context).

The counts live in this process's memory. That is exact because `voicesmith serve` runs the whole API in one
process (with its job worker embedded, which never takes TTS requests). A deployment running several API
processes would need a shared counter instead (e.g. in Redis); as it is, each would count only its own traffic.
"""

from __future__ import annotations

import threading

from voicesmith.config import get_settings
from voicesmith.service.errors import ServiceError

# Open WebSocket connections per organisation, as a multiple of its generation limit (Cartesia's API).
CONNECTIONS_PER_GENERATION = 10


class ConcurrencyLimited(ServiceError):
    status = 429
    default_code = "concurrency_limited"
    default_title = "Too many concurrent requests"


class Slot:
    """One unit of a limit, held until released. Releasing again does nothing, so every path that ends the work
    (success, error, disconnect, cancel) may release without counting who released first."""

    def __init__(self, counter: _Counter, org_id: str) -> None:
        self._counter = counter
        self._org_id = org_id
        self._held = True

    def release(self) -> None:
        self._counter.release(self)


class _Counter:
    """How many slots each organisation holds. Locked, so code on worker threads may use it as safely as the
    routes on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def acquire(self, org_id: str, limit: int) -> Slot | None:
        with self._lock:
            held = self._held.get(org_id, 0)
            if held >= limit:
                return None
            self._held[org_id] = held + 1
            return Slot(self, org_id)

    def release(self, slot: Slot) -> None:
        with self._lock:
            if not slot._held:
                return
            slot._held = False
            left = self._held[slot._org_id] - 1
            if left:
                self._held[slot._org_id] = left
            else:
                del self._held[slot._org_id]  # organisations come and go; keep no entry for idle ones


_generations = _Counter()
_connections = _Counter()


def acquire_generation(org_id: str) -> Slot:
    """A slot for one TTS generation (an HTTP request or a WebSocket context); raises ConcurrencyLimited."""
    limit = get_settings().tts_concurrency
    slot = _generations.acquire(org_id, limit)
    if slot is None:
        raise ConcurrencyLimited(
            f"This organisation already has {limit} text-to-speech generations running (HTTP requests and open "
            f"WebSocket contexts), the most this server runs at once. Retry when one has finished; the server's "
            f"operator can raise VOICESMITH_TTS_CONCURRENCY.")
    return slot


def acquire_connection(org_id: str) -> Slot:
    """A slot for one open TTS WebSocket; raises ConcurrencyLimited."""
    limit = CONNECTIONS_PER_GENERATION * get_settings().tts_concurrency
    slot = _connections.acquire(org_id, limit)
    if slot is None:
        raise ConcurrencyLimited(
            f"This organisation already has {limit} TTS WebSockets open, the most this server allows. Close one "
            f"(one connection can carry many contexts) or retry later.",
            title="Too many WebSocket connections")
    return slot
