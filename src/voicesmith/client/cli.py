"""The client half of the `voicesmith` command: the user workflow (clone, status, say) and
voices/datasets/fine-tunes/dicts for the rest of the API, all over HTTP.

It imports no server code, so it works against a remote voicesmith from any machine. The full
`voicesmith` command (voicesmith/cli.py) adds the server's own commands to these.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from voicesmith.client import render, speech, workflow
from voicesmith.client.api import VoicesmithClient
from voicesmith.client.errors import NotFound
from voicesmith.client.cli_common import (ApiKeyOption, BaseUrlOption, connect, err, fail, handle_errors, out,
                                          print_consent_statement)
from voicesmith.client.cli_dicts import dicts_app
from voicesmith.client.cli_resources import datasets_app, fine_tunes_app, voices_app
from voicesmith.client.uploads import find_recordings

# No locals in tracebacks: they would print API keys.
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="voicesmith client: clone voices and speak with them on a voicesmith server.",
)
app.add_typer(voices_app, name="voices")
app.add_typer(datasets_app, name="datasets")
app.add_typer(fine_tunes_app, name="fine-tunes")
app.add_typer(dicts_app, name="dicts")


# -- the cloning workflow ---------------------------------------------------------------------

DEFAULT_MODEL = "kokoro-82m-v1.0"
BUDGETS = (None, "tiny", "default", "max")
OutputDirOption = Annotated[
    Optional[Path], typer.Option("--output-dir", help="Where preview WAVs go \\[default: ./<name>-voices].")
]


@app.command()
@handle_errors
def clone(
    samples_dir: Annotated[Path, typer.Argument(help="Folder of recordings of one speaker (wav, flac, mp3, ogg, opus, m4a, webm).")],
    name: Annotated[str, typer.Option(help="Name of the voice (and of its dataset, reused if it exists).")],
    language: Annotated[str, typer.Option(help="Language spoken in the recordings.")] = "en",
    model: Annotated[str, typer.Option("--model", help="Model id to fine-tune (Cartesia ids are aliases).")] = DEFAULT_MODEL,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Start training without asking (needed without a terminal).")] = False,
    budget: Annotated[
        Optional[str], typer.Option(help="Training effort: tiny (minutes, a rough voice), default, or max.")
    ] = None,
    output_dir: OutputDirOption = None,
    report_timeout: Annotated[float, typer.Option(help="Seconds to wait for the quality report.")] = 1800,
    consent_clip: Annotated[
        Optional[Path], typer.Option("--consent", help="The speaker reading the consent statement printed by an "
                                     "earlier run (docs/consent.md).", exists=True, dir_okay=False)
    ] = None,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Clone a voice from a folder of recordings: upload (resumable), check, consent, train, preview."""
    # Everything that can be checked is checked before anything is created on the server: a typo in the
    # folder, a missing --yes in a script or an unreachable server must not leave an empty dataset behind.
    if budget not in BUDGETS:
        raise fail(f"--budget must be one of {', '.join(b for b in BUDGETS if b)} (got {budget!r})", code=2)
    try:
        if not find_recordings(samples_dir):
            raise fail(f"no audio files (wav, flac, mp3, ogg, opus, m4a, webm) in {samples_dir}", code=2)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise fail(str(exc), code=2) from None
    if not yes and not sys.stdin.isatty():
        # A script must not stop at a prompt it cannot answer.
        raise fail("confirmation needed but stdin is not a terminal: pass --yes to start the fine-tune without asking")
    with connect(base_url, api_key) as client:
        client.credit_balance()  # the server answers and the key works, before the dataset is made
        dataset = workflow.find_or_create_dataset(client, name, out)
        try:
            summary = workflow.upload_folder(client, dataset, samples_dir, out)
        except KeyboardInterrupt:
            raise fail("upload interrupted: run the same command again to resume (uploaded files are skipped)", 130) from None
        out.print(f"{summary.uploaded} uploaded, {summary.skipped} already there"
              + (f", {summary.refused} refused (not audio)" if summary.refused else ""), markup=False, highlight=False)
        report = workflow.wait_for_report(client, dataset.id, out, report_timeout)
        if report.status == "failed":
            reasons = "; ".join(report.reasons) or "see the server log"
            raise fail(f"the quality report of dataset {dataset.id} failed: {reasons}")
        if any(f.get("verdict") != "ok" for f in report.files):
            out.print(render.dataset_report_files(report, only_problems=True))
        out.print(render.dataset_report_summary(report))
        if not report.ok_to_train:
            raise fail(f"dataset {dataset.id} is not ready to train: add more clean speech of one speaker to {samples_dir}")
        running = workflow.running_fine_tune(client, dataset.id)
        if running is not None:
            # Running clone again after detaching must not pay twice for the same training.
            out.print(f"Fine-tune [bold]{running.id}[/] is already training on this dataset: re-attaching", highlight=False)
            _attach(client, running.id, output_dir or Path(f"{workflow.slug(name)}-voices"))
            return
        _consent(client, dataset.id, name, consent_clip)
        _confirm_cost(client, ask=not yes, expected=_expected_time(client, dataset.id, budget))
        ft = client.create_fine_tune(
            dataset.id,
            name=name,
            language=language,
            model_id=model,
            description=f"voicesmith clone of {samples_dir.name}",
            budget=budget,
        )
        out.print(f"Started fine-tune [bold]{ft.id}[/]", highlight=False)
        _attach(client, ft.id, output_dir or Path(f"{workflow.slug(name)}-voices"))


