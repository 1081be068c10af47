"""Shared fixtures: the store under test (SQLite and PostgreSQL), and the options for the
headless Chromium that dash.testing drives (the `browser` tests).

Chromium refuses to start as root without --no-sandbox; the other switches keep it from
reaching the network or the disk for anything but the app under test.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from selenium.webdriver.chrome.options import Options

# Property tests check what holds, not how fast: a per-example deadline only fails them when
# the machine is busy (a CI run beside other work failed on 252 ms against 200).
hypothesis_settings.register_profile("civic-metrics", deadline=None)
hypothesis_settings.load_profile("civic-metrics")

# A dashboard with login on signs its session cookies with this key, which a deployment gives
# in the environment; tests build such apps too (and test_auth removes it where it checks that
# `serve` refuses to start without one).
os.environ.setdefault("CIVIC_METRICS_SECRET_KEY", "tests-only-" + uuid.uuid4().hex)


def pytest_setup_options():
    options = Options()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1800",
    ):
        options.add_argument(arg)
    return options


# --- the store under test: a SQLite file and a real PostgreSQL server --------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One throwaway PostgreSQL server for the session (see tests/postgres.py)."""
    from tests.postgres import server

    with server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store: a SQLite file, or a fresh database on the session's
    PostgreSQL server. Integration tests that take it run on both."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


# --- the pseudonym key ------------------------------------------------------------------

# Cases that map citizen_key load only with CIVIC_METRICS_PSEUDONYM_KEY set (etl.privacy);
# a deployment gives it in the environment, CI has none. Tests that check what happens
# without it remove it with monkeypatch.
TEST_PSEUDONYM_KEY = "tests-only-pseudonym-key-" + "0123456789abcdef" * 2


@pytest.fixture(scope="session", autouse=True)
def pseudonym_key() -> Iterator[str]:
    """The key every test loads cases with (session-wide, so session fixtures that build
    stores have it too); subprocesses the tests start inherit it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIVIC_METRICS_PSEUDONYM_KEY", TEST_PSEUDONYM_KEY)
        yield TEST_PSEUDONYM_KEY
