"""The server half of the `voicesmith` command (voicesmith/cli.py): checks before anything is created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICESMITH_")}
    return subprocess.run([sys.executable, "-m", "voicesmith", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_key_commands_in_a_folder_without_a_server_refuse_instead_of_making_an_empty_database(tmp_path: Path) -> None:
    for args in (["keys", "list"], ["keys", "revoke", "some-id"], ["credits", "add", "acme", "5"]):
        result = _run(*args, cwd=tmp_path)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "no voicesmith database in" in result.stderr and "--data" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists(), "nothing was created"


def test_keys_create_on_a_new_folder_says_it_makes_a_database(tmp_path: Path) -> None:
    result = _run("keys", "create", "--org", "acme", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("sk_"), result.stderr
    assert "creating a new one" in result.stderr
    listed = _run("keys", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "acme" in listed.stdout, listed.stderr


def test_an_unknown_log_level_is_refused_before_starting(tmp_path: Path) -> None:
    result = _run("serve", "--log-level", "loud", "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert result.returncode == 2 and "--log-level" in result.stderr
    assert not (tmp_path / "d").exists()


def test_server_commands_on_a_client_only_install_say_what_to_install(tmp_path: Path) -> None:
    # A client-only install lacks the server's libraries; sqlalchemy stands for them here.
    code = ("import sys; sys.modules['sqlalchemy'] = None; sys.argv = ['voicesmith', 'keys', 'list']\n"
            "from voicesmith.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "pip install 'voicesmith[server]'" in result.stderr and "Traceback" not in result.stderr
    help_text = subprocess.run([sys.executable, "-c", code.replace("'keys', 'list'", "'--help'")], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
    assert help_text.returncode == 0 and "clone" in help_text.stdout and "serve" in help_text.stdout
