"""The steps of `voicesmith clone` (and `status`), each usable alone: upload a folder with resume,
wait for the dataset's quality report, watch a fine-tune live, and collect its voices with previews.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from voicesmith.client import render
from voicesmith.client.api import VoicesmithClient
from voicesmith.client.config import app_dir
from voicesmith.client.errors import BadRequest, NotFound, VoicesmithError
from voicesmith.client.models import Dataset, DatasetFile, DatasetReport, FineTune, Voice
from voicesmith.client.uploads import ResumeManifest, find_recordings, hash_file, identify_upload, plan_uploads

POLL_SECONDS = 1.0

PREVIEW_TEXT = {
    "en": "Hello! This is my new voice, made with voicesmith. How does it sound to you?",
    "es": "¡Hola! Esta es mi nueva voz, creada con voicesmith. ¿Qué te parece?",
    "fr": "Bonjour ! Voici ma nouvelle voix, créée avec voicesmith. Qu'en pensez-vous ?",
    "it": "Ciao! Questa è la mia nuova voce, creata con voicesmith. Come ti sembra?",
    "pt": "Olá! Esta é a minha nova voz, criada com voicesmith. O que você acha?",
}


def find_or_create_dataset(client: VoicesmithClient, name: str, console: Console) -> Dataset:
    """Reuse the newest dataset with exactly this name, so running clone again resumes its uploads."""
    same_name = [d for d in client.list_datasets() if d.name == name]
    if same_name:
        dataset = max(same_name, key=lambda d: d.created_at)
        console.print(f"Reusing dataset [bold]{dataset.id}[/] ({escape(repr(name))})", highlight=False)
        return dataset
    dataset = client.create_dataset(name, f"Recordings for the voice {name!r} (voicesmith clone)")
    console.print(f"Created dataset [bold]{dataset.id}[/] ({escape(repr(name))})", highlight=False)
    return dataset


@dataclass
class UploadSummary:
    uploaded: int
    skipped: int
    total_bytes: int
    refused: int = 0  # files the server refused as not audio (or not a text transcript); each was named


def upload_folder(client: VoicesmithClient, dataset: Dataset, folder: Path, console: Console) -> UploadSummary:
    """Upload every recording in `folder` not already in the dataset, with per-file and overall bars."""
    paths = find_recordings(folder)
    empty = [p for p in paths if p.stat().st_size == 0]
    if empty:  # the server refuses empty uploads; one bad file must not stop the whole folder
        names = escape(", ".join(p.name for p in empty))
        console.print(f"[yellow]skipping {len(empty)} empty file(s): {names}[/]", highlight=False)
        paths = [p for p in paths if p not in empty]
    if not paths:
        raise FileNotFoundError(f"no audio files (wav, flac, mp3, ogg, opus, m4a, webm) in {folder}")
    with console.status(f"Checking {len(paths)} recordings..."):
        local = [hash_file(p) for p in paths]
        remote = _remote_files(client, dataset.id)
    manifest = ResumeManifest(app_dir() / "uploads.json", client.base_url, dataset.id)
    plan = plan_uploads(local, remote, manifest)
    for lf in local:  # files found on the server by name+size become content-keyed from now on
        if lf.path in plan.done and manifest.entries.get(lf.sha256) != plan.done[lf.path]:
            manifest.record(lf.sha256, plan.done[lf.path])
    if plan.done:
        console.print(f"{len(plan.done)} of {len(local)} recordings already uploaded: skipping them", markup=False, highlight=False)
    if not plan.todo:
        return UploadSummary(uploaded=0, skipped=len(plan.done), total_bytes=0)
    total = sum(lf.size for lf in plan.todo)
    known_ids = {f.id for f in remote}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=False,
    ) as progress:
        overall = progress.add_task(f"all {len(plan.todo)} files", total=total)
        done_bytes = 0
        refused = 0
        for lf in plan.todo:
            task = progress.add_task(f"  {lf.name}", total=lf.size)

            def on_progress(sent: int, _size: int, task=task, base=done_bytes) -> None:
                progress.update(task, completed=sent)
                progress.update(overall, completed=base + sent)

            try:
                client.upload_file(dataset.id, lf.path, on_progress=on_progress)
            except BadRequest as exc:
                if exc.error_code not in ("invalid_audio", "invalid_transcript"):
                    raise
                # One file the server cannot read must not stop the whole folder: say why, go on.
                refused += 1
                done_bytes += lf.size
                progress.remove_task(task)
                console.print(f"[yellow]skipped {escape(lf.name)}: {escape(exc.message)}[/]", highlight=False)
                continue
            done_bytes += lf.size
            progress.remove_task(task)
            remote = client.list_files(dataset.id)
            file_id = identify_upload(lf, remote, known_ids)
            if file_id:
                manifest.record(lf.sha256, file_id)
                known_ids.add(file_id)
            if not console.is_terminal:
                console.print(f"uploaded {lf.name} ({render.size(lf.size)})", markup=False, highlight=False)
    return UploadSummary(uploaded=len(plan.todo) - refused, skipped=len(plan.done), total_bytes=total, refused=refused)


def _remote_files(client: VoicesmithClient, dataset_id: str) -> list[DatasetFile]:
    """The dataset's files, with their sha256 when the server tells it (the report route lists them)."""
    remote = client.list_files(dataset_id)
    if remote and any(f.sha256 is None for f in remote):
        try:
            return client.dataset_report(dataset_id).uploaded
        except NotFound:  # a server without voicesmith's report route: name and size will do
            pass
    return remote


