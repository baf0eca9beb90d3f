"""The `voicesmith` CLI run as a user runs it: a subprocess, a real server, real speech.

The clone tests upload ~2 minutes of a real speaker (allison_en). Training to completion with the tiny budget
takes minutes, so that one test is marked slow (`./run test -m slow`); the SDK end-to-end test
(tests/e2e/test_sdk_fine_tune.py) trains through the same server path in the default run. Ctrl-C during
training, the credit prompt, resumed uploads, `say` and instant clones run by default.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from tests.consent_support import ALLISON_CONSENT, consent_policy, consent_server, reading, wav
from voicesmith.client import NotFound, VoicesmithClient, render

CLONE_NAME = f"cli-e2e-{uuid.uuid4().hex[:6]}"


@dataclass
class Cli:
    env: dict[str, str]
    cwd: Path

    def run(self, *args: str | Path, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "voicesmith", *map(str, args)],
            env=self.env, cwd=self.cwd, input=stdin if stdin is not None else "", capture_output=True, text=True,
            timeout=timeout,
        )

    def start(self, *args: str | Path) -> Running:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicesmith", *map(str, args)],
            env=self.env, cwd=self.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        return Running(proc)


class Running:
    """A CLI process whose stdout is read line by line in the background (no pipe can fill up)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, match: Callable[[str], bool], timeout: float) -> str | None:
        """The first stdout line matching, or None if the process ended (or timed out) first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                return None
            self.seen.append(line)
            if match(line):
                return line

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        try:
            code: int | None = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # and show what it printed: a hang is otherwise undiagnosable
            self.proc.wait()
            code = None
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        stdout, stderr = "\n".join(self.seen), self.proc.stderr.read()
        if code is None:
            pytest.fail(f"the CLI did not exit within {timeout:.0f} s:\n{stdout}\n{stderr}")
        return code, stdout, stderr


@pytest.fixture()
def cli(live_server, tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARTESIA_", "VOICESMITH_API_KEY"))}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),  # the resume manifest and saved keys: per test
        VOICESMITH_BASE_URL=live_server.base_url,
        VOICESMITH_API_KEY=live_server.api_key,
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    return Cli(env, tmp_path)


@pytest.fixture()
def client(live_server) -> VoicesmithClient:
    with VoicesmithClient(live_server.base_url, live_server.api_key) as c:
        yield c


def _clips(speech_data: Path, seconds: float) -> list[Path]:
    """allison_en clips of 3-12 s (whole sentences: they segment and transcribe well), in name order,
    adding up to `seconds`."""
    rows = [line.split("\t") for line in (speech_data / "manifest.tsv").read_text().splitlines()[1:]]
    rows = sorted((r for r in rows if r[0] == "allison_en" and 3 <= float(r[3]) <= 12), key=lambda r: r[2])
    picked, total = [], 0.0
    for r in rows:
        if total >= seconds:
            break
        picked.append(speech_data / r[2])
        total += float(r[3])
    return picked


@pytest.fixture(scope="module")
def voice_samples(speech_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("allison")
    for clip in _clips(speech_data, 120):
        shutil.copy(clip, folder / clip.name)
    return folder


def assert_one_error_line(result: subprocess.CompletedProcess | tuple, *fragments: str) -> str:
    code, stdout, stderr = (result.returncode, result.stdout, result.stderr) if hasattr(result, "returncode") else result
    assert code != 0, f"expected a failure, got exit 0\n{stdout}"
    assert "Traceback" not in stdout + stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr should be one error line:\n{stderr}"
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]


def _fine_tunes_of(client: VoicesmithClient, name: str) -> list:
    ids = {d.id for d in client.list_datasets() if d.name == name}
    return [ft for ft in client.list_fine_tunes() if ft.dataset in ids]


# -- clone ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the tiny budget takes minutes on 2 free cores; far longer on a shared machine
def test_clone_with_yes_trains_and_writes_a_preview_per_voice(cli: Cli, client: VoicesmithClient, voice_samples: Path) -> None:
    out_dir = cli.cwd / "previews"
    result = cli.run(
        "clone", voice_samples, "--name", CLONE_NAME, "--yes", "--budget", "tiny", "--output-dir", out_dir, timeout=1700
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    uploaded = client.list_files(next(d.id for d in client.list_datasets() if d.name == CLONE_NAME))
    assert sorted(f.filename for f in uploaded) == sorted(p.name for p in voice_samples.iterdir())
    assert "usable speech" in result.stdout  # the quality report was shown before training

    fine_tunes = _fine_tunes_of(client, CLONE_NAME)
    assert len(fine_tunes) == 1, "clone --yes starts exactly one fine-tune"
    ft = fine_tunes[0]
    if result.returncode != 0:
        line = assert_one_error_line(result, ft.id, "failed")
        assert ft.status == "failed" and ft.error and ft.error[:40] in line
        pytest.fail(f"fine-tune failed: {ft.error_code}: {ft.error}")

    assert ft.status == "completed"
    voices = client.fine_tune_voices(ft.id)
    assert len(voices) == 4
    for v in voices:
        assert v.id in result.stdout
    previews = sorted(out_dir.glob("*.wav"))
    assert len(previews) == 4
    for preview in previews:
        audio, rate = sf.read(preview)
        assert rate == 24000 and len(audio) > rate and np.sqrt(np.mean(audio**2)) > 0.01, preview


def _in_terminal(cli: Cli, *args: str | Path, answer: str, timeout: float = 500) -> tuple[int, str, str]:
    """Run the CLI with a terminal as stdin, as for a user at a shell, typing `answer` (kept by the terminal
    until a prompt reads it). Returns (exit code, stdout, stderr)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicesmith", *map(str, args)],
            env=cli.env, cwd=cli.cwd, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        os.write(master, answer.encode())
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, stdout, stderr


