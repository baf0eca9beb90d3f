"""Per-organisation TTS limits (Cartesia's API): concurrent generations, and open WebSocket connections; and
per-API-key request rates.

A generation is one /tts/bytes or /tts/sse request, or one open WebSocket context; an organisation may run
`tts_concurrency` of them at once and hold ten times that many WebSockets open. Going over raises
ConcurrencyLimited, which the API answers with 429 (an `error` event for a WebSocket context).

Where the counts live:
- With the default broker they live in this process's memory. That is exact because `voicesmith serve` then runs
  the whole API in one process (with its job worker embedded, which never takes TTS requests).
- With a Redis broker (VOICESMITH_BROKER_URL=redis://..., the scale-out setup: several API processes behind a
  load balancer) they live in Redis, shared by every API process, so the limit holds across all of them. Each
  organisation's count is a hash {process id: slots held}; taking a slot is one Lua script that adds up the
  entries of live processes and increments this process's entry only if the sum is under the limit, so two
  processes can never both take the last slot. A process is live while its lease key exists: it is set with a
  TTL of VOICESMITH_TTS_LEASE_TTL_S (15 s) and renewed every third of that by a thread, so the slots of a
  process that dies (SIGKILL, machine gone) stop counting at most one TTL later, and its entries are deleted by
  the next script that sees them. (Single Redis, not Redis Cluster: the script reads lease keys it is not given.)
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from functools import lru_cache

import redis

from voicesmith.config import get_settings
from voicesmith.service.errors import ServiceError

log = logging.getLogger(__name__)

# Open WebSocket connections per organisation, as a multiple of its generation limit (Cartesia's API).
CONNECTIONS_PER_GENERATION = 10


class ConcurrencyLimited(ServiceError):
    status = 429
    default_code = "concurrency_limited"
    default_title = "Too many concurrent requests"


class LimiterUnavailable(ServiceError):
    status = 503
    default_code = "limiter_unavailable"
    default_title = "Service unavailable"


class Slot:
    """One unit of a limit, held until released. Releasing again does nothing, so every path that ends the work
    (success, error, disconnect, cancel) may release without counting who released first."""

    def __init__(self, counter: _Counter | _RedisCounter, org_id: str) -> None:
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


# Shared counts in Redis ---------------------------------------------------------------------------------------------

# KEYS[1]: the organisation's hash {process id: slots}; ARGV: this process's id, the limit, the lease key prefix,
# the lease TTL in ms. Counts only live processes (dropping dead ones' entries); takes a slot if under the limit.
_ACQUIRE = """
local held = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #held, 2 do
  if held[i] == ARGV[1] or redis.call('EXISTS', ARGV[3] .. held[i]) == 1 then
    total = total + tonumber(held[i + 1])
  else
    redis.call('HDEL', KEYS[1], held[i])
  end
end
redis.call('SET', ARGV[3] .. ARGV[1], '1', 'PX', ARGV[4])
if total >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return 1
"""

# KEYS[1]: the hash; ARGV[1]: this process's id. Never below zero (entries of a process that was taken for dead
# are gone already).
_RELEASE = """
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if n <= 1 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
end
return n
"""

_KEY_PREFIX = "voicesmith:tts"


class _Lease:
    """This process's liveness in Redis: a key with a TTL, renewed by a daemon thread."""

    def __init__(self, client: redis.Redis, ttl_s: float) -> None:
        self.client = client
        self.ttl_ms = int(ttl_s * 1000)
        self.prefix = f"{_KEY_PREFIX}:lease:"
        self.process_id = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._renew, args=(ttl_s / 3,), name="tts-lease", daemon=True)
        self._thread.start()

    def _renew(self, interval_s: float) -> None:
        failing = False
        while True:
            try:
                self.client.set(self.prefix + self.process_id, "1", px=self.ttl_ms)
                if failing:
                    log.info("the TTS limit lease in Redis is renewed again")
                failing = False
            except redis.RedisError as exc:
                if not failing:  # once per outage, not every few seconds
                    log.warning("could not renew the TTS limit lease in Redis (%s); retrying", exc)
                failing = True
            time.sleep(interval_s)


