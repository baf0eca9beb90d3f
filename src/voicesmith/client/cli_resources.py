"""`voicesmith voices|datasets|fine-tunes ...`: the rest of the API, one small command per call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from voicesmith.client import render
from voicesmith.client.cli_common import (ApiKeyOption, BaseUrlOption, JsonOption, connect, fail, handle_errors, out,
                                          print_consent_statement, print_json)
from voicesmith.client.errors import VoicesmithError
from voicesmith.client.workflow import find_or_create_dataset, upload_folder, wait_for_report

voices_app = typer.Typer(no_args_is_help=True, help="List, inspect, rename, delete, instantly clone, export, import "
                                                     "and localize voices.")
datasets_app = typer.Typer(no_args_is_help=True, help="Datasets of recordings and their quality reports.")
fine_tunes_app = typer.Typer(no_args_is_help=True, help="Fine-tunes (pro voice clones) and their reports.")

EXPORT_FORMATS = {"voicesmith": ".voice.zip", "kokoro": ".npy"}


# -- voices ---------------------------------------------------------------------------------


@voices_app.command("list")
@handle_errors
def voices_list(
    q: Annotated[Optional[str], typer.Option(help="Search names, descriptions and ids.")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only your organisation's voices.")] = False,
    language: Annotated[Optional[str], typer.Option(help="Only voices of this language (en, fr...).")] = None,
    as_json: JsonOption = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List voices (stock voices and your own)."""
    with connect(base_url, api_key) as client:
        voices = client.list_voices(q=q, is_owner=True if mine else None, language=language)
    if as_json:
        print_json([v.raw for v in voices])
    else:
        out.print(render.voices_table(voices))


