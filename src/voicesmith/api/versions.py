"""The Cartesia-Version of a request.

The version comes from the `Cartesia-Version` header or the `?cartesia_version=` query parameter
(the query wins, as on Cartesia's WebSockets). Cartesia asks clients to send the date they tested
against, so any date snaps to the newest known version on or before it; a missing version means
the newest. Dates before the first stable version, and anything that is not a date, are a 400.
"""

from __future__ import annotations

import bisect
import re
from datetime import date

from starlette.requests import HTTPConnection

from voicesmith.api.errors import ApiError


class ApiVersion(str):
    """A known version string; ISO dates compare correctly as strings."""


V2024_06_10 = ApiVersion("2024-06-10")
V2024_11_13 = ApiVersion("2024-11-13")
V2025_04_16 = ApiVersion("2025-04-16")
V2025_11_04 = ApiVersion("2025-11-04")
V2026_03_01 = ApiVersion("2026-03-01")
V2026_08_14 = ApiVersion("2026-08-14")

KNOWN_VERSIONS: tuple[ApiVersion, ...] = (V2024_06_10, V2024_11_13, V2025_04_16, V2025_11_04, V2026_03_01, V2026_08_14)
LATEST = KNOWN_VERSIONS[-1]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_version(raw: str | None) -> ApiVersion:
    if raw is None or raw.strip() == "":
        return LATEST
    value = raw.strip()
    valid = bool(_DATE.match(value))
    if valid:
        try:
            date.fromisoformat(value)
        except ValueError:
            valid = False
    if not valid:
        raise ApiError(400, "invalid_version", "Invalid Cartesia-Version",
                       f"Cartesia-Version must be a date like {LATEST}; got {value!r}. "
                       f"Known versions: {', '.join(KNOWN_VERSIONS)}.")
    i = bisect.bisect_right(KNOWN_VERSIONS, value)
    if i == 0:
        raise ApiError(400, "invalid_version", "Unsupported Cartesia-Version",
                       f"Cartesia-Version {value} predates the first stable API version {V2024_06_10}.")
    return KNOWN_VERSIONS[i - 1]


def resolve_version(conn: HTTPConnection) -> ApiVersion:
    """The request's API version (for HTTP routes and WebSockets alike); raises ApiError(400)."""
    cached = conn.scope.setdefault("state", {}).get("api_version")
    if cached is not None:
        return cached
    raw = conn.query_params.get("cartesia_version") or conn.headers.get("cartesia-version")
    version = parse_version(raw)
    conn.scope["state"]["api_version"] = version
    return version


async def api_version(conn: HTTPConnection) -> ApiVersion:
    """FastAPI dependency form of resolve_version (async: pure CPU, so no threadpool hop)."""
    return resolve_version(conn)
