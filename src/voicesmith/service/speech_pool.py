"""Run CPU-bound speech generators on a bounded thread pool and consume them from asyncio.

Synthesis is pure CPU work (onnxruntime releases the GIL), so it runs on worker threads while the event loop keeps
serving other requests. Each call to `next()` on a generator is one pool task: many streams interleave chunk by
chunk instead of one long request holding a worker, and a stream whose consumer has gone away stops at the next
chunk boundary.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from voicesmith.config import get_settings
from voicesmith.engine.settings import usable_cores

T = TypeVar("T")

_END = object()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_threads_per_task = 1


def set_threads_per_task(threads: int) -> None:
    """How many cores one synthesis step keeps busy (the engine's own thread pool); call before the first use."""
    global _threads_per_task
    _threads_per_task = max(1, threads)


def pool_size() -> int:
    """VOICESMITH_TTS_WORKERS, else as many concurrent steps as the free cores hold without oversubscription
    (an engine running on 2 threads on 2 cores gets 1 worker: two steps at once would only fight for the cores)."""
    fixed = get_settings().tts_workers
    return fixed if fixed else max(1, usable_cores() // _threads_per_task)


def synthesis_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="tts")
        return _pool


async def iterate_in_pool(make_iter: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Yield the items of `make_iter()`, computing each one on the synthesis pool.

    The iterator is created on the pool too (text normalisation and phonemisation are CPU work). When the consumer
    stops early (break, cancellation, client disconnect) no further step is scheduled and the iterator is closed on
    the pool once any step still running there has finished, so its `finally` blocks run and nothing leaks.
    """
    loop = asyncio.get_running_loop()
    pool = synthesis_pool()
    stopped = threading.Event()
    state: dict[str, Iterator[T]] = {}

    def step() -> object:
        if stopped.is_set():
            return _END
        it = state.get("it")
        if it is None:
            it = state["it"] = make_iter()
        return next(it, _END)

    def close() -> None:
        it = state.pop("it", None)
        close_it = getattr(it, "close", None)
        if close_it is not None:
            close_it()

    running: Future | None = None
    try:
        while True:
            running = pool.submit(step)
            item = await asyncio.wrap_future(running, loop=loop)
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
        if running is None or running.done():
            pool.submit(close)
        else:
            # A step is still computing on a worker: close the iterator only after it returns (a generator
            # cannot be closed while another thread is executing it).
            running.add_done_callback(lambda _f: pool.submit(close))
