"""Typed views of the objects the voicesmith API returns.

Each keeps the whole JSON in `raw`, so fields a newer server adds are never lost, and exposes the
fields the CLI relies on as attributes. The Cartesia shapes are the base; voicesmith's extra fields
(fine-tune progress, stage, ETA, error; file sha256; dataset quality report) are optional.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class Dataset:
    id: str
    name: str
    description: str
    created_at: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Dataset:
        return cls(d["id"], d.get("name", ""), d.get("description") or "", d.get("created_at", ""), d)


@dataclass(frozen=True)
class DatasetFile:
    id: str
    filename: str
    size: int
    created_at: str
    sha256: str | None  # voicesmith extra; absent on Cartesia
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatasetFile:
        return cls(d["id"], d.get("filename", ""), int(d.get("size") or 0), d.get("created_at", ""), d.get("sha256"), d)


@dataclass(frozen=True)
class DatasetReport:
    """GET /datasets/{id}/report: `status` pending|ready|failed, `report` once analysed, and the
    dataset's files with their sha256 and per-file `analysis`."""

    status: str
    report: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatasetReport:
        return cls(str(d.get("status", "pending")), d.get("report"), d)

    @property
    def uploaded(self) -> list[DatasetFile]:
        return [DatasetFile.from_json(f) for f in self.raw.get("files") or [] if isinstance(f, dict) and "id" in f]

    @property
    def ok_to_train(self) -> bool:
        return bool(self.report and self.report.get("ok_to_train"))

    @property
    def usable_seconds(self) -> float | None:
        return _float_or_none((self.report or {}).get("usable_seconds"))

    @property
    def total_seconds(self) -> float | None:
        return _float_or_none((self.report or {}).get("total_seconds"))

    @property
    def reasons(self) -> list[str]:
        return [_reason_text(r) for r in (self.report or {}).get("reasons") or []]

    @property
    def files(self) -> list[dict[str, Any]]:
        """Per-file verdicts: the report's own list, else each uploaded file's analysis."""
        if (self.report or {}).get("files"):
            return list(self.report["files"])
        return [
            {"filename": f.get("filename"), **f["analysis"]}
            for f in self.raw.get("files") or []
            if isinstance(f, dict) and isinstance(f.get("analysis"), dict)
        ]


def _reason_text(reason: Any) -> str:
    # A reason may be a plain string or {code, message}; show the message, keep the code visible.
    if isinstance(reason, dict):
        msg = reason.get("message") or reason.get("detail") or ""
        code = reason.get("code") or reason.get("reason_code")
        return f"{msg} [{code}]" if code and msg else str(msg or code or reason)
    return str(reason)


FINE_TUNE_TERMINAL = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class FineTune:
    id: str
    name: str
    description: str
    language: str
    model_id: str
    dataset: str
    status: str  # created | training | completed | failed
    progress: float | None = None  # 0..1 (voicesmith extra)
    stage: str | None = None  # ingest | segment | transcribe | adapt | evaluate
    eta_seconds: float | None = None
    error: str | None = None
    error_code: str | None = None
    created_at: str | None = None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FineTune:
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            description=d.get("description") or "",
            language=d.get("language", ""),
            model_id=d.get("model_id", ""),
            dataset=d.get("dataset", ""),
            status=d.get("status", ""),
            progress=_float_or_none(d.get("progress")),
            stage=d.get("stage"),
            eta_seconds=_float_or_none(d.get("eta_seconds")),
            error=d.get("error"),
            error_code=d.get("error_code"),
            created_at=d.get("created_at"),
            raw=d,
        )

    @property
    def finished(self) -> bool:
        return self.status in FINE_TUNE_TERMINAL


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    description: str
    language: str
    created_at: str
    is_owner: bool
    gender: str | None = None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Voice:
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            description=d.get("description") or "",
            language=d.get("language", ""),
            created_at=d.get("created_at", ""),
            is_owner=bool(d.get("is_owner", False)),
            gender=d.get("gender"),
            raw=d,
        )
