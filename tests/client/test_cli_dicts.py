"""The dictionary item parsers of `voicesmith dicts` (CSV/TSV files and --item), without a server."""

from __future__ import annotations

import pytest
import typer

from voicesmith.client.cli_dicts import parse_item, read_items_file


def test_tsv_with_header_and_csv_with_quotes(tmp_path):
    tsv = tmp_path / "a.tsv"
    tsv.write_text("\ufefftext\talias\nNguyen\twin\n\n  tomato \t <<təˈmɑːtoʊ>>\n", encoding="utf-8")
    assert read_items_file(tsv) == [{"text": "Nguyen", "alias": "win"}, {"text": "tomato", "alias": "<<təˈmɑːtoʊ>>"}]
    csv_file = tmp_path / "b.csv"
    csv_file.write_text('"New York, NY", "noo york"\nGIF,jif\n', encoding="utf-8")
    assert read_items_file(csv_file) == [{"text": "New York, NY", "alias": "noo york"}, {"text": "GIF", "alias": "jif"}]


@pytest.mark.parametrize("content", ["one column only\n", "a,b,c\n", "word,\n"])
def test_rows_that_are_not_text_and_alias_are_refused(tmp_path, content):
    bad = tmp_path / "bad.csv"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(typer.Exit) as exited:
        read_items_file(bad)
    assert exited.value.exit_code == 2


def test_item_option():
    assert parse_item(" Nguyen = win ") == {"text": "Nguyen", "alias": "win"}
    assert parse_item("E=mc2=x") == {"text": "E", "alias": "mc2=x"}
    for bad in ("novalue", "=x", "x="):
        with pytest.raises(typer.Exit):
            parse_item(bad)
