"""Streaming multipart/form-data parsing for large uploads.

Starlette's request.form() spools each file to a temp file of its own and then hands it over, so a
200 MB upload would be written twice. Here the body is parsed as it arrives and the file part is
written straight into a blob writer; other fields are small and kept in memory (bounded).
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from voicesmith.api.errors import ApiError

MAX_FIELD_BYTES = 64 * 1024
MAX_FILENAME = 255
# File data is handed to a writer thread in blocks of this size, at most _MAX_IN_FLIGHT at a time:
# hashing and writing (which release the GIL) overlap with receiving the next bytes, and memory
# stays bounded at a few MB whatever the upload size.
_BLOCK = 1024 * 1024
_MAX_IN_FLIGHT = 3


class Sink(Protocol):
    def write(self, data: bytes | memoryview) -> None: ...


class UploadDisconnected(Exception):
    """The client went away before the body was complete."""


@dataclass
class ParsedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file_found: bool = False
    filename: str | None = None
    file_content_type: str | None = None


class _PipelinedSink:
    """Buffers file bytes from the parser callbacks and writes them to `sink` on one worker thread, in order."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._buf = bytearray()
        self._pending: deque[asyncio.Future] = deque()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload")

    def write(self, data: bytes | memoryview) -> None:
        self._buf += data

    async def pump(self, final: bool = False) -> None:
        if len(self._buf) >= _BLOCK or (final and self._buf):
            block, self._buf = self._buf, bytearray()
            self._pending.append(asyncio.get_running_loop().run_in_executor(self._executor, self._sink.write, block))
        while self._pending and (final or len(self._pending) > _MAX_IN_FLIGHT or self._pending[0].done()):
            await self._pending.popleft()  # re-raises the writer's errors (BlobTooLarge...)

    async def close(self) -> None:
        """Wait for writes in flight (their errors no longer matter) so the caller may abort safely."""
        while self._pending:
            try:
                await self._pending.popleft()
            except Exception:  # noqa: BLE001
                pass
        self._executor.shutdown(wait=True)


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_multipart", "Invalid multipart body", message)


def boundary_of(request: Request) -> bytes:
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "Unsupported media type",
                       "This endpoint takes multipart/form-data (a 'file' part and form fields).")
    boundary = params.get(b"boundary")
    if not boundary:
        raise _bad("The multipart Content-Type has no boundary.")
    return boundary


def _clean_filename(raw: bytes) -> str:
    name = raw.decode("utf-8", errors="replace").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name.strip("."):
        return ""  # "." and "..": a path, not a name (the caller names it "upload")
    return name[:MAX_FILENAME]


async def parse_streaming(request: Request, file_field: str, sink: Sink) -> ParsedForm:
    """Parse the request body; the first part named `file_field` streams into `sink`.

    Raises UploadDisconnected if the client hangs up, ApiError(400) for a malformed or truncated body.
    """
    form = ParsedForm()
    state: dict = {"headers": {}, "hname": b"", "hvalue": b"", "target": None, "name": None, "buf": None,
                   "done": False}

    def on_part_begin() -> None:
        state["headers"] = {}
        state["target"] = state["name"] = state["buf"] = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hvalue"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hname"].lower()] = state["hvalue"]
        state["hname"] = state["hvalue"] = b""

    def on_headers_finished() -> None:
        _, params = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", errors="replace")
        state["name"] = name
        if name == file_field and not form.file_found:
            form.file_found = True
            form.filename = _clean_filename(params.get(b"filename", b"")) or "upload"
            ctype = state["headers"].get(b"content-type")
            form.file_content_type = ctype.decode("latin-1")[:200] if ctype else None
            state["target"] = "file"
        elif b"filename" in params:
            state["target"] = "discard"  # files we were not asked for
        else:
            state["target"] = "field"
            state["buf"] = bytearray()

    pipe = _PipelinedSink(sink)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        target = state["target"]
        if target == "file":
            pipe.write(memoryview(data)[start:end])
        elif target == "field":
            buf = state["buf"]
            if len(buf) + (end - start) > MAX_FIELD_BYTES:
                raise _bad(f"Form field {state['name']!r} is larger than {MAX_FIELD_BYTES} bytes.")
            buf += data[start:end]

    def on_part_end() -> None:
        if state["target"] == "field" and state["name"]:
            form.fields.setdefault(state["name"], bytes(state["buf"]).decode("utf-8", errors="replace"))

    def on_end() -> None:
        state["done"] = True

    parser = MultipartParser(boundary_of(request), {
        "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_end": on_end,
    })
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
                await pipe.pump()
        await pipe.pump(final=True)
    except ClientDisconnect:
        raise UploadDisconnected() from None
    except ApiError:
        raise
    except Exception as exc:  # the parser's own errors: malformed framing
        if type(exc).__module__.startswith("python_multipart"):
            raise _bad(f"Malformed multipart body: {exc}.") from None
        raise
    finally:
        await pipe.close()
    if not state["done"]:
        raise _bad("The multipart body ended before its closing boundary (truncated upload?).")
    return form