class _RedisCounter:
    """The organisation counts shared by every API process through Redis (see the module docstring)."""

    def __init__(self, client: redis.Redis, kind: str, lease: _Lease) -> None:
        self._client = client
        self._kind = kind
        self._lease = lease
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._lock = threading.Lock()

    def _key(self, org_id: str) -> str:
        return f"{_KEY_PREFIX}:{self._kind}:{org_id}"

    def acquire(self, org_id: str, limit: int) -> Slot | None:
        try:
            taken = self._acquire(keys=[self._key(org_id)],
                                  args=[self._lease.process_id, limit, self._lease.prefix, self._lease.ttl_ms])
        except redis.RedisError as exc:
            raise LimiterUnavailable(
                "The server cannot reach the store it counts concurrent text-to-speech generations in; "
                "retry in a moment.") from exc
        return Slot(self, org_id) if taken else None

    def release(self, slot: Slot) -> None:
        with self._lock:
            if not slot._held:
                return
            slot._held = False
        try:
            self._release(keys=[self._key(slot._org_id)], args=[self._lease.process_id])
        except redis.RedisError:
            # The slot stays counted until this process's lease lapses; nothing better to do than say so.
            log.warning("could not release a TTS slot in Redis (org %s)", slot._org_id, exc_info=True)


@lru_cache(maxsize=4)
def _redis_counters(broker_url: str, ttl_s: float, pid: int) -> tuple[_RedisCounter, _RedisCounter]:
    client = redis.Redis.from_url(broker_url, socket_timeout=5, socket_connect_timeout=5)
    lease = _Lease(client, ttl_s)
    return _RedisCounter(client, "generations", lease), _RedisCounter(client, "connections", lease)


_generations = _Counter()
_connections = _Counter()


def _counters() -> tuple[_Counter | _RedisCounter, _Counter | _RedisCounter]:
    """(generations, connections): in Redis when the broker is Redis, else in this process."""
    settings = get_settings()
    if settings.broker_url.startswith(("redis://", "rediss://")):
        # Keyed by pid too: a forked child must not share its parent's lease (or its connection).
        return _redis_counters(settings.broker_url, settings.tts_lease_ttl_s, os.getpid())
    return _generations, _connections


def acquire_generation(org_id: str) -> Slot:
    """A slot for one TTS generation (an HTTP request or a WebSocket context); raises ConcurrencyLimited."""
    limit = get_settings().tts_concurrency
    slot = _counters()[0].acquire(org_id, limit)
    if slot is None:
        raise ConcurrencyLimited(
            f"This organisation already has {limit} text-to-speech generations running (HTTP requests and open "
            f"WebSocket contexts), the most this server runs at once. Retry when one has finished; the server's "
            f"operator can raise VOICESMITH_TTS_CONCURRENCY.")
    return slot


def acquire_connection(org_id: str) -> Slot:
    """A slot for one open TTS WebSocket; raises ConcurrencyLimited."""
    limit = CONNECTIONS_PER_GENERATION * get_settings().tts_concurrency
    slot = _counters()[1].acquire(org_id, limit)
    if slot is None:
        raise ConcurrencyLimited(
            f"This organisation already has {limit} TTS WebSockets open, the most this server allows. Close one "
            f"(one connection can carry many contexts) or retry later.",
            title="Too many WebSocket connections")
    return slot


# Request rates -------------------------------------------------------------------------------------------------------

class RateLimited(ServiceError):
    status = 429
    default_code = "rate_limited"
    default_title = "Too many requests"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _Buckets:
    """A token bucket per API key: `per_min` requests at once, refilled at per_min/60 a second."""

    MAX_KEYS = 10_000  # past this many tracked keys, the full (idle) buckets are forgotten

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)

    def take(self, key: str, per_min: int, now: float) -> float:
        """Take one token; 0 when granted, else the seconds until one is available."""
        rate = per_min / 60.0
        with self._lock:
            tokens, then = self._buckets.get(key, (float(per_min), now))
            tokens = min(float(per_min), tokens + (now - then) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self.MAX_KEYS:
                    self._forget_full(per_min, rate, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate

    def _forget_full(self, per_min: int, rate: float, now: float) -> None:
        for k, (tokens, then) in list(self._buckets.items()):
            if tokens + (now - then) * rate >= per_min:
                del self._buckets[k]


_requests = _Buckets()


def check_request_rate(api_key_id: str, now: float | None = None) -> None:
    """Count one request for the key; raises RateLimited (429, with the wait) past its rate."""
    per_min = get_settings().rate_limit_per_min
    if per_min <= 0:
        return
    wait_s = _requests.take(api_key_id, per_min, time.monotonic() if now is None else now)
    if wait_s > 0:
        retry = max(1, math.ceil(wait_s))
        raise RateLimited(
            f"This API key has made more than {per_min:,} requests in the last minute, the most this server "
            f"allows. Retry in {retry} s; the server's operator can raise VOICESMITH_RATE_LIMIT_PER_MIN.",
            retry_after_s=retry)
