"""`civic-metrics users` and the audit log through the real CLI, on SQLite and on a real
PostgreSQL server: accounts, roles and scopes, every change audited, the log append-only, and
the migrations building exactly what the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from metrics import users
from metrics.config import load_settings
from metrics.store.db import engine_for
from metrics.store.models import Base
from tests.support import query, run, write_config

SERVICES = {
    "bin_collection": {"department": "Environment"},
    "fly_tipping": {"department": "Environment"},
    "housing_benefit": {"department": "Housing", "entitlement": True},
}
PASSWORD = "a long enough password"


@pytest.fixture
def config(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = write_config(tmp_path, {"services": SERVICES}, store_url=store_url)
    run(path, "init")
    monkeypatch.setenv("CIVIC_METRICS_USER_PASSWORD", PASSWORD)
    return path


def test_accounts_from_the_command_line(config: Path) -> None:
    assert "no account yet" in run(config, "users", "list").output
    run(config, "users", "add", "ada", "--role", "admin")
    run(config, "users", "add", "pat", "--role", "programme_manager", "--service", "bin_collection")
    listed = run(config, "users", "list").output
    assert "ada" in listed and "pat" in listed and "services bin_collection" in listed
    run(config, "users", "set-scope", "pat", "--department", "Housing")
    run(config, "users", "set-role", "ada", "--role", "auditor")
    run(config, "users", "disable", "pat")
    engine = engine_for(load_settings(config))
    try:
        pat = users.get(engine, "pat")
        assert pat is not None and pat.departments == ("Housing",) and pat.services == () and not pat.active
        assert pat.scope({k: v["department"] for k, v in SERVICES.items()}).services == {"housing_benefit"}
        assert users.verify(engine, "ada", PASSWORD) is not None and users.verify(engine, "pat", PASSWORD) is None
        # The hash is Argon2id, never the password.
        stored = query(config, "SELECT password_hash FROM users WHERE username = 'ada'")[0][0]
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
    finally:
        engine.dispose()
    actions = [r[0] for r in query(config, "SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user_add", "user_add", "user_set_scope", "user_set_role", "user_disable"]
    # The command line acts as the operating-system user running it.
    assert all(actor.startswith("cli") for (actor,) in query(config, "SELECT actor FROM audit_log"))


def test_wrong_changes_say_what_to_do(config: Path) -> None:
    out = run(config, "users", "add", "pat", "--role", "programme_manager", ok=False).output
    assert "needs a scope" in out
    out = run(config, "users", "add", "pat", "--role", "programme_manager", "--service", "nope", ok=False).output
    assert "unknown service(s) ['nope']" in out
    out = run(config, "users", "add", "min", "--role", "minister_office", "--service", "fly_tipping", ok=False).output
    assert "only a programme_manager has a scope" in out
    out = run(config, "users", "disable", "ghost", ok=False).output
    assert "no account 'ghost'" in out


def test_short_passwords_are_refused(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVIC_METRICS_USER_PASSWORD", "short")
    assert "at least 12 characters" in run(config, "users", "add", "ada", "--role", "admin", ok=False).output


def test_the_audit_log_is_append_only_and_the_schema_matches(config: Path) -> None:
    run(config, "users", "add", "ada", "--role", "admin")
    engine = engine_for(load_settings(config))
    try:
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
