"""The `voicesmith` command: server administration (serve, worker, keys, migrate) and the user workflow.

Server-side commands import the server lazily, so the client half stays light for users who only
talk to a remote voicesmith.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="voicesmith: self-hosted voice cloning.")
keys_app = typer.Typer(no_args_is_help=True, help="Manage API keys (server side; uses VOICESMITH_DATA).")
app.add_typer(keys_app, name="keys")


def _use_data_dir(data: Optional[Path]) -> None:
    # Settings are read from the environment in one place (config.py); --data just sets it.
    if data is not None:
        import os

        os.environ["VOICESMITH_DATA"] = str(data)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data: Optional[Path] = typer.Option(None, help="Data directory (default: $VOICESMITH_DATA or ./data)."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Do not start the embedded fine-tune worker."),
) -> None:
    """Start the API server, with an embedded fine-tune worker unless --no-worker."""
    _use_data_dir(data)
    from voicesmith.jobs.runner import serve as run_serve

    run_serve(host=host, port=port, with_worker=not no_worker)


@app.command()
def worker(
    data: Optional[Path] = typer.Option(None, help="Data directory (default: $VOICESMITH_DATA or ./data)."),
    concurrency: int = typer.Option(1, help="Fine-tunes run at once by this worker."),
) -> None:
    """Run a standalone fine-tune worker (scale-out: set VOICESMITH_BROKER_URL and VOICESMITH_DATABASE_URL)."""
    _use_data_dir(data)
    from voicesmith.jobs.runner import worker as run_worker

    run_worker(concurrency=concurrency)


@app.command()
def migrate(data: Optional[Path] = typer.Option(None, help="Data directory.")) -> None:
    """Bring the database schema up to date."""
    _use_data_dir(data)
    from voicesmith import admin

    admin.migrate()


@keys_app.command("create")
def keys_create(
    org: str = typer.Option("default", "--org", help="Organisation that owns the key (created if missing)."),
    description: str = typer.Option("", help="What the key is for."),
    admin_key: bool = typer.Option(False, "--admin", help="Allow /usage and /api-keys with this key."),
    data: Optional[Path] = typer.Option(None, help="Data directory."),
) -> None:
    """Create an API key and print only the key on stdout."""
    _use_data_dir(data)
    from voicesmith import admin

    typer.echo(admin.create_key(org=org, description=description, is_admin=admin_key))


@keys_app.command("list")
def keys_list(data: Optional[Path] = typer.Option(None, help="Data directory.")) -> None:
    """List API keys (never the secrets)."""
    _use_data_dir(data)
    from voicesmith import admin

    admin.print_keys()


@keys_app.command("revoke")
def keys_revoke(key_id: str, data: Optional[Path] = typer.Option(None, help="Data directory.")) -> None:
    """Revoke an API key by its id."""
    _use_data_dir(data)
    from voicesmith import admin

    admin.revoke_key(key_id)


def main() -> None:
    app()
