"""Structured errors: every 4xx/5xx is JSON {error_code, title, message, request_id}.

The contract requires this body from Cartesia-Version 2026-03-01 on and allows anything for older
versions, whose SDKs parse JSON first; so one shape serves every version. Each request gets an id
(X-Request-ID header, echoed in error bodies) so a user can quote it from a log.
"""

from __future__ import annotations

import errno
import json
import logging
import uuid
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicesmith.service.errors import ServiceError, clip_message

log = logging.getLogger("voicesmith.api")

REQUEST_ID_HEADER = "x-request-id"


class ApiError(Exception):
    """An HTTP error with a machine-readable code, raised anywhere in the API layer."""

    def __init__(self, status: int, error_code: str, title: str, message: str, headers: dict | None = None,
                 param: str | None = None) -> None:
        message = clip_message(message)
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.title = title
        self.message = message
        self.headers = headers or {}
        self.param = param  # the request field at fault, where one is (OpenAI-style errors name it)


def request_id_of(scope_or_request: Any) -> str:
    scope = getattr(scope_or_request, "scope", scope_or_request)
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is None:
        rid = state["request_id"] = str(uuid.uuid4())
    return rid


def error_body(status: int, error_code: str, title: str, message: str, request_id: str) -> dict:
    return {"error_code": error_code, "title": title, "message": message, "request_id": request_id}


def error_headers(exc: Exception) -> dict[str, str]:
    """HTTP headers an error carries: its own (ApiError), and Retry-After for anything that says when to retry."""
    headers = dict(getattr(exc, "headers", None) or {})
    retry = getattr(exc, "retry_after_s", None)
    if retry is not None:
        headers["Retry-After"] = str(int(retry))
    return headers


# The OpenAI-compatible routes (/v1/...) answer with OpenAI's error shape, which OpenAI's SDKs and the tools built
# on them read: {"error": {"message", "type", "param", "code"}}.
OPENAI_PREFIX = "/v1/"
_OPENAI_CODES = {"unauthorized": "invalid_api_key"}


def openai_error_body(status: int, error_code: str, message: str, param: str | None = None) -> dict:
    if status >= 500:
        kind = "server_error"
    elif status == 429:
        kind = "rate_limit_error"
    elif status == 402:
        kind = "insufficient_quota"
    elif status in (401, 403):
        kind = "authentication_error" if status == 401 else "permission_error"
    else:
        kind = "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param,
                      "code": _OPENAI_CODES.get(error_code, error_code)}}


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIX)


def error_response(request: Request, status: int, error_code: str, title: str, message: str,
                   headers: dict | None = None, param: str | None = None) -> JSONResponse:
    rid = request_id_of(request)
    if is_openai_path(request.url.path):
        return JSONResponse(openai_error_body(status, error_code, message, param), status_code=status,
                            headers=headers)
    return JSONResponse(error_body(status, error_code, title, message, rid), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _field_path(loc: tuple | list) -> str:
    # loc is ("body", "name") or ("query", "limit"); the "body" root says nothing to a user.
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header", "form"):
        where, parts = parts[0], parts[1:]
        return ".".join(parts) if where == "body" else f"{'.'.join(parts)} ({where})"
    return ".".join(parts)


def validation_message(errors: list[dict]) -> tuple[str, str]:
    """(error_code, message) for pydantic/FastAPI validation errors, naming each failing field."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return "invalid_json", "The request body is not valid JSON."
    msgs = []
    for e in errors[:5]:
        loc = e.get("loc", ())
        field = _field_path(loc)
        text = e.get("msg", "invalid value")
        if e.get("type") == "missing":
            text = "field required"
        msgs.append(f"{field}: {text}" if field else text)
    return "invalid_request", "Invalid request: " + "; ".join(msgs) + "."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.error_code, exc.title, exc.message, exc.headers, exc.param)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(request, exc.status, exc.error_code, exc.title, exc.message, error_headers(exc))

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("disk full in %s %s: %s", request.method, request.url.path, exc)
            return error_response(request, 507, "insufficient_storage", "Insufficient storage",
                                  "The server's disk is full, so this request could not be stored (nothing of it "
                                  "was kept). Retry once the server's operator has freed space.")
        raise exc  # any other OSError is a bug: RequestContextMiddleware logs it and answers 500

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = validation_message(list(exc.errors()))
        message = clip_message(message)
        status = 400 if code == "invalid_json" else 422
        title = "Invalid JSON" if status == 400 else "Invalid request"
        return error_response(request, status, code, title, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
        if status == 404 and detail is None:
            detail = f"No route for {request.method} {request.url.path}."
        elif status == 405 and detail is None:
            detail = f"{request.method} is not allowed on {request.url.path}."
        return error_response(request, status, code, phrase, detail or phrase, dict(exc.headers or {}))


class RequestContextMiddleware:
    """Gives every request an id (X-Request-ID) and turns unhandled exceptions into a clean 500.

    A pure ASGI middleware (not BaseHTTPMiddleware) so streaming bodies and responses pass through
    untouched. Tracebacks go to the server log, never to the client.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                request_id_of(scope)
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode())
        rid = request_id_of(scope)
        if incoming and 8 <= len(incoming) <= 128 and incoming.isascii():
            rid = scope["state"]["request_id"] = incoming.decode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s (request %s)", scope.get("method"), scope.get("path"), rid)
            if started:
                raise  # the response is half sent; the server can only drop the connection
            message = "The server failed to handle this request; quote the request_id when reporting it."
            if is_openai_path(scope.get("path", "")):
                body = json.dumps(openai_error_body(500, "internal_error", f"{message} (request_id {rid})")).encode()
            else:
                body = json.dumps(error_body(500, "internal_error", "Internal server error", message, rid)).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                    (REQUEST_ID_HEADER.encode(), rid.encode())]})
            await send({"type": "http.response.body", "body": body})
