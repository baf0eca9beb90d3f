"""Errors the service layer raises; the API turns each into a structured HTTP error.

`status` is the HTTP-style class of the failure (404, 402...). It lives here rather than in the
API so that every caller (HTTP, WebSocket, CLI, worker) classifies a failure the same way.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    default_code = "invalid_request"
    default_title = "Invalid request"

    def __init__(self, message: str, *, error_code: str | None = None, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code or self.default_code
        self.title = title or self.default_title


class InvalidRequest(ServiceError):
    pass


class NotFound(ServiceError):
    status = 404
    default_code = "not_found"
    default_title = "Not found"


class Forbidden(ServiceError):
    status = 403
    default_code = "permission_denied"
    default_title = "Permission denied"


class Conflict(ServiceError):
    status = 409
    default_code = "conflict"
    default_title = "Conflict"


class InsufficientCredits(ServiceError):
    status = 402
    default_code = "insufficient_credits"
    default_title = "Insufficient credits"


class NotAvailable(ServiceError):
    status = 501
    default_code = "not_available"
    default_title = "Not available"