@app.command()
@handle_errors
def status(
    fine_tune_id: str,
    output_dir: OutputDirOption = None,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Re-attach to a fine-tune: live progress until it ends, then its voices and previews."""
    with connect(base_url, api_key) as client:
        ft = client.get_fine_tune(fine_tune_id)
        _attach(client, ft.id, output_dir or Path(f"{workflow.slug(ft.name)}-voices"))


def _consent(client: VoicesmithClient, dataset_id: str, name: str, clip: Optional[Path]) -> None:
    """Send the consent recording if one is given; when the dataset has no verified consent, print a fresh
    statement to read. Stops under the server's `require` policy until the consent verifies."""
    state = client.consent_status(dataset_id)
    if state["consent"] == "verified":
        out.print("Consent: verified", style="green", highlight=False)
        return
    if clip is not None:
        attempt = client.submit_consent(dataset_id, clip)
        if attempt["verified"]:
            out.print("Consent: verified", style="green", highlight=False)
            return
        out.print(f"Consent not verified: {attempt['message']}", markup=False, highlight=False)
        if attempt["reason_code"] in ("no_challenge", "challenge_expired", "challenge_used", "challenge_superseded"):
            state["challenge"] = None
    challenge = state["challenge"] or client.consent_challenge(dataset_id, name)
    if state["policy"] == "require":
        print_consent_statement(challenge)
        raise fail("fine-tune not started: this server requires the speaker's verified consent")
    if clip is not None:
        raise fail("fine-tune not started: the consent recording did not verify (run without --consent to train "
                   "with the voice marked unverified)")
    out.print("Consent: unverified (this server allows it; the voices will be marked unverified). To verify:",
              highlight=False)
    print_consent_statement(challenge)


def _expected_time(client: VoicesmithClient, dataset_id: str, budget: str) -> str:
    """The server's estimate of this budget's training time, in words ("" from a server that gives none)."""
    try:
        estimate = client.fine_tune_estimate(dataset_id)
    except NotFound:
        return ""
    seconds = estimate["budgets"].get(budget or "default", {}).get("expected_seconds")
    if seconds is None:
        return f"expected time: not known yet ({estimate['message']})"
    return f"expected time: about {render.duration(seconds)} of training ({estimate['message']})"


def _confirm_cost(client: VoicesmithClient, *, ask: bool, expected: str) -> None:
    """Refuse a fine-tune the balance cannot cover, then (unless --yes) ask before spending credits.

    The cost is reserved at creation and charged only if training completes. The balance may still change
    before the creation: the server then answers 402, which is one error line too.
    """
    credits = client.credit_balance()
    balance = f"{credits.available:,} available ({credits.reserved:,} reserved)"
    if credits.available < credits.fine_tune_cost:
        raise fail(f"fine-tune not started: it costs {credits.fine_tune_cost:,} credits and your balance is {balance}; "
                   "add credits (`voicesmith credits add ORG AMOUNT` on the server), or delete a running fine-tune "
                   "to release its reservation")
    if expected:
        out.print(expected[0].upper() + expected[1:], markup=False, highlight=False)
    if not ask:
        return
    question = (f"Start the fine-tune? It costs {credits.fine_tune_cost:,} credits (charged only if training "
                f"completes); your balance: {balance}")
    if not typer.confirm(question, default=False):
        # Declining is an answer, not an error: say what happened and exit 0.
        out.print("Fine-tune not started; nothing was charged. Run the same command again to start it "
                  "(uploaded files are kept).", markup=False, highlight=False)
        raise typer.Exit(0)


def _attach(client: VoicesmithClient, fine_tune_id: str, output_dir: Path) -> None:
    try:
        ft = workflow.watch_fine_tune(client, fine_tune_id, out)
    except workflow.Detached:
        out.print(f"Detached: the fine-tune keeps training. Re-attach with: voicesmith status {fine_tune_id}", markup=False, highlight=False)
        return
    except workflow.CancelledByUser:
        err.print(f"[yellow]cancelled fine-tune {fine_tune_id}; no credits were charged[/]", highlight=False)
        raise typer.Exit(130) from None
    if ft.status == "failed":
        code = f" [{ft.error_code}]" if ft.error_code else ""
        raise fail(f"fine-tune {ft.id} failed: {ft.error or 'no reason given'}{code}")
    voices, report = workflow.fine_tune_results(client, ft)
    for line in render.report_headline(report):
        out.print(line, highlight=False)
    figures = render.report_figures(report, voices)
    out.print(render.voices_table(voices, figures, title=f"Voices of {ft.name}", descriptions=False))
    if (checks := render.likeness_table(report, voices)) is not None:
        out.print(checks)
    for voice in voices:  # descriptions say how the four differ: too long for table cells
        out.print(f"- {voice.description or voice.name}", markup=False, highlight=False)
    for path in workflow.write_previews(client, ft, voices, output_dir, out):
        out.print(f"preview: {path}", markup=False, highlight=False)
    out.print(f"Speak with one: voicesmith say \"Hello there\" --voice {voices[0].id if voices else 'VOICE_ID'} -o hello.wav", markup=False, highlight=False)


# -- speech -----------------------------------------------------------------------------------

FORMATS = ("wav", "mp3", "raw")


@app.command()
@handle_errors
def say(
    text: Annotated[str, typer.Argument(help="What to say.")],
    voice: Annotated[str, typer.Option("--voice", help="Voice id (see `voicesmith voices list`).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Audio file to write.")] = Path("out.wav"),
    fmt: Annotated[str, typer.Option("--format", help="wav, mp3 or raw (16-bit PCM).")] = "wav",
    sample_rate: Annotated[int, typer.Option(help="Output sample rate in Hz.")] = 24000,
    language: Annotated[Optional[str], typer.Option(help="Language of the text \\[default: en].")] = None,
    model: Annotated[str, typer.Option("--model", help="Model id.")] = DEFAULT_MODEL,
    stream: Annotated[bool, typer.Option("--stream", help="Stream over SSE, writing audio as it arrives (wav, raw).")] = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Speak TEXT with a voice into an audio file."""
    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})", code=2)
    if stream and fmt == "mp3":
        raise fail("--stream writes wav or raw; use --format wav or raw, or drop --stream for mp3", code=2)
    with connect(base_url, api_key) as client:
        if stream:
            written = speech.stream_to_file(client, output, text, voice_id=voice, model_id=model, container=fmt, sample_rate=sample_rate, language=language)
        else:
            written = client.tts_to_file(
                output, text, voice_id=voice, model_id=model, output_format=speech.output_format(fmt, sample_rate), language=language
            )
    out.print(f"wrote {output} ({render.size(written)})", markup=False, highlight=False)


def main() -> None:
    app()
