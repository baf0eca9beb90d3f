"""The `voicesmith` command: the server's own commands (serve, worker, migrate, keys, credits) beside the
client's (clone, status, say, voices, datasets, fine-tunes, dicts: voicesmith/client/cli.py).

Server commands import the server when they run, so the client commands start without loading it, and
work with the client alone installed (`pip install voicesmith`; the server is `voicesmith[server]`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import typer

from voicesmith.client.cli import app as client_app

# No locals in tracebacks: they would print API keys.
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="voicesmith: self-hosted voice cloning.",
)
app.add_typer(client_app)  # unnamed: its commands become top-level commands of this one
keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys (server side; uses VOICESMITH_DATA).")
app.add_typer(keys_app, name="keys")
credits_app = typer.Typer(no_args_is_help=True, help="Manage organisations' credits (server side; uses VOICESMITH_DATA).")
app.add_typer(credits_app, name="credits")

DataOption = typer.Option(None, help="Data directory (default: $VOICESMITH_DATA or ./data).")
LogLevelOption = typer.Option(
    "info", "--log-level",
    help="voicesmith's messages from this level up (debug, info, warning, error); libraries' and access logs "
         "only with debug.",
)


def _check_log_level(level: str) -> str:
    levels = ("debug", "info", "warning", "error")
    if level.lower() not in levels:
        raise typer.BadParameter(f"use one of {', '.join(levels)}", param_hint="--log-level")
    return level.lower()


@contextlib.contextmanager
def _server_installed() -> Iterator[None]:
    """A server command on a client-only install says what to install instead of a traceback."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").startswith("voicesmith"):
            raise
        typer.echo(f"error: the voicesmith server is not installed here (no module {exc.name!r}): "
                   "pip install 'voicesmith[server]', or run it from a checkout with ./run serve", err=True)
        raise typer.Exit(1) from None


def _use_data_dir(data: Optional[Path]) -> None:
    # Settings are read from the environment in one place (config.py); --data just sets it.
    if data is not None:
        os.environ["VOICESMITH_DATA"] = str(data)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data: Optional[Path] = DataOption,
    no_worker: bool = typer.Option(False, "--no-worker", help="Do not start the embedded fine-tune worker."),
    log_level: str = LogLevelOption,
) -> None:
    """Start the API server, with an embedded fine-tune worker unless --no-worker."""
    level = _check_log_level(log_level)
    _use_data_dir(data)
    with _server_installed():
        from voicesmith import server

        server.serve(host=host, port=port, with_worker=not no_worker, log_level=level)


@app.command()
def worker(
    data: Optional[Path] = DataOption,
    concurrency: int = typer.Option(1, help="Fine-tunes run at once by this worker."),
    log_level: str = LogLevelOption,
) -> None:
    """Run a standalone fine-tune worker (scale-out: set VOICESMITH_BROKER_URL and VOICESMITH_DATABASE_URL)."""
    level = _check_log_level(log_level)
    _use_data_dir(data)
    with _server_installed():
        from voicesmith import server

        server.worker(concurrency=concurrency, log_level=level)


@app.command()
def migrate(data: Optional[Path] = DataOption) -> None:
    """Bring the database schema up to date."""
    _use_data_dir(data)
    with _server_installed():
        from voicesmith import admin

        admin.migrate()


@keys_app.command("create")
def keys_create(
    org: str = typer.Option("default", "--org", help="Organisation that owns the key (created if missing)."),
    description: str = typer.Option("", help="What the key is for."),
    admin_key: bool = typer.Option(False, "--admin", help="Allow /usage and /api-keys with this key."),
    data: Optional[Path] = DataOption,
) -> None:
    """Create an API key and print only the key on stdout."""
    _use_data_dir(data)
    with _server_installed():
        from voicesmith import admin

        typer.echo(admin.create_key(org=org, description=description, is_admin=admin_key))


@keys_app.command("list")
def keys_list(data: Optional[Path] = DataOption) -> None:
    """List API keys (never the secrets)."""
    _use_data_dir(data)
    with _server_installed():
        from voicesmith import admin

        admin.print_keys()


@keys_app.command("revoke")
def keys_revoke(key_id: str, data: Optional[Path] = DataOption) -> None:
    """Revoke an API key by its id."""
    _use_data_dir(data)
    with _server_installed():
        from voicesmith import admin

        admin.revoke_key(key_id)


@credits_app.command("add")
def credits_add(
    org: str = typer.Argument(..., help="Organisation name (as in `voicesmith keys list`)."),
    amount: int = typer.Argument(..., help="Credits to add; negative to take back."),
    data: Optional[Path] = DataOption,
) -> None:
    """Top up an organisation's credits and print its balance."""
    _use_data_dir(data)
    with _server_installed():
        from voicesmith import admin

        admin.add_credits(org, amount)


def main() -> None:
    app()
