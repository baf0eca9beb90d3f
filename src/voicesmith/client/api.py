"""A small typed client for the voicesmith HTTP API (Cartesia-compatible, plus voicesmith's extras).

    from voicesmith.client import VoicesmithClient
    with VoicesmithClient("http://127.0.0.1:8000", api_key) as vs:
        ds = vs.create_dataset("Ann", "recordings of Ann")
        vs.upload_file(ds.id, Path("ann/001.wav"))

For TTS in applications, the official `cartesia` SDK pointed at voicesmith (`base_url=...`) does the
same job with more options; this client covers what the `voicesmith` CLI needs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import mimetypes
import os
import secrets
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from voicesmith.client.errors import ServerUnavailable, VoicesmithError, error_from_response
from voicesmith.client.models import Dataset, DatasetFile, DatasetReport, FineTune, Voice

API_VERSION = "2026-03-01"
UPLOAD_CHUNK = 256 * 1024
PAGE_SIZE = 100

ProgressCallback = Callable[[int, int], None]  # (bytes sent so far, total bytes)


@dataclass(frozen=True)
class CreditBalance:
    """GET /usage/balance (voicesmith): the organisation's credits and the price of a fine-tune on this server."""

    balance: int
    reserved: int  # held by running fine-tunes until they complete (charged) or end otherwise (released)
    available: int
    fine_tune_cost: int

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CreditBalance:
        return cls(int(d["balance"]), int(d["reserved"]), int(d["available"]), int(d["fine_tune_cost"]))


class VoicesmithClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 60.0, page_size: int = PAGE_SIZE) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "Cartesia-Version": API_VERSION},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VoicesmithClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        try:
            response = self._http.send(request, stream=stream)
        except httpx.ConnectError as exc:
            raise ServerUnavailable(None, "server_unavailable", f"cannot reach voicesmith at {self.base_url} ({_reason(exc)})") from exc
        except httpx.TimeoutException as exc:
            raise ServerUnavailable(None, "timeout", f"voicesmith at {self.base_url} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ServerUnavailable(None, "transport_error", f"connection to {self.base_url} failed ({_reason(exc)})") from exc
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            raise error_from_response(response)
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._send(self._http.build_request(method, path, **kwargs))

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list (`starting_after` = last id, until an empty page)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        query["limit"] = self.page_size
        while True:
            page = self._json("GET", path, params=query)
            items = page.get("data") or []
            yield from items
            if not items or not page.get("has_more"):
                return
            query["starting_after"] = items[-1]["id"]

    # -- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self._json("GET", "/")

    # -- datasets ---------------------------------------------------------------------------

    def create_dataset(self, name: str, description: str = "") -> Dataset:
        return Dataset.from_json(self._json("POST", "/datasets", json={"name": name, "description": description}))

    def list_datasets(self) -> list[Dataset]:
        return [Dataset.from_json(d) for d in self._paginate("/datasets")]

    def get_dataset(self, dataset_id: str) -> Dataset:
        return Dataset.from_json(self._json("GET", f"/datasets/{dataset_id}"))

    def update_dataset(self, dataset_id: str, name: str, description: str) -> None:
        self._request("PATCH", f"/datasets/{dataset_id}", json={"name": name, "description": description})

    def delete_dataset(self, dataset_id: str) -> None:
        self._request("DELETE", f"/datasets/{dataset_id}")

    def list_files(self, dataset_id: str) -> list[DatasetFile]:
        return [DatasetFile.from_json(d) for d in self._paginate(f"/datasets/{dataset_id}/files")]

    def delete_file(self, dataset_id: str, file_id: str) -> None:
        self._request("DELETE", f"/datasets/{dataset_id}/files/{file_id}")

    def upload_file(
        self,
        dataset_id: str,
        path: Path,
        purpose: str = "fine_tune",
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Upload one file as multipart, streamed from disk in chunks (never whole in memory).

        The API answers 204 with no body: the new file's id is not returned (Cartesia contract).
        """
        with path.open("rb") as fp:
            size = os.fstat(fp.fileno()).st_size
            boundary = secrets.token_hex(16)
            head, tail = _multipart_frame(boundary, path.name, purpose)
            body = _multipart_body(head, fp, tail, size, on_progress)
            request = self._http.build_request(
                "POST",
                f"/datasets/{dataset_id}/files",
                content=body,
                headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    # Known length: the server can refuse an oversize upload before reading it.
                    "Content-Length": str(len(head) + size + len(tail)),
                },
            )
            self._send(request)

    def dataset_report(self, dataset_id: str) -> DatasetReport:
        return DatasetReport.from_json(self._json("GET", f"/datasets/{dataset_id}/report"))

    # -- consent (voicesmith, docs/consent.md) ----------------------------------------------

    def consent_status(self, dataset_id: str) -> dict[str, Any]:
        """{policy, consent: verified|unverified, challenge (the active one or None), attempts}."""
        return self._json("GET", f"/datasets/{dataset_id}/consent")

    def consent_challenge(self, dataset_id: str, speaker_name: str | None = None) -> dict[str, Any]:
        """A new statement for the speaker to read ({id, statement, code, expires_at}); replaces the active one."""
        return self._json("POST", f"/datasets/{dataset_id}/consent-challenge",
                          json={"name": speaker_name} if speaker_name else {})

    def submit_consent(self, dataset_id: str, clip: Path) -> dict[str, Any]:
        """Send the speaker's recording of the active challenge; returns the attempt (verified, reason, scores)."""
        with clip.open("rb") as fp:
            return self._json("POST", f"/datasets/{dataset_id}/consent", files={"clip": (clip.name, fp)})

    # -- fine-tunes -------------------------------------------------------------------------

    def create_fine_tune(
        self,
        dataset_id: str,
        *,
        name: str,
        language: str,
        model_id: str,
        description: str = "",
        budget: str | None = None,
    ) -> FineTune:
        """Start training (reserves the credits). `budget` (voicesmith): "tiny", "default" or "max"."""
        body = {"name": name, "description": description, "language": language, "model_id": model_id, "dataset": dataset_id}
        if budget is not None:
            body["budget"] = budget
        return FineTune.from_json(self._json("POST", "/fine-tunes", json=body))

    def get_fine_tune(self, fine_tune_id: str) -> FineTune:
        return FineTune.from_json(self._json("GET", f"/fine-tunes/{fine_tune_id}"))

    def list_fine_tunes(self) -> list[FineTune]:
        return [FineTune.from_json(d) for d in self._paginate("/fine-tunes")]

    def delete_fine_tune(self, fine_tune_id: str) -> None:
        """Cancels a running fine-tune (its reserved credits are released) and deletes it."""
        self._request("DELETE", f"/fine-tunes/{fine_tune_id}")

    def fine_tune_voices(self, fine_tune_id: str) -> list[Voice]:
        return [Voice.from_json(v) for v in self._paginate(f"/fine-tunes/{fine_tune_id}/voices")]

    def fine_tune_report(self, fine_tune_id: str) -> dict[str, Any]:
        return self._json("GET", f"/fine-tunes/{fine_tune_id}/report")

    # -- voices -----------------------------------------------------------------------------

    def list_voices(
        self, *, q: str | None = None, is_owner: bool | None = None, language: str | None = None
    ) -> list[Voice]:
        params: dict[str, Any] = {"q": q, "language": language}
        if is_owner is not None:
            params["is_owner"] = "true" if is_owner else "false"
        return [Voice.from_json(v) for v in self._paginate("/voices", params)]

    def get_voice(self, voice_id: str) -> Voice:
        return Voice.from_json(self._json("GET", f"/voices/{voice_id}"))

    def update_voice(self, voice_id: str, *, name: str | None = None, description: str | None = None) -> Voice:
        body = {k: v for k, v in {"name": name, "description": description}.items() if v is not None}
        return Voice.from_json(self._json("PATCH", f"/voices/{voice_id}", json=body))

    def delete_voice(self, voice_id: str) -> None:
        self._request("DELETE", f"/voices/{voice_id}")

    def clone_voice(self, clip: Path, *, name: str, language: str = "en", description: str | None = None,
                    consent: Path | None = None) -> dict[str, Any]:
        """Instant clone from one short clip; returns the new voice's metadata. `consent` (voicesmith): the
        speaker reading the organisation's clone challenge (`clone_consent_challenge`)."""
        data = {"name": name, "language": language}
        if description is not None:
            data["description"] = description
        with contextlib.ExitStack() as stack:
            files = {"clip": (clip.name, stack.enter_context(clip.open("rb")), _content_type(clip))}
            if consent is not None:
                files["consent"] = (consent.name, stack.enter_context(consent.open("rb")), _content_type(consent))
            return self._json("POST", "/voices/clone", data=data, files=files)

    def clone_consent_challenge(self, speaker_name: str | None = None) -> dict[str, Any]:
        """A new statement to read before an instant clone ({id, statement, code, expires_at}); one per organisation."""
        return self._json("POST", "/voices/consent-challenge", json={"name": speaker_name} if speaker_name else {})

    def export_voice(self, voice_id: str, out: Path, file_format: str = "voicesmith") -> int:
        """GET /voices/{id}/export into `out` (written whole or not at all): a voicesmith voice file, or with
        file_format="kokoro" a Kokoro .npy voice pack. Returns the bytes written."""
        data = self._request("GET", f"/voices/{voice_id}/export", params={"format": file_format}).content
        tmp = out.with_name(out.name + ".part")
        try:
            tmp.write_bytes(data)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        return len(data)

    def import_voice(self, path: Path, *, name: str | None = None) -> dict[str, Any]:
        """POST /voices/import: a voice file exported by a voicesmith becomes a voice of yours; returns its metadata."""
        with path.open("rb") as fp:
            return self._json("POST", "/voices/import", files={"file": (path.name, fp, "application/zip")},
                              data={"name": name} if name else {})

    def localize_voice(self, voice_id: str, *, name: str, language: str | None = None, accent: str | None = None,
                       description: str | None = None) -> dict[str, Any]:
        """POST /voices/localize: a new voice with this one's timbre speaking another language or accent."""
        body = {"voice_id": voice_id, "name": name, "language": language, "accent": accent,
                "description": description}
        return self._json("POST", "/voices/localize", json={k: v for k, v in body.items() if v is not None})

    def list_accents(self) -> list[dict[str, Any]]:
        return self._json("GET", "/accents")["accents"]

    # -- pronunciation dictionaries ---------------------------------------------------------

    def list_dicts(self) -> list[dict[str, Any]]:
        return list(self._paginate("/pronunciation-dicts"))

    def create_dict(self, name: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return self._json("POST", "/pronunciation-dicts", json={"name": name, "items": items})

    def get_dict(self, dict_id: str) -> dict[str, Any]:
        return self._json("GET", f"/pronunciation-dicts/{dict_id}")

    def update_dict(self, dict_id: str, *, name: str | None = None,
                    items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """PATCH: `items` replaces the whole list; what is None is left as it is."""
        body = {k: v for k, v in {"name": name, "items": items}.items() if v is not None}
        return self._json("PATCH", f"/pronunciation-dicts/{dict_id}", json=body)

    def delete_dict(self, dict_id: str) -> None:
        self._request("DELETE", f"/pronunciation-dicts/{dict_id}")

    # -- text to speech ---------------------------------------------------------------------

    def tts_to_file(
        self,
        out: Path,
        transcript: str,
        *,
        voice_id: str,
        model_id: str,
        output_format: dict[str, Any],
        language: str | None = None,
    ) -> int:
        """POST /tts/bytes, streaming the audio into `out` (written whole or not at all). Returns bytes written.
        A WAV gets its real sizes in the header (see `_seal_wav`)."""
        body = _tts_body(transcript, voice_id, model_id, output_format, language)
        response = self._send(self._http.build_request("POST", "/tts/bytes", json=body), stream=True)
        tmp = out.with_name(out.name + ".part")
        written = 0
        try:
            with tmp.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
                    written += len(chunk)
            if output_format.get("container") == "wav":
                _seal_wav(tmp)
            tmp.replace(out)
        finally:
            response.close()
            tmp.unlink(missing_ok=True)
        return written

    def tts_stream(
        self,
        transcript: str,
        *,
        voice_id: str,
        model_id: str,
        encoding: str = "pcm_s16le",
        sample_rate: int = 24000,
        language: str | None = None,
    ) -> Iterator[bytes]:
        """POST /tts/sse: yields raw PCM chunks as the server produces them."""
        fmt = {"container": "raw", "encoding": encoding, "sample_rate": sample_rate}
        body = _tts_body(transcript, voice_id, model_id, fmt, language)
        response = self._send(self._http.build_request("POST", "/tts/sse", json=body), stream=True)
        try:
            for event in _sse_events(response.iter_lines()):
                kind = event.get("type")
                if kind == "chunk" and event.get("data"):
                    yield base64.b64decode(event["data"])
                elif kind == "error":
                    message = event.get("message") or event.get("error") or "synthesis failed"
                    raise VoicesmithError(event.get("status_code"), event.get("error_code"), str(message))
                elif kind == "done" or event.get("done"):
                    return
        finally:
            response.close()

    # -- usage ------------------------------------------------------------------------------

    def usage_credits(self, **params: Any) -> dict[str, Any]:
        """GET /usage/credits (admin keys): credits used per time bucket."""
        return self._json("GET", "/usage/credits", params={k: v for k, v in params.items() if v is not None})

    def fine_tune_estimate(self, dataset_id: str) -> dict[str, Any]:
        """GET /datasets/{id}/fine-tune-estimate (voicesmith): each budget's expected training time on this server,
        measured on its recent fine-tunes. Raises NotFound from servers without it."""
        return self._json("GET", f"/datasets/{dataset_id}/fine-tune-estimate")

    def credit_balance(self) -> CreditBalance:
        """GET /usage/balance (voicesmith, any key). Raises NotFound from servers without it (Cartesia, older ones)."""
        return CreditBalance.from_json(self._json("GET", "/usage/balance"))


def _seal_wav(path: Path) -> None:
    """Fill in the RIFF and data sizes of a WAV file written from a stream.

    The server streams WAV with both sizes set to 0xFFFFFFFF (the length is unknown when the header goes
    out); libsndfile reads that, but many players and Python's `wave` then report a length of hours.
    """
    size = path.stat().st_size
    with path.open("r+b") as fh:
        head = fh.read(128)
        at = head.find(b"data", 12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE" or at < 0:
            return  # not a WAV header: leave the file as it is
        fh.seek(4)
        fh.write(struct.pack("<I", size - 8))
        fh.seek(at + 4)
        fh.write(struct.pack("<I", size - at - 8))


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.split("] ", 1)[-1] if text else type(exc).__name__


def _content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _multipart_frame(boundary: str, filename: str, purpose: str) -> tuple[bytes, bytes]:
    # Quotes, backslashes and line breaks would break the header; percent-encode them (as browsers do).
    safe = filename.replace("\\", "%5C").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{safe}"\r\n'
        f"Content-Type: {_content_type(Path(filename))}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, tail


def _multipart_body(
    head: bytes, fp: BinaryIO, tail: bytes, size: int, on_progress: ProgressCallback | None
) -> Iterator[bytes]:
    yield head
    sent = 0
    if on_progress:
        on_progress(0, size)
    while chunk := fp.read(UPLOAD_CHUNK):
        yield chunk
        sent += len(chunk)
        if on_progress:
            on_progress(sent, size)
    yield tail


def _tts_body(
    transcript: str, voice_id: str, model_id: str, output_format: dict[str, Any], language: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model_id": model_id,
        "transcript": transcript,
        "voice": {"mode": "id", "id": voice_id},
        "output_format": output_format,
    }
    if language:
        body["language"] = language
    return body


def _sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream into the JSON payload of each event (the event name is not needed)."""
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield json.loads("\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        yield json.loads("\n".join(data))
