"""An incremental refresh stores exactly the figures a full refresh computes.

A demo history is fed to a real store day by day, as a CRM's nightly exports would arrive:
new cases, closures and first answers of older ones, and edits a CRM makes to old cases
(region or service corrected, a case reopened, a late-keyed citizen, an opening date
corrected). After each load the refresh runs incrementally, and every stored cell is
compared with the cells a full computation gives from the same store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine, select

from etl.demo_data import write_demo_data
from etl.runner import run_jobs
from metrics.casedata import load_case_data
from metrics.catalogue import CATALOGUE
from metrics.config import load_settings
from metrics.refresh import compute_cells, refresh, to_rows
from metrics.store.db import engine_for, upgrade
from metrics.store.models import CaseChange, MetricCell, RefreshRun
from tests.support import REPO

FMT = "%d/%m/%Y %H:%M"
KEY = ["metric", "definition_version", "grain", "period", "dim_names", "dims_key", "across"]
FIGURES = ["value", "n", "numerator", "denominator", "ci_low", "ci_high"]


def view(truth: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """The CRM's export as it stood at local time `cut`."""
    opened = pd.to_datetime(truth["Logged"], format=FMT, errors="coerce")
    out = truth[(opened <= cut) | opened.isna()].copy()
    for col in ("First Reply", "Closed On"):
        when = pd.to_datetime(out[col].where(out[col] != ""), format=FMT, errors="coerce")
        out.loc[when > cut, col] = ""
    still_open = (out["Closed On"] == "") & (truth.loc[out.index, "Closed On"] != "")
    out.loc[still_open, ["Status", "Result"]] = ["OPEN", ""]
    return out


def edit(truth: pd.DataFrame, cut: pd.Timestamp, rng: np.random.Generator, k: int) -> None:
    """Edits a CRM makes to cases opened before `cut`, in place."""
    opened = pd.to_datetime(truth["Logged"], format=FMT, errors="coerce")
    old = truth.index[(opened < cut - pd.Timedelta(days=3)) & (opened > opened.min() + pd.Timedelta(days=60))]
    pick = rng.choice(old, size=k, replace=False)
    districts = truth["District"].unique()
    types = truth["Case Type"].unique()
    closed_on = pd.to_datetime(truth["Closed On"].where(truth["Closed On"] != ""), format=FMT, errors="coerce")
    for i, row in enumerate(pick):
        kind = i % 7
        same = (truth["Case Type"] == truth.loc[row, "Case Type"]) & (truth["Customer Ref"] != "")
        if kind == 0:  # region corrected
            truth.loc[row, "District"] = rng.choice(districts)
        elif kind == 1:  # service corrected
            truth.loc[row, "Case Type"] = rng.choice(types)
        elif kind == 2:  # reopened: open again
            truth.loc[row, ["Closed On", "Status", "Result"]] = ["", "OPEN", ""]
        elif kind == 3:  # an old open case closed today
            truth.loc[row, ["Closed On", "Status", "Result"]] = [cut.strftime(FMT), "CLOSED", "RESOLVED"]
        elif kind == 4:  # the citizen keyed late: a later case of theirs becomes a repeat contact
            gap = opened - opened[row]
            later = truth.index[same & (gap > pd.Timedelta(days=1)) & (gap < pd.Timedelta(days=25))]
            if len(later):
                truth.loc[row, "Customer Ref"] = truth.loc[rng.choice(later), "Customer Ref"]
        elif kind == 6:  # keyed late: an earlier case of theirs now "came back within 7 days"
            since = opened[row] - closed_on
            earlier = truth.index[same & (since > pd.Timedelta(hours=1)) & (since < pd.Timedelta(days=6))]
            if len(earlier):
                truth.loc[row, "Customer Ref"] = truth.loc[rng.choice(earlier), "Customer Ref"]
        else:  # opening date corrected, a few days earlier
            when = opened[row] - pd.Timedelta(days=int(rng.integers(1, 20)))
            truth.loc[row, "Logged"] = when.strftime(FMT)
            closed = truth.loc[row, "Closed On"]
            if closed and pd.to_datetime(closed, format=FMT) < when:
                truth.loc[row, "Closed On"] = ""


