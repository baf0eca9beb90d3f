"""The FastAPI application: `create_app()` (uvicorn: `voicesmith.api.app:create_app --factory`)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib import metadata
from typing import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from voicesmith.api.errors import RequestContextMiddleware, install_error_handlers
from voicesmith.api.routes import (accents, api_keys, auth_tokens, datasets, docs, fine_tunes, openai,
                                   pronunciation_dicts, status, studio, tts, usage, voices)
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
        docs_url=None,  # served by api/routes/docs.py from local assets
        redoc_url=None,  # ReDoc would load from a CDN
        redirect_slashes=False,  # both spellings are real routes (api/routing.py); never 307 a multipart body
        lifespan=_lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    # openai: /v1/audio/speech and /v1/models (OpenAI-compatible); studio: the web studio's static files at /studio/.
    for module in (status, auth_tokens, datasets, fine_tunes, voices, accents, usage, api_keys, pronunciation_dicts, tts,
                   openai, studio, docs):
        app.include_router(module.router)
    return app

