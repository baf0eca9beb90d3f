"""Rich tables and one-line summaries for what the API returns. Pure formatting: no requests here."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from voicesmith.client.models import Dataset, DatasetFile, DatasetReport, FineTune, Voice


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def when(timestamp: str | None) -> str:
    # ISO-8601 from the server; minutes are precise enough in a table.
    return (timestamp or "")[:16].replace("T", " ")


def status_text(status: str) -> Text:
    style = {"completed": "green", "failed": "red", "training": "yellow", "ready": "green", "pending": "yellow"}
    return Text(status, style=style.get(status, ""))


def _table(title: str, ids: list[str], *columns: str) -> Table:
    """A table whose `id` column never wraps or truncates: ids are for copying into the next command."""
    table = Table(title=title)
    for column in columns:
        if column == "id":
            table.add_column(column, no_wrap=True, min_width=max(map(len, ids), default=2))
        else:
            table.add_column(column)
    return table


def datasets_table(datasets: list[Dataset]) -> Table:
    table = _table("Datasets", [d.id for d in datasets], "id", "name", "description", "created")
    for d in datasets:
        _add_row(table, d.id, d.name, d.description, when(d.created_at))
    return table


def files_table(files: list[DatasetFile]) -> Table:
    table = _table(f"Files ({len(files)})", [f.id for f in files], "id", "filename", "size", "uploaded")
    for f in files:
        _add_row(table, f.id, f.filename, size(f.size), when(f.created_at))
    return table


def fine_tunes_table(fine_tunes: list[FineTune]) -> Table:
    table = _table("Fine-tunes", [ft.id for ft in fine_tunes], "id", "name", "status", "stage", "progress", "language")
    for ft in fine_tunes:
        progress = f"{ft.progress:.0%}" if ft.progress is not None else ""
        _add_row(table, ft.id, ft.name, status_text(ft.status), ft.stage or "", progress, ft.language)
    return table


def fine_tune_details(ft: FineTune) -> Table:
    table = Table.grid(padding=(0, 2))
    rows: list[tuple[str, Any]] = [
        ("id", ft.id),
        ("name", ft.name),
        ("status", status_text(ft.status)),
        ("stage", ft.stage or "-"),
        ("progress", f"{ft.progress:.0%}" if ft.progress is not None else "-"),
        ("eta", duration(ft.eta_seconds) if ft.eta_seconds is not None else "-"),
        ("language", ft.language),
        ("model", ft.model_id),
        ("dataset", ft.dataset),
    ]
    if ft.error:
        rows.append(("error", Text(f"{ft.error} [{ft.error_code}]" if ft.error_code else ft.error, style="red")))
    for key, value in rows:
        _add_row(table, Text(key, style="bold"), value)
    return table


def dicts_table(dicts: list[dict[str, Any]]) -> Table:
    table = _table("Pronunciation dictionaries", [d["id"] for d in dicts], "id", "name", "items", "created")
    for d in dicts:
        _add_row(table, d["id"], d.get("name") or "", str(len(d.get("items") or [])), when(d.get("created_at")))
    return table


def dict_items_table(d: dict[str, Any]) -> Table:
    table = Table("text", "alias", "case sensitive", title=f"{d.get('name') or ''} ({d['id']})")
    for item in d.get("items") or []:
        _add_row(table, item["text"], item["alias"], "yes" if item.get("case_sensitive") else "")
    return table


def voices_table(
    voices: list[Voice], figures: dict[str, dict[str, str]] | None = None, title: str = "Voices", descriptions: bool = True
) -> Table:
    """Voices, with per-voice report figures as extra columns when given (voice id -> {column: text})."""
    columns = []
    for per_voice in (figures or {}).values():
        columns.extend(c for c in per_voice if c not in columns)
    text_columns = ("language", "description") if descriptions else ()
    table = _table(title, [v.id for v in voices], "id", "name", *text_columns, *columns)
    for v in voices:
        extra = (figures or {}).get(v.id, {})
        text = (v.language, v.description) if descriptions else ()
        _add_row(table, v.id, v.name, *text, *(extra.get(c, "") for c in columns))
    return table


def voice_details(v: Voice) -> Table:
    table = Table.grid(padding=(0, 2))
    for key in ("id", "name", "description", "language", "gender", "created_at", "is_owner", "is_public", "consent"):
        if key in v.raw:
            _add_row(table, Text(key, style="bold"), str(v.raw[key]))
    provenance = v.raw.get("provenance") or {}
    clip = provenance.get("clip") or {}
    for key, value in (("from dataset", provenance.get("dataset_id")), ("from clip", clip.get("filename")),
                       ("fine-tune", provenance.get("fine_tune_id")),
                       ("consent attempt", provenance.get("consent_attempt_id")),
                       ("created by key", provenance.get("api_key_id"))):
        if value:
            _add_row(table, Text(key, style="bold"), str(value))
    return table


def dataset_report_summary(report: DatasetReport) -> Text:
    if report.status != "ready" or report.report is None:
        detail = f": {'; '.join(report.reasons)}" if report.reasons else ""
        return Text(f"quality report {report.status}{detail}", style="yellow" if report.status == "pending" else "red")
    verdict = Text("ready to train", style="green") if report.ok_to_train else Text("not enough usable speech", style="red")
    text = Text.assemble(
        "usable speech ",
        (duration(report.usable_seconds), "bold"),
        " of ",
        duration(report.total_seconds),
        " recorded: ",
        verdict,
    )
    for reason in report.reasons:
        text.append(f"\n  - {reason}")
    recommendation = report.report.get("recommendation")
    if recommendation:
        text.append(f"\n{recommendation}", style="yellow")
    return text


VERDICT_STYLE = {"ok": "green", "flagged": "yellow", "rejected": "red", "excluded": "red"}


def dataset_report_files(report: DatasetReport, only_problems: bool = False) -> Table:
    """Per-file verdicts; with only_problems, the files that are not simply ok (for long datasets)."""
    files = [f for f in report.files if not only_problems or f.get("verdict") != "ok"]
    title = f"Files with remarks ({len(files)} of {len(report.files)})" if only_problems else "Per-file check"
    table = Table("file", "verdict", "length", "usable", "SNR dB", "notes", title=title)
    for f in files:
        verdict = str(f.get("verdict") or "")
        _add_row(table, 
            str(f.get("filename") or ""),
            Text(verdict, style=VERDICT_STYLE.get(verdict, "")),
            duration(_num(f, "duration_seconds")),
            duration(_num(f, "usable_seconds")),
            _fmt(_num(f, "snr_db")),
            "; ".join(_reason(r) for r in f.get("reasons") or []),
        )
    return table


# Per-voice report metrics: column title and format. Unknown numeric metrics still show, as is.
_FIGURES = {
    "similarity": ("similarity", lambda v: f"{v:.3f}"),
    "gap_closed": ("gap closed", lambda v: f"{v:.0%}"),
    "wer": ("WER", lambda v: f"{v:.0%}"),
    "f0_median_hz": ("pitch Hz", lambda v: f"{v:.0f}"),
    "rate_phones_per_s": ("phones/s", lambda v: f"{v:.1f}"),
}


def report_figures(report: dict[str, Any] | None, voices: list[Voice]) -> dict[str, dict[str, str]]:
    """Per-voice numbers from a fine-tune report, as table columns (voice id -> {column: text}).

    The report lists one entry per voice (matched by voice id, else by name).
    """
    entries = [e for e in (report or {}).get("voices") or [] if isinstance(e, dict)]
    figures: dict[str, dict[str, str]] = {}
    for v in voices:
        entry = next((e for e in entries if v.id in (e.get("voice_id"), e.get("id"))), None)
        entry = entry or next((e for e in entries if e.get("name") == v.name), None)
        if entry:
            figures[v.id] = {}
            for key, value in entry.items():
                if _is_number(value):
                    title, fmt = _FIGURES.get(key, (key.replace("_", " "), _fmt))
                    figures[v.id][title] = fmt(value)
            decoder = _decoder((entry.get("details") or {}).get("bespoke"))
            if decoder:
                figures[v.id]["decoder"] = decoder
    return figures


def _decoder(verdict: Any) -> str | None:
    """Which decoder a voice speaks through when its fine-tune trained one (docs/fine-tune.md: the guard), and
    which of the guard's checks kept Kokoro's."""
    if not isinstance(verdict, dict):
        return None
    if verdict.get("used"):
        return "trained"
    refused = verdict.get("refused_by")
    return f"Kokoro (refused: {', '.join(map(str, refused))})" if refused else "Kokoro"


# The report's likeness checks that the search did not optimise (docs/fine-tune.md), as table columns.
_OTHER_MEASURES = {"mfcc_frechet": "sound (MFCC)", "ltas_db": "spectrum", "f0_semitones": "pitch range"}


def likeness_table(report: dict[str, Any] | None, voices: list[Voice]) -> Table | None:
    """Per voice, the gap closed on each measure the search did not optimise and the predicted quality; None for
    reports without them (older servers)."""
    measures = (report or {}).get("likeness") or {}
    shown = [m for m in _OTHER_MEASURES if m in measures]
    if not shown:
        return None
    entries = {e.get("voice_id"): e for e in report.get("voices") or [] if isinstance(e, dict)}
    quality = measures.get("quality_dnsmos") or {}
    title = "Checks the search did not optimise (gap closed on the same held-out clips)"
    if _is_number(quality.get("stock_mean")) and _is_number(quality.get("real_held_out")):
        title += f"; quality of 5: stock voices {quality['stock_mean']:.2f}, real recordings {quality['real_held_out']:.2f}"
    table = _table(title, [v.id for v in voices], "name", *(_OTHER_MEASURES[m] for m in shown), "quality")
    for v in voices:
        found = (entries.get(v.id) or {}).get("likeness") or {}
        cells = [f"{found[m]['gap_closed']:.0%}" if _is_number((found.get(m) or {}).get("gap_closed")) else "-"
                 for m in shown]
        q = (found.get("quality_dnsmos") or {}).get("value")
        _add_row(table, v.name, *cells, f"{q:.2f}" if _is_number(q) else "-")
    return table


def report_headline(report: dict[str, Any] | None) -> list[str]:
    """What the per-voice figures are measured against: the best stock voice (floor), the speaker's
    own held-out recordings (ceiling), and the speaker's pitch, pace and WER."""
    if not report:
        return []
    lines = []
    floor, ceiling = report.get("floor") or {}, report.get("ceiling") or {}
    if _is_number(floor.get("similarity")) and _is_number(ceiling.get("similarity")):
        lines.append(
            f"likeness scale: best stock voice ({floor.get('voice', '?')}) {floor['similarity']:.3f}, "
            f"the speaker's own recordings {ceiling['similarity']:.3f}; 'gap closed' is how far each voice got"
        )
    speaker = report.get("speaker") or {}
    parts = [
        f"{label} {fmt(speaker[key])}"
        for key, (label, fmt) in {"f0_median_hz": ("median pitch Hz", _fmt), "rate_phones_per_s": ("phones/s", _fmt),
                                   "real_wer": ("WER of the real recordings", lambda v: f"{v:.0%}")}.items()
        if _is_number(speaker.get(key))
    ]
    if parts:
        lines.append("speaker: " + ", ".join(parts))
    if _is_number(report.get("held_out_utterances")):
        lines.append(f"measured on {report['held_out_utterances']} held-out clips not used in training")
    if report.get("wer_note"):
        lines.append(str(report["wer_note"]))
    return lines


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _add_row(table: Table, *cells: Any) -> None:
    # Names, descriptions and file names are user text: never read them as rich markup.
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def _num(d: dict[str, Any], key: str) -> float | None:
    value = d.get(key)
    return float(value) if isinstance(value, (int, float)) else None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _reason(r: Any) -> str:
    if isinstance(r, dict):
        return str(r.get("message") or r.get("code") or r)
    return str(r)
