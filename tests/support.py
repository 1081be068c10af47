"""Helpers shared by tests: a config written into a test folder, and the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from metrics.cli import cli

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def write_config(folder: Path, settings: dict[str, Any], name: str = "config.yaml") -> Path:
    """Write a config whose store is a SQLite file in `folder` (unless one is given)."""
    settings = {"store": {"url": f"sqlite:///{folder / 'store.db'}"}, **settings}
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
