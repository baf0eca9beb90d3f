"""`voicesmith dicts ...`: pronunciation dictionaries (/pronunciation-dicts), items from a CSV/TSV file or --item."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from voicesmith.client import render
from voicesmith.client.cli_common import (ApiKeyOption, BaseUrlOption, JsonOption, connect, fail, handle_errors, out,
                                          print_json)

dicts_app = typer.Typer(no_args_is_help=True, help="Pronunciation dictionaries: how words are said (sound-alike "
                                                   "spellings or <<IPA>>), for pronunciation_dict_id on TTS.")

ItemsFileOption = Annotated[
    Optional[Path],
    typer.Option("--items", help="CSV or TSV file of `text,alias` rows (a `text,alias` header line is skipped).",
                 exists=True, dir_okay=False),
]
ItemOption = Annotated[
    Optional[list[str]], typer.Option("--item", help="One item as text=alias (repeatable), e.g. --item Nguyen=win.")
]
HEADER = ["text", "alias"]


def read_items_file(path: Path) -> list[dict[str, Any]]:
    """Items of a CSV/TSV file: tab-separated if its first line has a tab, else comma-separated (quotes allowed)."""
    text = path.read_text(encoding="utf-8-sig")
    delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    items = []
    for number, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter, skipinitialspace=True), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or (number == 1 and [c.lower() for c in cells[:2]] == HEADER):
            continue
        if len(cells) != 2 or not all(cells):
            raise fail(f"{path}, line {number}: expected two columns, text and alias", code=2)
        items.append({"text": cells[0], "alias": cells[1]})
    return items


def parse_item(value: str) -> dict[str, Any]:
    text, sep, alias = value.partition("=")
    if not sep or not text.strip() or not alias.strip():
        raise fail(f"--item must be text=alias (got {value!r})", code=2)
    return {"text": text.strip(), "alias": alias.strip()}


def _items(items_file: Optional[Path], item: Optional[list[str]]) -> list[dict[str, Any]] | None:
    """The items the options give (file rows first), or None when neither option was used."""
    if items_file is None and not item:
        return None
    return (read_items_file(items_file) if items_file else []) + [parse_item(v) for v in item or []]


def _show(data: Any, as_json: bool, table: Callable[[Any], Table] = render.dict_items_table) -> None:
    if as_json:
        print_json(data)
    else:
        out.print(table(data))


@dicts_app.command("list")
@handle_errors
def dicts_list(as_json: JsonOption = False, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """List your organisation's dictionaries."""
    with connect(base_url, api_key) as client:
        _show(client.list_dicts(), as_json, render.dicts_table)


@dicts_app.command("create")
@handle_errors
def dicts_create(
    name: Annotated[str, typer.Argument(help="Name of the dictionary.")],
    items_file: ItemsFileOption = None,
    item: ItemOption = None,
    as_json: JsonOption = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Create a dictionary."""
    items = _items(items_file, item) or []
    with connect(base_url, api_key) as client:
        created = client.create_dict(name, items)
    if as_json:
        print_json(created)
    else:
        out.print(f"created dictionary [bold]{created['id']}[/] ({len(created.get('items') or [])} items)",
                  highlight=False)


@dicts_app.command("show")
@handle_errors
def dicts_show(dict_id: str, as_json: JsonOption = False, base_url: BaseUrlOption = None,
               api_key: ApiKeyOption = None) -> None:
    """Show a dictionary and its items."""
    with connect(base_url, api_key) as client:
        _show(client.get_dict(dict_id), as_json)


@dicts_app.command("update")
@handle_errors
def dicts_update(
    dict_id: str,
    name: Annotated[Optional[str], typer.Option(help="New name.")] = None,
    items_file: ItemsFileOption = None,
    item: ItemOption = None,
    as_json: JsonOption = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Rename a dictionary and/or replace its items (--items/--item give the whole new list)."""
    items = _items(items_file, item)
    if name is None and items is None:
        raise fail("nothing to change: pass --name, --items or --item", code=2)
    with connect(base_url, api_key) as client:
        _show(client.update_dict(dict_id, name=name, items=items), as_json)


@dicts_app.command("delete")
@handle_errors
def dicts_delete(dict_id: str, base_url: BaseUrlOption = None, api_key: ApiKeyOption = None) -> None:
    """Delete a dictionary."""
    with connect(base_url, api_key) as client:
        client.delete_dict(dict_id)
    out.print(f"deleted dictionary {dict_id}", markup=False, highlight=False)