def wait_for_report(client: VoicesmithClient, dataset_id: str, console: Console, timeout: float) -> DatasetReport:
    """Poll the dataset's quality report until it is ready or failed (analysis runs on the worker)."""
    deadline = time.monotonic() + timeout
    with console.status("Analysing recordings (quality report)..."):
        while True:
            report = client.dataset_report(dataset_id)
            if report.status != "pending":
                return report
            if time.monotonic() > deadline:
                raise VoicesmithError(
                    None, "report_timeout", f"the quality report was not ready after {timeout:.0f}s; is a worker running?"
                )
            time.sleep(POLL_SECONDS)


def ask_choice(question: str, choices: dict[str, str], default: str, console: Console) -> str:
    """Read one answer from stdin (works with a pipe too); EOF or a second Ctrl-C takes the default."""
    options = "/".join(k.upper() if k == default else k for k in choices)
    console.print(f"{question} [{options}] ", end="", markup=False, highlight=False)
    try:
        line = sys.stdin.readline()
    except (KeyboardInterrupt, EOFError):
        line = ""
    console.print()
    answer = line.strip().lower()[:1]
    return answer if answer in choices else default


class Detached(Exception):
    """The user left a fine-tune training and asked to get the prompt back."""


class CancelledByUser(Exception):
    """The user cancelled the fine-tune from the CLI (it was deleted on the server)."""


def watch_fine_tune(client: VoicesmithClient, fine_tune_id: str, console: Console) -> FineTune:
    """Show progress by stage with an ETA until the fine-tune ends. Ctrl-C asks: cancel or detach."""
    while True:
        with _ctrl_c_as_a_request() as interrupted:
            ft = _follow(client, fine_tune_id, console, interrupted)
        if ft is not None:
            return ft
        answer = ask_choice(
            f"\nFine-tune {fine_tune_id} is still running. Cancel it (its reserved credits are released), "
            "detach (it keeps training), or resume watching?",
            {"c": "cancel", "d": "detach", "r": "resume"},
            "d",
            console,
        )
        if answer == "c":
            client.delete_fine_tune(fine_tune_id)
            raise CancelledByUser(fine_tune_id)
        if answer == "d":
            raise Detached(fine_tune_id)


