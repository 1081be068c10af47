"""A changed definition bumps its version and starts a new series beside the old one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from metrics import catalogue
from metrics.config import load_settings
from metrics.refresh import refresh
from metrics.store.db import engine_for
from metrics.store.models import MetricCell
from tests.metrics.test_edge_cases import build
from tests.support import run


def test_a_new_version_starts_a_new_series_and_keeps_the_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [[f"C{i}", f"2025-05-{1 + i % 28:02d} 10:00", f"2025-05-{2 + i % 27:02d} 10:00", "repair", "North"]
            for i in range(40)]  # fmt: skip
    config = build(tmp_path, rows)
    v1 = json.loads(run(config, "metrics", "export", "--metric", "cases_opened").stdout)
    assert {r["definition_version"] for r in v1} == {1}

    old = catalogue.CATALOGUE["cases_opened"]
    changed = dataclasses.replace(
        old, version=2, compute=lambda data: old.compute(data).assign(value=lambda f: f["value"] * 2)
    )
    monkeypatch.setitem(catalogue.CATALOGUE, "cases_opened", changed)
    settings = load_settings(config)
    refresh(settings, engine_for(settings), ["cases_opened"])

    with engine_for(settings).connect() as conn:
        versions = sorted(set(conn.execute(
            select(MetricCell.definition_version).where(MetricCell.metric == "cases_opened")).scalars()))  # fmt: skip
    assert versions == [1, 2]  # the published series is not rewritten
    v2 = json.loads(run(config, "metrics", "export", "--metric", "cases_opened").stdout)
    assert {r["definition_version"] for r in v2} == {2}
    assert [r["value"] for r in v2] == [2 * r["value"] for r in v1]