def stored_cells(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        df = pd.read_sql(select(MetricCell.__table__), conn)
    return _tidy(df)


def full_cells(settings, engine: Engine) -> pd.DataFrame:
    data = load_case_data(settings, engine)
    rows = to_rows(compute_cells(data, list(CATALOGUE.values())), data.as_of.to_pydatetime(), 0)
    return _tidy(pd.DataFrame(rows))


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    df = df[KEY + FIGURES + ["note"]].copy()
    df["period"] = pd.to_datetime(df["period"])
    df[FIGURES] = df[FIGURES].astype(float)
    df["note"] = df["note"].fillna("")
    return df.sort_values(KEY).reset_index(drop=True)


def assert_same(got: pd.DataFrame, want: pd.DataFrame, step: str) -> None:
    merged = got.merge(want, on=KEY, how="outer", suffixes=("", "_full"), indicator=True)
    only = merged[merged["_merge"] != "both"]
    assert only.empty, (
        f"{step}: cells in one refresh only:\n{only[[*KEY, '_merge', 'value_full', 'n_full']].head(20).to_string()}"
    )
    bad = pd.Series(False, index=merged.index)
    for col in FIGURES:
        a, b = merged[col].to_numpy(), merged[f"{col}_full"].to_numpy()
        bad |= ~(np.isclose(a, b, rtol=1e-9, atol=1e-12) | (np.isnan(a) & np.isnan(b)))
    bad |= merged["note"] != merged["note_full"]
    cols = KEY + [c for f in [*FIGURES, "note"] for c in (f, f"{f}_full")]
    assert not bad.any(), f"{step}: {int(bad.sum())} cells differ:\n{merged.loc[bad, cols].head(10).T}"


@pytest.fixture
def feed(tmp_path: Path, store_url: str):
    demo = write_demo_data(tmp_path / "demo", cases=3000, seed=7)
    settings = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    settings["store"]["url"] = store_url
    for src in settings["etl"]["sources"].values():
        src["path"] = str(tmp_path / "demo" / Path(src["path"]).name)
    settings["etl"]["sources"]["cases"]["path"] = str(tmp_path / "feed")
    settings["metrics"]["combinations"] = [["region", "age_band"]]
    (tmp_path / "feed").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    s = load_settings(config)
    engine = engine_for(s)
    upgrade(engine)
    truth = pd.read_csv(demo["cases"], dtype=str, keep_default_na=False)
    yield s, engine, truth, tmp_path / "feed"
    engine.dispose()


def test_incremental_refresh_equals_full_refresh_day_after_day(feed) -> None:
    settings, engine, truth, folder = feed
    rng = np.random.default_rng(3)
    end = pd.to_datetime(truth["Logged"], format=FMT, errors="coerce").max().normalize()
    # The history, then nightly exports: next day, next day, across a month's end, a long gap.
    cuts = [end - pd.Timedelta(days=d) for d in (70, 69, 40, 2)] + [end + pd.Timedelta(hours=23)]
    before = view(truth, cuts[0])
    before.to_csv(folder / "0.csv", index=False)
    run_jobs(settings, engine, None)
    first = refresh(settings, engine)
    assert first.mode == "full" and first.reason == "no earlier refresh"
    modes = []
    for i, cut in enumerate(cuts[1:], start=1):
        edit(truth, cut, rng, k=14)
        now = view(truth, cut)
        prev = before.set_index("Ref No").reindex(now["Ref No"])
        changed = (prev.fillna("\0").to_numpy() != now.set_index("Ref No").to_numpy()).any(axis=1)
        now[changed].to_csv(folder / f"{i}.csv", index=False)
        run_jobs(settings, engine, ["cases"])
        with engine.connect() as conn:
            listed = len(conn.execute(select(CaseChange.id)).all())
        assert listed >= int(changed.sum()) - 10  # a few rows are quarantined (bad dates)
        r = refresh(settings, engine)
        modes.append((r.mode, r.periods))
        assert_same(stored_cells(engine), full_cells(settings, engine), f"export {i} ({cut:%Y-%m-%d})")
        with engine.connect() as conn:
            assert conn.execute(select(CaseChange.id)).first() is None, "the refresh took in every listed change"
        before = now
    assert all(mode == "incremental" for mode, _ in modes), modes


def test_a_day_recomputes_only_what_it_touched_and_the_rest_waits_for_a_full_refresh(feed) -> None:
    settings, engine, truth, folder = feed
    end = pd.to_datetime(truth["Logged"], format=FMT, errors="coerce").max().normalize()
    before = view(truth, end - pd.Timedelta(days=30))
    before.to_csv(folder / "0.csv", index=False)
    run_jobs(settings, engine, None)
    first = refresh(settings, engine)
    now = view(truth, end - pd.Timedelta(days=27))
    prev = before.set_index("Ref No").reindex(now["Ref No"])
    changed = (prev.fillna("\0").to_numpy() != now.set_index("Ref No").to_numpy()).any(axis=1)
    assert 5 < changed.sum() < 500
    now[changed].to_csv(folder / "1.csv", index=False)
    run_jobs(settings, engine, ["cases"])
    day = refresh(settings, engine)
    assert (day.mode, day.reason) == ("incremental", None)
    with engine.connect() as conn:
        cells = pd.read_sql(select(MetricCell.refresh_run_id, MetricCell.period, MetricCell.grain), conn)
        run = conn.execute(select(RefreshRun.__table__).where(RefreshRun.id == day.run_id)).one()
    assert (run.mode, run.periods) == ("incremental", day.periods)
    months = cells.loc[cells["grain"] == "month", "period"].nunique()
    # The day touched this month and the cohorts of the cases it changed, not the history.
    assert 0 < day.periods < months
    kept = cells[cells["refresh_run_id"] == first.run_id]
    assert len(kept) > len(cells) / 2, "most figures were kept from the first refresh"
    assert pd.to_datetime(kept["period"]).min() < end - pd.Timedelta(days=700)

    # A revised population table changes rates in every period: only a full refresh will do.
    population = Path(settings.etl.sources["population"].path)
    table = pd.read_csv(population, dtype=str, keep_default_na=False)
    table.loc[0, "Residents"] = str(int(table.loc[0, "Residents"]) + 1000)
    table.to_csv(population, index=False)
    run_jobs(settings, engine, ["population"])
    revised = refresh(settings, engine)
    assert revised.mode == "full" and "reference tables" in (revised.reason or "")
    assert_same(stored_cells(engine), full_cells(settings, engine), "after the revised population")
    asked = refresh(settings, engine, full=True)
    assert (asked.mode, asked.reason) == ("full", "asked for")
    again = refresh(settings, engine)  # nothing changed since: nothing to recompute but the current period
    assert again.mode == "incremental"
    assert_same(stored_cells(engine), full_cells(settings, engine), "after an empty increment")


def test_every_setting_is_classed_as_shaping_the_figures_or_not() -> None:
    """A setting that changes figures must force a full refresh when it changes; a new
    setting has to be put on one side or the other here."""
    from metrics.config import Settings
    from metrics.incremental import FIGURE_SETTINGS

    elsewhere = {"store", "etl", "worker", "dashboard", "reports", "auth", "targets", "annotations", "base_dir"}
    assert set(Settings.model_fields) == set(FIGURE_SETTINGS) | elsewhere
