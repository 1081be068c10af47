"""A throwaway PostgreSQL server for the tests: a real server, started from the machine's
PostgreSQL binaries into a temporary folder, listening on a Unix socket only.

`CIVIC_METRICS_TEST_PG_URL` points the tests at an existing server instead (a CI service,
say). Where neither is available the PostgreSQL tests skip with the reason, unless
`CIVIC_METRICS_REQUIRE_POSTGRES=1` (set by `make test`), where they fail: the test command
promises PostgreSQL coverage and must not quietly drop it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

URL_ENV = "CIVIC_METRICS_TEST_PG_URL"
REQUIRE_ENV = "CIVIC_METRICS_REQUIRE_POSTGRES"


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason} (`make test` installs it)")


@contextmanager
def server() -> Iterator[str]:
    """Yield the SQLAlchemy URL of a running server's empty database; stop it afterwards."""
    if url := os.environ.get(URL_ENV):
        yield url
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("the psycopg driver is not installed (pip install -e '.[test]')")
    bindir = binaries()
    if bindir is None:
        unavailable("no PostgreSQL server binaries (initdb) on this machine")
        return
    folder = Path(tempfile.mkdtemp(prefix="civic-pg-"))
    data, sock = folder / "data", folder
    # PostgreSQL refuses to run as root: as root, the server runs as the postgres user.
    as_user: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.geteuid() == 0:
        user = "postgres"
        shutil.chown(folder, user)
        folder.chmod(0o700)
        as_user = ["runuser", "-u", user, "--"]
    port = 40000 + uuid.uuid4().int % 20000

    def pg(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True, timeout=120)

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        pg(str(bindir / "createdb"), "-h", str(sock), "-p", str(port), "-U", user, "civic")
    except subprocess.CalledProcessError as exc:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr}\n{log}") from exc
    try:
        yield f"postgresql+psycopg://{user}@/civic?host={sock}&port={port}"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)
