"""Connecting to the store and creating or upgrading it.

Nothing here assumes SQLite: the URL decides the dialect, and the only SQLite-specific
lines are pragmas applied when the URL is a SQLite one.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

from metrics.config import Secrets, Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def store_url(settings: Settings, secrets: Secrets | None = None) -> str:
    """The store URL: the environment's whole URL, else config's with the env password."""
    secrets = secrets or Secrets()
    if secrets.store_url is not None:
        return secrets.store_url.get_secret_value()
    url = make_url(settings.store.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        if not db.is_absolute():
            url = url.set(database=str(settings.resolve(db)))
    if secrets.db_password is not None:
        url = url.set(password=secrets.db_password.get_secret_value())
    return url.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets the dashboard read while the ETL writes; foreign keys are off by
            # default in SQLite and the schema relies on them for cascades.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def engine_for(settings: Settings) -> Engine:
    return make_engine(store_url(settings))


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> str | None:
    """Create or upgrade the store to the newest schema; running it again changes nothing."""
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest schema this version of the code knows."""
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("cases")