def _set_balance(data_dir_switch, data_dir: Path, org: str, balance: int) -> None:  # noqa: ANN001
    """Write an organisation's balance into the live server's database (the API has no way to add credits)."""
    from sqlalchemy import update

    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Organization

    with data_dir_switch(data_dir), session_scope() as session:
        session.execute(update(Organization).where(Organization.name == org).values(credits_balance=balance))


@pytest.mark.timeout(600)
def test_clone_shows_the_balance_and_refuses_what_it_cannot_cover(cli: Cli, live_server, speech_data: Path,
                                                                   data_dir_switch) -> None:
    org = f"cli-credits-{uuid.uuid4().hex[:6]}"  # its own organisation: its balance is changed below
    cli.env["VOICESMITH_API_KEY"] = key = live_server.make_key(org)
    folder = cli.cwd / "samples"
    folder.mkdir()
    for clip in _clips(speech_data, 80):  # just enough speech for the quality report to allow training
        shutil.copy(clip, folder / clip.name)
    with VoicesmithClient(live_server.base_url, key) as client:
        before = client.credit_balance()
        code, stdout, stderr = _in_terminal(cli, "clone", folder, "--name", "balance", answer="n\n")
        assert "usable speech" in stdout, stdout + stderr  # it got as far as the question
        assert f"costs {before.fine_tune_cost:,} credits" in stdout, stdout
        assert f"your balance: {before.available:,} available ({before.reserved:,} reserved)" in stdout, stdout
        assert "[y/N]" in stdout, stdout
        # The expected time is the server's estimate for this dataset and the default budget.
        dataset = next(d for d in client.list_datasets() if d.name == "balance")
        seconds = client.fine_tune_estimate(dataset.id)["budgets"]["default"]["expected_seconds"]
        assert f"Expected time: about {render.duration(seconds)} of training" in stdout, stdout
        # The server's consent policy is `record`: the statement to read is shown, training is not blocked.
        assert "Consent: unverified" in stdout and "agree that voicesmith may create a synthetic copy" in stdout
        assert "--consent RECORDING" in stdout, stdout
        # Answering no is an answer, not an error: exit 0, said on stdout.
        assert code == 0 and "not started" in stdout and "error" not in stderr.lower(), (code, stdout, stderr)
        assert client.list_fine_tunes() == [] and client.credit_balance() == before, "answering no starts nothing"

        # Short of one credit: refused in one line before anything starts, whether it asks (terminal) or not (--yes).
        short = before.fine_tune_cost - 1
        _set_balance(data_dir_switch, live_server.data_dir, org, short)
        code, stdout, stderr = _in_terminal(cli, "clone", folder, "--name", "balance", answer="y\n")
        assert "[y/N]" not in stdout, "no question when the answer cannot be yes"
        assert_one_error_line((code, stdout, stderr), "not started", f"{short:,} available (0 reserved)")
        assert_one_error_line(cli.run("clone", folder, "--name", "balance", "--yes"), "not started",
                              f"costs {before.fine_tune_cost:,} credits")
        assert client.list_fine_tunes() == [] and client.credit_balance().balance == short, "nothing was started"


