"""Pagination query parameters and the `{data, has_more, next_page}` envelope."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Query

from voicesmith.api.errors import ApiError
from voicesmith.service.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest


async def page_params(
    limit: int = Query(DEFAULT_LIMIT, description="Items per page (1-100)."),
    starting_after: str | None = Query(None, description="Id of the last item already seen."),
    ending_before: str | None = Query(None, description="Id of the first item already seen."),
) -> PageRequest:
    # async: pure CPU, so FastAPI runs it inline instead of hopping to a worker thread
    return make_page_request(limit, starting_after, ending_before, default=DEFAULT_LIMIT)


def make_page_request(limit: int | None, starting_after: str | None, ending_before: str | None, *,
                      default: int = DEFAULT_LIMIT, cap: bool = False) -> PageRequest:
    if limit is None:
        limit = default
    if limit > MAX_LIMIT and cap:
        limit = MAX_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, "invalid_request", "Invalid request",
                       f"Invalid request: limit (query): must be between 1 and {MAX_LIMIT}, got {limit}.")
    if starting_after and ending_before:
        raise ApiError(400, "invalid_cursor", "Invalid request", "Pass either starting_after or ending_before, not both.")
    return PageRequest(limit=limit, starting_after=starting_after or None, ending_before=ending_before or None)


def envelope(page: Page, render: Callable[[Any], dict]) -> dict:
    return {"data": [render(item) for item in page.items], "has_more": page.has_more, "next_page": page.next_page}
