"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries (initdb + pg_ctl), unix socket only."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


class PostgresUnavailable(Exception):
    """Why no cluster can be started here (the tests skip with this message)."""


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """Yields a postgresql:// URL of a fresh cluster; raises PostgresUnavailable if none can be started here."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise PostgresUnavailable("psycopg is not installed (pip install 'voicesmith[postgres]')") from None
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root and there is no 'postgres' user to run the cluster") from None
        run_as = ["runuser", "-u", "postgres", "--"]
    # Not under pytest's tmp dir: that is private to root, and the cluster runs as 'postgres'.
    base = Path(tempfile.mkdtemp(prefix="voicesmith-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if run_as:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    init = subprocess.run([*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                          capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    subprocess.run([*run_as, pg_ctl, "-D", str(data), "-w", "-l", str(base / "log"),
                    "-o", f"-k {sock} -c listen_addresses='' -c fsync=off -c max_connections=200", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@/postgres?host={sock}"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