@pytest.mark.timeout(900)
def test_ctrl_c_while_training_offers_cancel_and_cancels(cli: Cli, client: VoicesmithClient, voice_samples: Path) -> None:
    run = cli.start("clone", voice_samples, "--name", CLONE_NAME, "--yes", "--budget", "tiny")
    # "stage:" lines come from the live view, where Ctrl-C asks cancel or detach.
    if run.wait_for(lambda line: line.startswith("stage:"), timeout=800) is None:
        code, stdout, stderr = run.finish()
        pytest.fail(f"the CLI never showed training progress (exit {code}):\n{stdout}\n{stderr}")
    started = next(line for line in run.seen if line.startswith("Started fine-tune"))
    ft_id = started.split()[-1]
    run.proc.send_signal(signal.SIGINT)
    run.proc.stdin.write("c\n")
    run.proc.stdin.close()
    code, stdout, stderr = run.finish()
    assert code == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert f"cancelled fine-tune {ft_id}" in stderr
    with pytest.raises(NotFound):
        client.get_fine_tune(ft_id)  # deleted: the worker was told to stop and its credits released


@pytest.mark.timeout(300)
def test_killed_upload_resumes_without_uploading_again(cli: Cli, client: VoicesmithClient, speech_data: Path) -> None:
    folder = cli.cwd / "samples"
    folder.mkdir()
    for clip in _clips(speech_data, 40):
        shutil.copy(clip, folder / clip.name)
    local = sorted(p.name for p in folder.iterdir())
    name = f"cli-resume-{uuid.uuid4().hex[:6]}"

    first = cli.start("clone", folder, "--name", name, "--yes")
    uploaded_lines = 0
    while uploaded_lines < 3:
        line = first.wait_for(lambda line: line.startswith("uploaded "), timeout=60)
        assert line is not None, "\n".join(first.seen)
        uploaded_lines += 1
    first.proc.kill()  # like closing the terminal mid-upload: no chance to clean up
    first.proc.wait(timeout=10)

    dataset = next(d for d in client.list_datasets() if d.name == name)
    # An upload whose body had fully left the client before the kill still completes on the server: wait
    # until the listing stops changing.
    after_kill, deadline = client.list_files(dataset.id), time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(1.0)
        again = client.list_files(dataset.id)
        if [f.id for f in again] == [f.id for f in after_kill]:
            break
        after_kill = again
    assert 3 <= len(after_kill) < len(local)
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert all(f.size == sizes[f.filename] for f in after_kill), "a listed file is always complete"

    second = cli.start("clone", folder, "--name", name, "--yes")
    summary = second.wait_for(lambda line: line.endswith("already there"), timeout=120)
    second.proc.send_signal(signal.SIGINT)  # stop before training: only the upload is under test
    code, stdout, stderr = second.finish()
    assert summary == f"{len(local) - len(after_kill)} uploaded, {len(after_kill)} already there", stdout
    assert f"Reusing dataset {dataset.id}" in stdout
    assert code != 0 and "Traceback" not in stdout + stderr

    files = client.list_files(dataset.id)
    assert sorted(f.filename for f in files) == local, "every recording exactly once"
    assert {f.id for f in after_kill} <= {f.id for f in files}, "files uploaded before the kill were kept, not re-sent"
    for ft in _fine_tunes_of(client, name):
        client.delete_fine_tune(ft.id)


# -- say --------------------------------------------------------------------------------------