@voices_app.command("show")
@handle_errors
def voices_show(voice_id: str, as_json: JsonOption = False, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Show one voice."""
    with connect(base_url, api_key) as client:
        voice = client.get_voice(voice_id)
    if as_json:
        print_json(voice.raw)
    else:
        out.print(render.voice_details(voice))


@voices_app.command("export")
@handle_errors
def voices_export(
    voice_id: str,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write \\[default: "
                                                   "<voice id>.voice.zip, or .npy with --format kokoro].")] = None,
    file_format: Annotated[str, typer.Option("--format", help="voicesmith (the whole voice, for `voices import`) or "
                                             "kokoro (the style as a Kokoro .npy voice pack).")] = "voicesmith",
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Download a voice as a file: take it to another voicesmith, or to kokoro-onnx."""
    if file_format not in EXPORT_FORMATS:
        raise fail(f"--format must be one of {', '.join(EXPORT_FORMATS)} (got {file_format!r})", code=2)
    path = output or Path(f"{voice_id}{EXPORT_FORMATS[file_format]}")
    with connect(base_url, api_key) as client:
        written = client.export_voice(voice_id, path, file_format)
    out.print(f"wrote {path} ({render.size(written)})", markup=False, highlight=False)


@voices_app.command("import")
@handle_errors
def voices_import(
    file: Annotated[Path, typer.Argument(help="A voice file written by `voices export`.", exists=True, dir_okay=False)],
    name: Annotated[Optional[str], typer.Option(help="Name of the new voice \\[default: the exported name].")] = None,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Load an exported voice file as a new voice of yours."""
    with connect(base_url, api_key) as client:
        meta = client.import_voice(file, name=name)
    out.print(f"imported voice [bold]{meta['id']}[/] ({escape(meta.get('name', ''))}, consent "
              f"{escape(str(meta.get('consent')))})", highlight=False)


@voices_app.command("localize")
@handle_errors
def voices_localize(
    voice_id: str,
    language: Annotated[Optional[str], typer.Option(help="Target language (es, fr, it, pt, hi, en).")] = None,
    accent: Annotated[Optional[str], typer.Option(help="Target accent id (see GET /accents), instead of "
                                                  "--language.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Name of the new voice \\[default: '<name> (<language>)'].")] = None,
    description: Annotated[Optional[str], typer.Option(help="Description of the new voice.")] = None,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """A new voice with this voice's timbre speaking another language."""
    if not (language or accent):
        raise fail("pass --language (or --accent)", code=2)
    with connect(base_url, api_key) as client:
        new_name = name or f"{client.get_voice(voice_id).name} ({accent or language})"
        meta = client.localize_voice(voice_id, name=new_name, language=language, accent=accent,
                                     description=description)
    out.print(f"created voice [bold]{meta['id']}[/] ({escape(meta.get('name', new_name))}, "
              f"{escape(str(meta.get('language')))})", highlight=False)


@voices_app.command("rename")
@handle_errors
def voices_rename(
    voice_id: str,
    name: Annotated[Optional[str], typer.Option(help="New name.")] = None,
    description: Annotated[Optional[str], typer.Option(help="New description.")] = None,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Change a voice's name or description."""
    with connect(base_url, api_key) as client:
        voice = client.update_voice(voice_id, name=name, description=description)
    out.print(render.voice_details(voice))


@voices_app.command("delete")
@handle_errors
def voices_delete(voice_id: str, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Delete one of your voices."""
    with connect(base_url, api_key) as client:
        client.delete_voice(voice_id)
    out.print(f"deleted voice {voice_id}", markup=False, highlight=False)


@voices_app.command("clone")
@handle_errors
def voices_clone(
    clip: Annotated[Path, typer.Argument(help="5-30 s of one person speaking.")],
    name: Annotated[str, typer.Option(help="Name of the new voice.")],
    language: Annotated[str, typer.Option(help="Language of the voice.")] = "en",
    description: Annotated[Optional[str], typer.Option(help="Description of the new voice.")] = None,
    consent: Annotated[Optional[Path], typer.Option(
        "--consent", exists=True, dir_okay=False,
        help="The speaker reading the statement of `voicesmith voices consent-statement` (docs/consent.md).")] = None,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Instant clone: a voice from one short clip, in seconds (less close than a fine-tune)."""
    with connect(base_url, api_key) as client:
        try:
            meta = client.clone_voice(clip, name=name, language=language, description=description, consent=consent)
        except VoicesmithError as exc:
            if exc.error_code != "consent_required":
                raise
            print_consent_statement(client.clone_consent_challenge(name))
            raise fail("voice not cloned: this server requires the speaker's verified consent") from None
    out.print(f"created voice [bold]{meta['id']}[/] ({escape(meta.get('name', name))}), consent "
              f"{escape(str(meta.get('consent')))}", highlight=False)
    if meta.get("consent") == "unverified":
        out.print("To verify a clone, run `voicesmith voices consent-statement`, record the speaker reading it, and "
                  "clone again with --consent RECORDING.", markup=False, highlight=False)


@voices_app.command("consent-statement")
@handle_errors
def voices_consent_statement(
    speaker: Annotated[Optional[str], typer.Option(help="The speaker's name, as they will say it.")] = None,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """A fresh statement for the speaker to read before an instant clone (valid for minutes; replaces the last)."""
    with connect(base_url, api_key) as client:
        print_consent_statement(client.clone_consent_challenge(speaker))


# -- datasets -------------------------------------------------------------------------------


@datasets_app.command("list")
@handle_errors
def datasets_list(as_json: JsonOption = False, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """List your datasets."""
    with connect(base_url, api_key) as client:
        datasets = client.list_datasets()
    if as_json:
        print_json([d.raw for d in datasets])
    else:
        out.print(render.datasets_table(datasets))


@datasets_app.command("show")
@handle_errors
def datasets_show(dataset_id: str, as_json: JsonOption = False, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Show a dataset and its files."""
    with connect(base_url, api_key) as client:
        dataset = client.get_dataset(dataset_id)
        files = client.list_files(dataset_id)
    if as_json:
        print_json({**dataset.raw, "files": [f.raw for f in files]})
        return
    out.print(f"[bold]{escape(dataset.name)}[/] ({dataset.id}) {escape(dataset.description)}", highlight=False)
    out.print(render.files_table(files))


@datasets_app.command("upload")
@handle_errors
def datasets_upload(
    folder: Annotated[Path, typer.Argument(help="Folder of recordings.")],
    name: Annotated[str, typer.Option(help="Dataset name (reused if it exists).")],
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Upload a folder's recordings to a dataset, skipping those already there (no training)."""
    with connect(base_url, api_key) as client:
        dataset = find_or_create_dataset(client, name, out)
        summary = upload_folder(client, dataset, folder, out)
    out.print(f"{summary.uploaded} uploaded, {summary.skipped} already there"
              + (f", {summary.refused} refused (not audio)" if summary.refused else ""), markup=False, highlight=False)


@datasets_app.command("delete")
@handle_errors
def datasets_delete(dataset_id: str, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Delete a dataset and its files."""
    with connect(base_url, api_key) as client:
        client.delete_dataset(dataset_id)
    out.print(f"deleted dataset {dataset_id}", markup=False, highlight=False)


@datasets_app.command("report")
@handle_errors
def datasets_report(
    dataset_id: str,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the analysis is finished.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 1800,
    as_json: JsonOption = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Show a dataset's quality report (usable speech, per-file verdicts and reasons)."""
    with connect(base_url, api_key) as client:
        report = wait_for_report(client, dataset_id, out, timeout) if wait else client.dataset_report(dataset_id)
    if as_json:
        print_json(report.raw)
        return
    if report.files:
        out.print(render.dataset_report_files(report))
    out.print(render.dataset_report_summary(report))


# -- fine-tunes -----------------------------------------------------------------------------


@fine_tunes_app.command("list")
@handle_errors
def fine_tunes_list(as_json: JsonOption = False, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """List your fine-tunes."""
    with connect(base_url, api_key) as client:
        fine_tunes = client.list_fine_tunes()
    if as_json:
        print_json([ft.raw for ft in fine_tunes])
    else:
        out.print(render.fine_tunes_table(fine_tunes))


@fine_tunes_app.command("show")
@handle_errors
def fine_tunes_show(fine_tune_id: str, as_json: JsonOption = False, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Show a fine-tune: status, stage, progress, error, and its voices once completed."""
    with connect(base_url, api_key) as client:
        ft = client.get_fine_tune(fine_tune_id)
        voices = client.fine_tune_voices(fine_tune_id) if ft.status == "completed" else []
    if as_json:
        print_json({**ft.raw, "voices": [v.raw for v in voices]})
        return
    out.print(render.fine_tune_details(ft))
    if voices:
        out.print(render.voices_table(voices))


@fine_tunes_app.command("delete")
@handle_errors
def fine_tunes_delete(fine_tune_id: str, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Delete a fine-tune; a running one is cancelled and its reserved credits released."""
    with connect(base_url, api_key) as client:
        client.delete_fine_tune(fine_tune_id)
    out.print(f"deleted fine-tune {fine_tune_id}", markup=False, highlight=False)


@fine_tunes_app.command("report")
@handle_errors
def fine_tunes_report(fine_tune_id: str, as_json: JsonOption = False, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Show a completed fine-tune's evaluation report (similarity, gap closed, WER...)."""
    with connect(base_url, api_key) as client:
        body = client.fine_tune_report(fine_tune_id)
        voices = client.fine_tune_voices(fine_tune_id)
    if as_json:
        print_json(body)
        return
    report = body.get("report")
    if report is None:
        out.print(f"no report yet: the fine-tune is {body.get('status', 'not finished')}", markup=False, highlight=False)
        return
    for line in render.report_headline(report):
        out.print(line, highlight=False)
    out.print(render.voices_table(voices, render.report_figures(report, voices), descriptions=False))
    if (checks := render.likeness_table(report, voices)) is not None:
        out.print(checks)
    for voice in voices:
        out.print(f"- {voice.description or voice.name}", markup=False, highlight=False)
