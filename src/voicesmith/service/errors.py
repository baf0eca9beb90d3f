"""Errors the service layer raises; the API turns each into a structured HTTP error.

`status` is the HTTP-style class of the failure (404, 402...). It lives here rather than in the
API so that every caller (HTTP, WebSocket, CLI, worker) classifies a failure the same way.
"""

from __future__ import annotations

import errno


MAX_MESSAGE_CHARS = 1000


def clip_message(message: str) -> str:
    """Error messages quote what the client sent (an id, a name); a megabyte id must not come back whole."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 203] + " [...] " + message[-196:]


class ServiceError(Exception):
    status = 400
    default_code = "invalid_request"
    default_title = "Invalid request"
    # Seconds after which the same request may succeed (429s); the API sends it as Retry-After.
    retry_after_s: int | None = None

    def __init__(self, message: str, *, error_code: str | None = None, title: str | None = None) -> None:
        message = clip_message(message)
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


_OS_ERRORS = {
    errno.ENOSPC: "the server's disk is full",
    errno.EDQUOT: "the server's disk quota is used up",
    errno.ENOENT: "a file it needed was missing",
    errno.EACCES: "the server was not allowed to read or write a file it needed",
    errno.EPERM: "the server was not allowed to read or write a file it needed",
    errno.EROFS: "the server's storage is read-only",
    errno.EIO: "the server's storage reported an input/output error",
}


def in_words(exc: BaseException) -> str:
    """What went wrong, in words fit to show a user (a job's error, a report note).

    An exception's own text often names server paths and errno numbers (OSError, FFmpeg, ImportError),
    so it is never shown: the class of failure is described instead, and the details go to the log."""
    if isinstance(exc, ServiceError):
        return exc.message
    if isinstance(exc, MemoryError):
        return "the server ran out of memory"
    if isinstance(exc, OSError) and exc.errno in _OS_ERRORS:
        return _OS_ERRORS[exc.errno]
    if isinstance(exc, TimeoutError):
        return "an operation timed out"
    if isinstance(exc, OSError):
        return "the server could not read or write a file it needed"
    return f"an internal error ({type(exc).__name__}) occurred; the server log has the details"
