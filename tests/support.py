"""Helpers shared by tests: a config written into a test folder, and the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from metrics.cli import cli

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def write_config(
    folder: Path, settings: dict[str, Any], name: str = "config.yaml", store_url: str | None = None
) -> Path:
    """Write a config whose store is `store_url`, or a SQLite file in `folder`."""
    settings = {"store": {"url": store_url or f"sqlite:///{folder / 'store.db'}"}, **settings}
    path = folder / name
    path.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def demo_config(folder: Path) -> Path:
    """The repository's config.yaml with its store and demo files moved into `folder`."""
    settings = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    settings["store"]["url"] = f"sqlite:///{folder / 'store.db'}"
    for src in settings["etl"]["sources"].values():
        src["path"] = str(folder / "demo" / Path(src["path"]).name)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def run(config: Path, *args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, f"civic-metrics {' '.join(args)} failed:\n{result.output}"
    return result


def query(config: Path, sql: str, **params: Any) -> list[tuple]:
    """Rows of a SQL query on the config's store, whichever database it is."""
    from sqlalchemy import text

    from metrics.config import load_settings
    from metrics.store.db import engine_for

    engine = engine_for(load_settings(config))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()
