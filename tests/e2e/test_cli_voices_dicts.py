"""`voicesmith voices export|import|localize` and `voicesmith dicts ...` run as a user runs them: a subprocess
against the session's live server (the `cli` fixture and error-line check of test_cli.py)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from tests.e2e.test_cli import Cli, assert_one_error_line, cli  # noqa: F401 (cli is a fixture)


@pytest.fixture()
def stock_id(cli: Cli) -> str:  # noqa: F811 (the imported fixture)
    listed = cli.run("voices", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return next(v["id"] for v in json.loads(listed.stdout) if v["kind"] == "stock")


def test_export_import_localize(cli: Cli, live_server, stock_id: str) -> None:  # noqa: F811
    exported = cli.run("voices", "export", stock_id, "-o", "mine.voice.zip")
    assert exported.returncode == 0 and "wrote mine.voice.zip" in exported.stdout, exported.stderr
    with zipfile.ZipFile(cli.cwd / "mine.voice.zip") as zf:
        assert json.loads(zf.read("voice.json"))["voice"]["id"] == stock_id

    kokoro = cli.run("voices", "export", stock_id, "--format", "kokoro")
    assert kokoro.returncode == 0, kokoro.stderr
    pack = np.load(cli.cwd / f"{stock_id}.npy")
    assert pack.shape == (510, 1, 256) and pack.dtype == np.float32

    # Another organisation imports it, then localizes its copy.
    other = replace(cli, env={**cli.env, "VOICESMITH_API_KEY": live_server.make_key("cli-importer")})
    imported = other.run("voices", "import", "mine.voice.zip", "--name", "Brought along")
    assert imported.returncode == 0 and "imported voice" in imported.stdout, imported.stderr
    new_id = imported.stdout.split()[2]
    shown = json.loads(other.run("voices", "show", new_id, "--json").stdout)
    assert (shown["name"], shown["kind"], shown["is_owner"]) == ("Brought along", "imported", True)

    localized = other.run("voices", "localize", new_id, "--language", "fr")
    assert localized.returncode == 0 and "(fr)" in localized.stdout, localized.stderr
    fr = json.loads(other.run("voices", "show", localized.stdout.split()[2], "--json").stdout)
    assert (fr["language"], fr["accent"], fr["name"]) == ("fr", "parisian", "Brought along (fr)")

    assert_one_error_line(other.run("voices", "localize", new_id, "--language", "ja"), "ja")
    (cli.cwd / "junk.zip").write_bytes(b"not a voice")
    assert_one_error_line(other.run("voices", "import", "junk.zip"), "not a voicesmith voice file")
    assert_one_error_line(cli.run("voices", "export", stock_id, "--format", "mp3"), "--format")


def test_dicts_crud(cli: Cli) -> None:  # noqa: F811
    (cli.cwd / "words.tsv").write_text("text\talias\nNguyen\twin\ntomato\t<<təˈmɑːtoʊ>>\n", encoding="utf-8")
    created = cli.run("dicts", "create", "Team words", "--items", "words.tsv", "--item", "GIF=jif", "--json")
    assert created.returncode == 0, created.stderr
    d = json.loads(created.stdout)
    assert [(i["text"], i["alias"]) for i in d["items"]] == [("Nguyen", "win"), ("tomato", "<<təˈmɑːtoʊ>>"),
                                                              ("GIF", "jif")]
    listed = json.loads(cli.run("dicts", "list", "--json").stdout)
    assert d["id"] in [x["id"] for x in listed]
    table = cli.run("dicts", "list").stdout
    assert "Team words" in table and d["id"] in table

    (cli.cwd / "words.csv").write_text('"Siobhan", "shivawn"\n', encoding="utf-8")
    updated = cli.run("dicts", "update", d["id"], "--name", "Renamed", "--items", "words.csv", "--json")
    assert updated.returncode == 0, updated.stderr
    after = json.loads(updated.stdout)
    assert after["name"] == "Renamed" and [(i["text"], i["alias"]) for i in after["items"]] == [("Siobhan", "shivawn")]
    shown = cli.run("dicts", "show", d["id"])
    assert shown.returncode == 0 and "Siobhan" in shown.stdout and "shivawn" in shown.stdout

    assert_one_error_line(cli.run("dicts", "update", d["id"]), "nothing to change")
    assert_one_error_line(cli.run("dicts", "create", "bad", "--item", "word=<<>>"), "items[0]")
    assert cli.run("dicts", "delete", d["id"]).returncode == 0
    assert_one_error_line(cli.run("dicts", "show", d["id"]), "404")