@contextmanager
def _ctrl_c_as_a_request() -> Iterator[threading.Event]:
    """Make the first Ctrl-C a flag that the watch loop reads between polls; a second one interrupts at once.

    A KeyboardInterrupt raised in the middle of a poll can leave the HTTP connection pool holding a connection
    it never gives back, and the cancel request that follows then waits for it forever (seen on a loaded
    machine, where each poll takes long enough to be hit).
    """
    interrupted = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()

    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # only the main thread receives signals; Ctrl-C keeps its default there
        return
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


class EtaClock:
    """Counts the server's ETA down between its revisions.

    The server revises a fine-tune's ETA only when the job reports progress, which can be a minute apart in
    a long stage: shown as it is, the ETA would freeze for that minute. Between revisions it runs down with
    the wall clock (never below zero); a new figure, or new progress, replaces it.
    """

    def __init__(self) -> None:
        self._eta: float | None = None
        self._progress: float | None = None
        self._at = 0.0

    def update(self, eta_seconds: float | None, progress: float | None, now: float) -> None:
        if eta_seconds is None:
            self._eta = None
        elif eta_seconds != self._eta or progress != self._progress:
            self._eta, self._progress, self._at = float(eta_seconds), progress, now

    def remaining(self, now: float) -> float | None:
        return None if self._eta is None else max(0.0, self._eta - (now - self._at))


def _follow(client: VoicesmithClient, fine_tune_id: str, console: Console,
            interrupted: threading.Event) -> FineTune | None:
    """The fine-tune once it has ended, or None as soon as `interrupted` is set."""
    ft = client.get_fine_tune(fine_tune_id)
    if ft.finished:
        return ft
    last_stage: str | None = None
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[eta]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("waiting for a worker", total=1.0, eta="")
        clock = EtaClock()
        while not ft.finished:
            stage = ft.stage or ("waiting for a worker" if ft.status == "created" else ft.status)
            if stage != last_stage:
                progress.console.print(f"stage: {stage}", markup=False, highlight=False)
                last_stage = stage
            clock.update(ft.eta_seconds, ft.progress, time.monotonic())
            remaining = clock.remaining(time.monotonic())
            eta = f"ETA {render.duration(remaining)}" if remaining is not None else ""
            progress.update(task, description=stage, completed=ft.progress or 0.0, eta=eta)
            if interrupted.wait(POLL_SECONDS):
                return None
            ft = client.get_fine_tune(fine_tune_id)
        progress.update(task, description=ft.status, completed=1.0 if ft.status == "completed" else ft.progress or 0.0, eta="")
    return ft


def running_fine_tune(client: VoicesmithClient, dataset_id: str) -> FineTune | None:
    """A fine-tune of this dataset that has not ended yet, if any."""
    return next((ft for ft in client.list_fine_tunes() if ft.dataset == dataset_id and not ft.finished), None)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "voice"


def fine_tune_results(client: VoicesmithClient, ft: FineTune) -> tuple[list[Voice], dict | None]:
    """The fine-tune's voices and its evaluation report (None if the server has none)."""
    voices = client.fine_tune_voices(ft.id)
    try:
        report = client.fine_tune_report(ft.id).get("report")
    except NotFound:
        # The voices are the product; a server without the report route must not hide them.
        report = None
    return voices, report


def write_previews(
    client: VoicesmithClient, ft: FineTune, voices: list[Voice], out_dir: Path, console: Console, text: str | None = None
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    sentence = text or PREVIEW_TEXT.get(ft.language, PREVIEW_TEXT["en"])
    written = []
    with console.status("Writing a preview for each voice...") as status:
        for i, voice in enumerate(voices, 1):
            path = out_dir / f"{i}-{slug(voice.name)}.wav"
            status.update(f"Writing preview {i}/{len(voices)}: {path.name}")
            client.tts_to_file(
                path,
                sentence,
                voice_id=voice.id,
                model_id=ft.model_id,
                output_format={"container": "wav", "encoding": "pcm_s16le", "sample_rate": 24000},
                language=ft.language,
            )
            written.append(path)
    return written
