"""What every user-facing command shares: the connection options, the consoles, and the rule that an
error is one red line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any, Optional, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from voicesmith.client.api import VoicesmithClient
from voicesmith.client.config import ConfigError, resolve_api_key, resolve_base_url
from voicesmith.client.errors import VoicesmithError

out = Console(soft_wrap=True)  # long lines (commands to copy) are left to the terminal to wrap
err = Console(stderr=True)

BaseUrlOption = Annotated[
    Optional[str],
    typer.Option("--base-url", help="Server URL \\[env: VOICESMITH_BASE_URL; default http://127.0.0.1:8000]."),
]
ApiKeyOption = Annotated[
    Optional[str],
    typer.Option(
        "--api-key",
        help="API key \\[env: VOICESMITH_API_KEY, CARTESIA_API_KEY, CARTESIA_API_TOKEN; else the key saved by a local server].",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON instead of a table.")]


def connect(base_url: str | None, api_key: str | None) -> VoicesmithClient:
    url = resolve_base_url(base_url)
    return VoicesmithClient(url, resolve_api_key(api_key, url))


def fail(message: str, code: int = 1) -> typer.Exit:
    # soft_wrap: one line whatever the terminal width, so scripts can grep it.
    err.print(f"[bold red]error:[/] [red]{escape(message)}[/]", soft_wrap=True, highlight=False)
    return typer.Exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """Turn every expected failure into one clear line and a non-zero exit."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except VoicesmithError as exc:
            hint = _hint(exc)
            raise fail(f"{exc.message}{hint}") from None
        except ConfigError as exc:
            raise fail(str(exc)) from None
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
            raise fail(_os_message(exc)) from None
        except httpx.HTTPError as exc:
            raise fail(f"HTTP error: {exc}") from None
        except json.JSONDecodeError:
            raise fail("the server sent a response that is not JSON; is the base URL a voicesmith server?") from None
        except KeyboardInterrupt:
            raise fail("interrupted", code=130) from None
        except OSError as exc:
            raise fail(_os_message(exc)) from None

    return wrapper  # type: ignore[return-value]


def _hint(exc: VoicesmithError) -> str:
    if exc.error_code == "server_unavailable":
        return "; is the server running? (start one with `voicesmith serve`, or pass --base-url)"
    if exc.status == 401:
        return "; check --api-key / VOICESMITH_API_KEY"
    return ""


def _os_message(exc: OSError) -> str:
    if exc.filename and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data))


def print_consent_statement(challenge: dict) -> None:
    """A consent challenge as the speaker must read it (docs/consent.md), and what to do with the recording."""
    out.print("Have the speaker read this aloud and record it:", highlight=False)
    out.print(f"\n    {challenge['statement']}\n", markup=False, highlight=False)
    out.print(f"then run the same command with --consent RECORDING (before {challenge['expires_at']}).",
              markup=False, highlight=False)
