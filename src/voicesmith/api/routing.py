"""A router that answers every path with and without its trailing slash.

Official clients request `/datasets/` and `/datasets` alike; a redirect between them would make
them re-send multipart bodies (Cartesia's API), so both spellings are real routes. Only the
spelling without the slash appears in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter


class SlashRouter(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        full = self.prefix + path
        canonical = path.rstrip("/") if full.rstrip("/") else path
        super().add_api_route(canonical, endpoint, **kwargs)
        alternate = canonical + "/"
        if (self.prefix + alternate) != "/" and alternate != canonical:
            super().add_api_route(alternate, endpoint, **{**kwargs, "include_in_schema": False})
