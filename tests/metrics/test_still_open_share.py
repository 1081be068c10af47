"""The resolution curve (still_open_share) against a brute-force product-limit estimate over
the fixture rows, through the real ETL, refresh and export, and against the stored medians.

The fixture is test_indicators' (random cases with ties of nothing but chance, open cases
censored at as_of, small cells), here also with age band x region combined, so every kind
of slice the other timeliness indicators have gets its curve.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from metrics.indicators.timeliness import SURVIVAL_DAYS, SURVIVAL_DIM
from tests.metrics.test_indicators import MIN_CELL, Case, build_store, make_cases, month_start, quarter_start
from tests.metrics.test_stats import product_limit
from tests.support import SHARED, run

METRIC = "still_open_share"
PAIR = ("age_band", "region")


@pytest.fixture(scope="module")
def curve_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    rows = make_cases()
    return build_store(tmp_path_factory.mktemp("curve"), rows, combinations=[list(PAIR)]), rows


def export(config: Path, metric: str, by: tuple[str, ...], grain: str) -> list[dict]:
    args = ["metrics", "export", "--metric", metric, "--grain", grain, "--format", "json"]
    return json.loads(run(config, *args, *(a for d in by for a in ("--by", d))).stdout)


def slice_of(dims: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((d, v) for d, v in dims.items() if d != SURVIVAL_DIM))


def curves(config: Path, by: tuple[str, ...], grain: str) -> dict[tuple, dict[int, dict]]:
    """(period, slice) -> {day: exported record}."""
    out: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for r in export(config, METRIC, (SURVIVAL_DIM, *by), grain):
        assert set(r["dims"]) == {SURVIVAL_DIM, *by}, r
        out[(dt.date.fromisoformat(r["period"]), slice_of(r["dims"]))][int(r["dims"][SURVIVAL_DIM])] = r
    return out


def brute_curves(rows: list[dict[str, str]], by: tuple[str, ...], grain: str) -> dict[tuple, list[Case]]:
    """(period, slice) -> the cases of the cell, grouped the slow way."""
    start = month_start if grain == "month" else quarter_start
    cells: dict[tuple, list[Case]] = defaultdict(list)
    for c in (Case(r) for r in rows):
        if c.closed is not None and c.closed < c.opened:
            continue  # quarantined by the ETL
        cells[(start(c.open_date), tuple(sorted((d, c.dims[d]) for d in by)))].append(c)
    return cells


BREAKDOWNS = [(), ("region",), ("service",), ("age_band",), PAIR]


@pytest.mark.parametrize("grain", ["month", "quarter"])
@pytest.mark.parametrize("by", BREAKDOWNS, ids=lambda b: ",".join(b) or "all")
def test_curve_is_the_product_limit_estimate_at_every_stored_day(curve_store, by: tuple[str, ...], grain: str) -> None:
    config, rows = curve_store
    got = curves(config, by, grain)
    want = brute_curves(rows, by, grain)
    assert set(got) == set(want)
    compared = 0
    for key, members in want.items():
        points = got[key]
        assert sorted(points) == list(SURVIVAL_DAYS), key
        t = [c.days for c in members]
        e = [c.closed is not None for c in members]
        for day, rec in points.items():
            if len(members) < MIN_CELL:
                assert rec["suppressed"] and rec["value"] is None and rec["n"] is None, (key, day, rec)
                continue
            if rec["suppressed"]:  # secondary: hidden so that a smaller slice cannot be recovered
                assert rec["value"] is None and "would reveal" in rec["note"], (key, day, rec)
                continue
            assert rec["n"] == len(members), (key, day, rec)
            expected = product_limit(t, e, float(day))
            if expected is None:
                # Nobody followed that long yet: unknown, never 0 and never carried forward.
                assert rec["value"] is None and "not known" in rec["note"], (key, day, rec)
                continue
            assert rec["value"] == pytest.approx(expected, abs=1e-12), (key, day, rec)
            assert rec["ci_low"] - 1e-12 <= rec["value"] <= rec["ci_high"] + 1e-12, rec
            compared += 1
    assert compared >= 50  # the comparison did cover real, unsuppressed points


@pytest.mark.parametrize("by", [(), ("region",), PAIR], ids=lambda b: ",".join(b) or "all")
def test_stored_quantiles_lie_where_the_curve_crosses_them(curve_store, by: tuple[str, ...]) -> None:
    """The median is the first closure time with S <= 0.5 (the p90 with S <= 0.1): the curve
    is at or below the level at every stored day from the quantile on, and above it before;
    a quantile "not reached" means the curve stays above the level wherever it is known."""
    config, _ = curve_store
    got = curves(config, by, "month")
    checked = 0
    for metric, level in (("resolution_days_median", 0.5), ("resolution_days_p90", 0.1)):
        for q in export(config, metric, by, "month"):
            points = got[(dt.date.fromisoformat(q["period"]), slice_of(q["dims"]))]
            # One count, one decision: a curve is suppressed exactly where its median is.
            assert {p["suppressed"] for p in points.values()} == {q["suppressed"]}, q
            if q["suppressed"]:
                continue
            known = {d: p["value"] for d, p in points.items() if p["value"] is not None}
            if q["value"] is None:
                assert all(s > level + 1e-9 for s in known.values()), (q, known)
            else:
                assert all(s <= level + 1e-9 for d, s in known.items() if d >= q["value"]), (q, known)
                assert all(s > level + 1e-9 for d, s in known.items() if d < q["value"]), (q, known)
            checked += 1
    assert checked >= (20 if len(by) < 2 else 5)  # combined slices are small: most suppressed


def test_curves_never_rise_and_recent_cohorts_stop_at_their_age(curve_store) -> None:
    config, _ = curve_store
    got = curves(config, ("region",), "month")
    as_of = dt.date(2025, 4, 20)
    unknown = 0
    for (period, _), points in got.items():
        known = [points[d]["value"] for d in SURVIVAL_DAYS if points[d]["value"] is not None]
        assert known == sorted(known, reverse=True), (period, known)
        for day, rec in points.items():
            if rec["value"] is None and not rec["suppressed"]:
                assert "not known" in rec["note"]
                # Only past the time some case has been followed: after the cohort's first day.
                assert day > (as_of - period).days - 31
                unknown += 1
    assert unknown > 0, "the fixture's recent cohorts should have days not yet observed"


def test_curve_export_passes_the_contract_checker(curve_store, tmp_path: Path) -> None:
    checker = SHARED / "tools" / "check_export.py"
    if not checker.exists():
        pytest.skip("../shared/tools/check_export.py not found beside the checkout (CI has it)")
    config, _ = curve_store
    for by in [(SURVIVAL_DIM,), (SURVIVAL_DIM, "region"), (SURVIVAL_DIM, *PAIR)]:
        out = tmp_path / f"{'-'.join(by)}.json"
        run(config, "metrics", "export", "--metric", METRIC, *(a for d in by for a in ("--by", d)), "--out", str(out))
        res = subprocess.run(
            [sys.executable, str(checker), str(out), "--min-cell", str(MIN_CELL)], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stdout
        assert json.loads(out.read_text())