@pytest.fixture()
def stock_voice(cli: Cli, live_server) -> str:
    r = httpx.post(f"{live_server.base_url}/tts/bytes", json={}, headers={"Authorization": f"Bearer {live_server.api_key}"})
    if r.status_code == 404:
        pytest.skip("this server answers 404 for POST /tts/bytes: the TTS route is not installed yet")
    listed = cli.run("voices", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return next(v["id"] for v in json.loads(listed.stdout) if not v["is_owner"])  # other tests add voices of their own


@pytest.mark.parametrize("stream", [False, True], ids=["bytes", "sse"])
def test_say_writes_a_file_that_is_speech(cli: Cli, stock_voice: str, stream: bool) -> None:
    from voicesmith.engine.transcribe import get_transcriber
    from voicesmith.engine.wer import wer

    text = "The quick brown fox jumps over the lazy dog."
    out = cli.cwd / "fox.wav"
    result = cli.run("say", text, "--voice", stock_voice, "-o", out, *(["--stream"] if stream else []))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    audio, rate = sf.read(out)
    assert rate == 24000 and 1.0 < len(audio) / rate < 10
    with wave.open(str(out)) as w:  # the header's sizes are the file's, not a stream's placeholder
        assert w.getnframes() == len(audio)
    heard = get_transcriber().transcribe(audio.astype(np.float32), rate).text
    assert wer(text, heard) <= 0.25, heard


# -- every error is one line ------------------------------------------------------------------


def test_bad_key(cli: Cli) -> None:
    assert_one_error_line(cli.run("voices", "list", "--api-key", "sk_wrong"), "401")


def test_server_down(cli: Cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        assert_one_error_line(cli.run("datasets", "list", "--base-url", url), "cannot reach", "voicesmith serve")


def test_no_key_anywhere(cli: Cli) -> None:
    cli.env.pop("VOICESMITH_API_KEY")
    assert_one_error_line(cli.run("voices", "list"), "no API key")


def test_missing_folder(cli: Cli, client: VoicesmithClient) -> None:
    name = f"typo-{uuid.uuid4().hex[:6]}"
    # Said first, even without a terminal and without --yes; and nothing is created on the server.
    assert_one_error_line(cli.run("clone", cli.cwd / "nope", "--name", name), "folder not found")
    assert_one_error_line(cli.run("clone", cli.cwd / "nope", "--name", name, "--yes"), "folder not found")
    assert name not in {d.name for d in client.list_datasets()}


def test_folder_without_audio(cli: Cli, client: VoicesmithClient) -> None:
    (cli.cwd / "empty").mkdir()
    name = f"empty-{uuid.uuid4().hex[:6]}"
    assert_one_error_line(cli.run("clone", cli.cwd / "empty", "--name", name, "--yes"), "no audio files")
    assert name not in {d.name for d in client.list_datasets()}


def test_a_bad_key_creates_nothing(cli: Cli, client: VoicesmithClient, voice_samples: Path) -> None:
    name = f"badkey-{uuid.uuid4().hex[:6]}"
    assert_one_error_line(cli.run("clone", voice_samples, "--name", name, "--yes", "--api-key", "sk_wrong"), "401")
    assert name not in {d.name for d in client.list_datasets()}


def test_clone_without_terminal_needs_yes(cli: Cli, voice_samples: Path) -> None:
    assert_one_error_line(cli.run("clone", voice_samples, "--name", "x"), "--yes")


def test_unknown_voice(cli: Cli) -> None:
    assert_one_error_line(cli.run("voices", "show", str(uuid.uuid4())), "404")
    assert_one_error_line(cli.run("say", "hello", "--voice", str(uuid.uuid4()), "-o", cli.cwd / "x.wav"), "404")
    assert not (cli.cwd / "x.wav").exists()


def test_unknown_fine_tune_and_dataset(cli: Cli) -> None:
    assert_one_error_line(cli.run("status", "fine_tune_nope"), "404")
    assert_one_error_line(cli.run("datasets", "report", "dataset_nope"), "404")


def test_bad_format(cli: Cli) -> None:
    result = cli.run("say", "hi", "--voice", "v", "--format", "ogg")
    assert result.returncode == 2
    assert_one_error_line(result, "--format")


# -- the rest of the API ----------------------------------------------------------------------


def test_instant_clone_rename_show_and_delete_a_voice(cli: Cli, speech_data: Path, stock_voice: str) -> None:
    clip = max(_clips(speech_data, 60), key=lambda p: p.stat().st_size)  # one 5-12 s sentence
    created = cli.run("voices", "clone", clip, "--name", "CLI clone", "--language", "en")
    assert created.returncode == 0, created.stderr
    voice_id = created.stdout.split()[2]
    renamed = cli.run("voices", "rename", voice_id, "--name", "CLI clone renamed")
    assert renamed.returncode == 0 and "CLI clone renamed" in renamed.stdout, renamed.stderr
    shown = json.loads(cli.run("voices", "show", voice_id, "--json").stdout)
    assert shown["id"] == voice_id and shown["name"] == "CLI clone renamed"
    assert shown["consent"] == "unverified" and shown["provenance"]["clip"]["filename"] == clip.name
    plain = cli.run("voices", "show", voice_id).stdout
    assert "consent" in plain and "unverified" in plain and clip.name in plain, plain
    mine = json.loads(cli.run("voices", "list", "--mine", "--json").stdout)
    assert voice_id in {v["id"] for v in mine} and stock_voice not in {v["id"] for v in mine}
    deleted = cli.run("voices", "delete", voice_id)
    assert deleted.returncode == 0, deleted.stderr
    assert_one_error_line(cli.run("voices", "show", voice_id), "404")


@pytest.fixture()
def consent_cli(tmp_path_factory, data_dir_switch, tmp_path: Path):
    """The CLI against an in-process server whose next consent code is the one allison_en's clip says
    (tests/consent_support.py, the reading substitute)."""
    with consent_server(data_dir_switch, tmp_path_factory.mktemp("cli-consent"), "cli-consent") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CARTESIA_", "VOICESMITH_"))}
        env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), VOICESMITH_BASE_URL=server.base_url,
                   VOICESMITH_API_KEY=server.key, PYTHONUNBUFFERED="1")
        yield server, Cli(env=env, cwd=tmp_path)


