"""The FastAPI application: `create_app()` (uvicorn: `voicesmith.api.app:create_app --factory`)."""

from __future__ import annotations

import importlib.util
import logging
from contextlib import asynccontextmanager
from importlib import metadata
from typing import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from voicesmith.api.errors import RequestContextMiddleware, install_error_handlers
from voicesmith.api.routes import (api_keys, auth_tokens, datasets, fine_tunes, openai, pronunciation_dicts, status,
                                   usage, voices)
from voicesmith.service.voices import seed_stock_voices
from voicesmith.store.blobs import get_blob_store
from voicesmith.store.db import migrate

log = logging.getLogger("voicesmith.api")


def _version() -> str:
    try:
        return metadata.version("voicesmith")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def prepare_storage() -> None:
    """Everything the API needs before its first request: schema, blob store, stock voices."""
    migrate()
    swept = get_blob_store().sweep_temp()
    if swept:
        log.info("removed %d temp files left by interrupted writes", swept)
    count = seed_stock_voices()
    log.info("%d stock voices available", count)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(prepare_storage)
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="voicesmith",
        version=_version(),
        description="Self-hosted voice cloning with a Cartesia-compatible API.",
        redirect_slashes=False,  # both spellings are real routes (api/routing.py); never 307 a multipart body
        lifespan=_lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    for module in (status, auth_tokens, datasets, fine_tunes, voices, usage, api_keys, pronunciation_dicts):
        app.include_router(module.router)
    _include_tts(app)
    app.include_router(openai.router)  # /v1/audio/speech, /v1/models (OpenAI-compatible)
    if importlib.util.find_spec("voicesmith.api.routes.studio"):  # web studio: static files at /studio/
        app.include_router(importlib.import_module("voicesmith.api.routes.studio").router)
    return app


def _include_tts(app: FastAPI) -> None:
    # TTS routes (/tts/bytes, /tts/sse, /tts/websocket) belong to the TTS API module, which lands
    # separately; a broken tts module must fail loudly, only a missing one is skipped.
    if importlib.util.find_spec("voicesmith.api.routes.tts") is None:
        log.warning("TTS routes are not installed (voicesmith.api.routes.tts missing)")
        return
    from voicesmith.api.routes import tts

    app.include_router(tts.router)  # <- TTS API: api/routes/tts.py exposes `router`
