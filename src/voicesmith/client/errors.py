"""Exceptions raised by `VoicesmithClient`: one per thing a caller may want to handle differently.

Each carries the HTTP status (None when the server was never reached), the server's machine-readable
`error_code` and its human message, so a caller can branch on the code and show the message as is.
"""

from __future__ import annotations

import json

import httpx


class VoicesmithError(Exception):
    """A request failed; `message` is meant for a human, `error_code` for code."""

    def __init__(self, status: int | None, error_code: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(VoicesmithError):
    """400/422: the request was refused as invalid (the message says which field or rule)."""


class AuthError(VoicesmithError):
    """401/403: missing, unknown, revoked or insufficient API key."""


class InsufficientCredits(VoicesmithError):
    """402: the organisation's balance does not cover the operation."""


class NotFound(VoicesmithError):
    """404: no such object in this organisation (or no such route on this server)."""


class ServerError(VoicesmithError):
    """5xx, or any other unexpected status."""


class ServerUnavailable(VoicesmithError):
    """The server could not be reached at all (refused, DNS, timeout)."""


_BY_STATUS: dict[int, type[VoicesmithError]] = {
    400: BadRequest,
    401: AuthError,
    402: InsufficientCredits,
    403: AuthError,
    404: NotFound,
    422: BadRequest,
}


def error_from_response(response: httpx.Response) -> VoicesmithError:
    """Build the exception for a non-2xx response, whatever body shape the server chose.

    voicesmith answers `{error_code, title, message, request_id}` (Cartesia-Version >= 2026-03-01);
    older servers and proxies may send FastAPI's `{"detail": ...}` or plain text.
    """
    status = response.status_code
    code: str | None = None
    message = ""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        code = body.get("error_code") or None
        message = str(body.get("message") or body.get("title") or "")
        if not message and "detail" in body:
            message = _detail_message(body["detail"])
    if not message:
        message = response.text.strip()[:300] or response.reason_phrase or "request failed"
    cls = _BY_STATUS.get(status, ServerError)
    return cls(status, code, f"{message} (HTTP {status})")


def _detail_message(detail: object) -> str:
    # FastAPI validation errors: a list of {loc, msg}; say which field.
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
        return "; ".join(parts)
    return str(detail)