def test_instant_clone_with_the_speakers_consent_and_without_it_under_require(consent_cli, speech_data: Path) -> None:
    server, cli = consent_cli
    reading_clip = reading(speech_data, ALLISON_CONSENT)
    server.next_codes_from(reading_clip)
    to_clone = wav(speech_data, "allison_en", "conf-usermenu")

    statement = cli.run("voices", "consent-statement", "--speaker", "Allison")
    assert statement.returncode == 0, statement.stderr
    assert "I, Allison, agree" in statement.stdout and "invalid personal identification" in statement.stdout
    assert "--consent RECORDING" in statement.stdout

    made = cli.run("voices", "clone", to_clone, "--name", "Allison verified", "--consent", reading_clip.path)
    assert made.returncode == 0, made.stderr
    voice_id = made.stdout.split()[2]
    assert "consent verified" in made.stdout
    shown = server.get(f"/voices/{voice_id}")
    assert shown["consent"] == "verified" and shown["provenance"]["consent_attempt_id"]

    with consent_policy("require"):
        refused = cli.run("voices", "clone", to_clone, "--name", "Allison again")
    assert refused.returncode == 1
    assert "requires the speaker's verified consent" in refused.stderr
    assert "I, Allison again, agree" in refused.stdout  # a fresh statement to read, for the next try
    assert [v["name"] for v in server.get("/voices?limit=100")["data"] if v["is_owner"]] == ["Allison verified"]


def test_dataset_commands(cli: Cli, speech_data: Path) -> None:
    folder = cli.cwd / "few"
    folder.mkdir()
    for clip in _clips(speech_data, 10):
        shutil.copy(clip, folder / clip.name)
    name = f"cli-ds-{uuid.uuid4().hex[:6]}"
    n = len(list(folder.iterdir()))
    up = cli.run("datasets", "upload", folder, "--name", name)
    assert up.returncode == 0 and up.stdout.strip().endswith(f"{n} uploaded, 0 already there"), up.stdout + up.stderr
    again = cli.run("datasets", "upload", folder, "--name", name)
    assert again.returncode == 0 and again.stdout.strip().endswith(f"0 uploaded, {n} already there"), again.stdout
    listed = json.loads(cli.run("datasets", "list", "--json").stdout)
    dataset_id = next(d["id"] for d in listed if d["name"] == name)
    shown = json.loads(cli.run("datasets", "show", dataset_id, "--json").stdout)
    assert sorted(f["filename"] for f in shown["files"]) == sorted(p.name for p in folder.iterdir())
    report = json.loads(cli.run("datasets", "report", dataset_id, "--json").stdout)
    assert report["status"] in ("pending", "ready", "failed")
    assert cli.run("datasets", "delete", dataset_id).returncode == 0
    assert_one_error_line(cli.run("datasets", "show", dataset_id), "404")


def test_upload_skips_what_the_server_refuses_and_goes_on(cli: Cli, speech_data: Path) -> None:
    """A file that is not audio (here text named .wav) is refused by the server; the upload names it, says why,
    and uploads the rest of the folder."""
    folder = cli.cwd / "with-broken"
    folder.mkdir()
    clips = _clips(speech_data, 5)
    for clip in clips:
        shutil.copy(clip, folder / clip.name)
    (folder / "broken.wav").write_text("these are notes, not a recording\n" * 20)
    name = f"cli-refused-{uuid.uuid4().hex[:6]}"
    up = cli.run("datasets", "upload", folder, "--name", name)
    out = up.stdout + up.stderr
    assert up.returncode == 0, out
    assert up.stdout.strip().endswith(f"{len(clips)} uploaded, 0 already there, 1 refused (not audio)"), out
    assert "skipped broken.wav" in out and "not audio this server can read" in out, out
    listed = json.loads(cli.run("datasets", "list", "--json").stdout)
    dataset_id = next(d["id"] for d in listed if d["name"] == name)
    shown = json.loads(cli.run("datasets", "show", dataset_id, "--json").stdout)
    assert sorted(f["filename"] for f in shown["files"]) == sorted(c.name for c in clips)
    assert cli.run("datasets", "delete", dataset_id).returncode == 0
