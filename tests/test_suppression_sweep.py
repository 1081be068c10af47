"""Small-number suppression holds in every output: every export, every page callback, the CSV
downloads and the briefing (METRICS.md, "Small numbers"; docs/security.md, "Suppression").

One demo store is built by the real CLI from few cases (600) and the combined slices
`[region, age_band]`, so most of its cells rest on fewer than `privacy.min_cell_size` cases:
the first test checks that the raw store does hold them, without which nothing below could
fail.

- Exports: every table the store holds (every indicator of the catalogue, every breakdown and
  combination, every `--across`, every grain) is exported as `metrics export` does it, and
  each record is checked against the raw cell read straight from `metric_cells`: a cell
  resting on fewer than `min_cell_size` cases is suppressed, a published record has n at or
  above it, a suppressed one carries no number at all (value, n, numerator, denominator,
  interval, comparison with the reference group) nor a note with one.
- Secondary suppression is attacked, written here without metrics.suppression: the relations
  an outsider can know between published counts (a table's categories add up to its total,
  combined slices to each margin, services to their department, months to quarters and years,
  cases with and without a handoff to all cases, indicators resting on the same cases publish
  the same n, a stock at a quarter's end is the stock of its last month, an index across
  categories rests on the categories it used) are found in the raw data, and every published n
  is pushed through them until nothing more follows. No cell resting on fewer than
  `min_cell_size` cases may come out. The same attack on primary suppression alone recovers
  many (so it can find what it looks for).
- Pages, CSV downloads and the briefing read a copy of the store in which every hidden cell
  carries a marker value (987654.321 for a small cell, 876543.219 for one hidden by secondary
  suppression) and half the published cells another (765432.1): every page's content
  callbacks are called through Dash's endpoint for every grain, region, population group,
  channel and service, every CSV link they carry is downloaded, and the briefing is built for
  the newest month; the hidden markers never appear, the published one does.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine, select, update

from metrics import query
from metrics.catalogue import CATALOGUE
from metrics.config import AuthSettings, Settings, load_settings
from metrics.store.db import engine_for, make_engine
from metrics.store.models import Case, MetricCell
from tests.support import demo_config, run

CASES = 600
NUMBERS = ["value", "n", "numerator", "denominator", "ci_low", "ci_high"]
KEY = ["metric", "grain", "period", "dims_key", "across"]


@dataclass(frozen=True)
class Store:
    config: Path
    settings: Settings
    engine: Engine
    raw: pd.DataFrame  # every current cell as stored, unsuppressed, with its row id

    @property
    def min_cell_size(self) -> int:
        return self.settings.privacy.min_cell_size


def read_raw(engine: Engine) -> pd.DataFrame:
    t = MetricCell.__table__
    cols = ["id", "metric", "definition_version", "grain", "period", "dim_names", *KEY[3:], *NUMBERS,
            "suppressed", "note"]  # fmt: skip
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(select(*(t.c[c] for c in cols))).all(), columns=cols)
    df = df[[CATALOGUE[m].version == v if m in CATALOGUE else False
             for m, v in zip(df["metric"], df["definition_version"], strict=True)]]  # fmt: skip
    df["period"] = pd.to_datetime(df["period"]).dt.date
    df["across"] = df["across"].fillna("")
    return df.astype({c: float for c in NUMBERS}).reset_index(drop=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("suppression-sweep")
    config = demo_config(folder)
    raw_settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw_settings["metrics"]["combinations"] = [["region", "age_band"]]
    config.write_text(yaml.safe_dump(raw_settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    run(config, "demo-data", "--out", str(folder / "demo"), "--cases", str(CASES))
    run(config, "init")
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    settings = load_settings(config).model_copy(update={"auth": AuthSettings(required=False)})
    engine = engine_for(settings)
    yield Store(config, settings, engine, read_raw(engine))
    engine.dispose()


def dims_key(dims: dict[str, str]) -> str:
    return "|".join(f"{k}={v}" for k, v in sorted(dims.items()))


def all_records(engine: Engine, settings: Settings) -> list[dict[str, Any]]:
    """Every record of every table, as `metrics export` gives them (one function makes both)."""
    references = {name: g.reference for name, g in settings.groups.items()}
    out = []
    for metric, grain, by, across in query.tables(engine):
        records = query.export_records(engine, metric, by, grain, min_cell_size=settings.privacy.min_cell_size,
                                       across=across or None, references=references)  # fmt: skip
        out += [{**r, "_table": (metric, grain, by, across)} for r in records]
    return out


@pytest.fixture(scope="module")
def exports(store: Store) -> pd.DataFrame:
    return export_frame(store)


def export_frame(store: Store) -> pd.DataFrame:
    """Every exported record beside the raw cell it comes from."""
    records = all_records(store.engine, store.settings)
    df = pd.DataFrame(records)
    df["period"] = pd.to_datetime(df["period"]).dt.date
    df["dims_key"] = df["dims"].map(dims_key)
    df["across"] = df["across"].fillna("") if "across" in df else ""
    raw = store.raw.rename(columns={c: f"raw_{c}" for c in [*NUMBERS, "suppressed", "note"]})
    merged = df.merge(raw, on=KEY, how="outer", indicator=True, validate="one_to_one")
    return merged


# --- the control: there are small cells to suppress ----------------------------------------


def test_the_store_holds_small_cells(store: Store):
    raw, mcs = store.raw, store.min_cell_size
    small = raw[(raw["n"] < mcs) & raw["value"].notna()]
    assert len(small) > 10_000, len(small)
    assert set(small["grain"]) == {"week", "month", "quarter", "year"}
    assert small["metric"].nunique() >= 20, sorted(small["metric"].unique())
    assert (small["dim_names"] == "age_band,region").sum() > 1000  # the combined slices
    # ...and large ones, published beside them.
    assert ((raw["n"] >= mcs) & raw["value"].notna()).sum() > 5_000
    assert not raw["suppressed"].fillna(False).astype(bool).any()  # the store keeps every cell as computed


# --- exports ----------------------------------------------------------------------------------


def test_every_indicator_and_breakdown_is_exported(store: Store, exports: pd.DataFrame):
    """The sweep covers every cell: every raw cell comes out as exactly one record."""
    assert (exports["_merge"] == "both").all(), exports.loc[exports["_merge"] != "both", KEY].head()
    tables = query.tables(store.engine)
    metrics = {t[0] for t in tables}
    assert metrics == set(CATALOGUE), sorted(set(CATALOGUE) - metrics)
    assert {t[1] for t in tables} == {"week", "month", "quarter", "year"}
    assert any(t[2] == ("age_band", "region") and not t[3] for t in tables)
    assert any(t[2] == ("region",) and t[3] == "age_band" for t in tables)  # across age bands within regions
    assert {t[3] for t in tables} >= {"", "region", "age_band", "service"}


def test_every_export_record_keeps_the_rule(store: Store, exports: pd.DataFrame):
    mcs = store.min_cell_size
    df = exports
    sup = df["suppressed"].astype(bool)
    # Primary, from the raw cell: fewer than min_cell_size cases is never published.
    small = df["raw_n"] < mcs
    assert sup[small].all(), df.loc[small & ~sup, [*KEY, "raw_n"]].head()
    # A published record rests on min_cell_size cases or more, and carries the raw figures.
    pub = df[~sup]
    assert (pub["n"].isna() | (pub["n"] >= mcs)).all()
    # Without an n: no count at all, and a value only as a publisher's rate (uptake tables
    # that give rates, no counts).
    no_n = pub[pub["n"].isna()]
    assert no_n[["numerator", "denominator"]].isna().all().all(), no_n.loc[
        no_n[["numerator", "denominator"]].notna().any(axis=1), [*KEY, "numerator", "note"]].head()  # fmt: skip
    valued = no_n[no_n[["value", "ci_low", "ci_high"]].notna().any(axis=1)]
    assert valued["note"].fillna("").str.startswith("published rate").all(), valued[[*KEY, "note"]].head()
    for c in NUMBERS:
        a, b = pub[c].astype(float).to_numpy(), pub[f"raw_{c}"].to_numpy()
        same = (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=1e-12, atol=0)
        assert same.all(), (c, pub.loc[~same, [*KEY, c, f"raw_{c}"]].head())
    # A suppressed record carries no number at all, nor a comparison, nor a number in its note.
    hid = df[sup]
    assert len(hid) > 10_000
    assert hid[NUMBERS].isna().all().all(), hid.loc[hid[NUMBERS].notna().any(axis=1), KEY].head()
    if "vs_reference" in hid:
        for ref in hid["vs_reference"].dropna():
            assert ref["ratio"] is None and ref["difference"] is None, ref
            assert ref["ratio_ci"] == [None, None] and ref["difference_ci"] == [None, None], ref
    notes = hid["note"].fillna("")
    assert notes.str.contains("suppressed").all()
    # The notes' own numbers are the definitions' (12 months of cases, 90% resolved), not data.
    residue = notes.str.replace(rf"fewer than ({mcs} cases|12 months|90%)", "", regex=True)
    assert not residue.str.contains(r"\d").any(), sorted(set(notes[residue.str.contains(r"\d")]))[:5]


def test_the_command_line_exports_the_same_records(store: Store, exports: pd.DataFrame):
    """`civic-metrics metrics export` prints what the sweep checked (json and csv)."""
    mcs, shown_hidden = store.min_cell_size, []
    for args in (["--metric", "on_time_rate", "--by", "region", "--by", "age_band", "--grain", "quarter"],
                 ["--metric", "coverage_gini", "--across", "age_band", "--by", "region", "--grain", "year"],
                 ["--metric", "cases_opened", "--by", "service", "--grain", "week"]):  # fmt: skip
        printed = json.loads(run(store.config, "metrics", "export", *args).output)
        hidden = [r for r in printed if r["suppressed"]]
        assert all(r[c] is None for r in hidden for c in NUMBERS)
        shown_hidden.append(len(hidden))
        assert all(r["n"] is None or r["n"] >= mcs for r in printed if not r["suppressed"])
        metric, grain = args[1], args[-1]
        by = ",".join(sorted(args[i + 1] for i, a in enumerate(args) if a == "--by"))
        across = args[args.index("--across") + 1] if "--across" in args else ""
        mine = exports[(exports["metric"] == metric) & (exports["grain"] == grain)
                       & (exports["dim_names"] == by) & (exports["across"] == across)]  # fmt: skip
        assert len(printed) == len(mine)
        assert sorted(str(r["n"]) for r in printed) == sorted(str(None if pd.isna(x) else int(x)) for x in mine["n"])
        csv = run(store.config, "metrics", "export", *args, "--format", "csv").output.splitlines()
        assert len(csv) == len(printed) + 1
    assert sum(shown_hidden) > 100


# --- secondary suppression: what an outsider can work out ---------------------------------------


class Relations:
    """Sets of cells (rows of the raw frame) tied by `total = sum of parts` or `a = b`. A
    relation is only kept where it holds exactly in the raw data, so whatever follows from one
    is the true figure; and only in families of relations that hold (nearly) always, since an
    outsider could not rely on one that holds by chance."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.raw = raw
        self.n = raw["n"].to_numpy(dtype=float)
        self.keys = pd.MultiIndex.from_frame(raw[KEY])
        self.members: list[tuple[np.ndarray, np.ndarray]] = []  # (relation id, row)
        self.kind_of: list[np.ndarray] = []  # per relation id
        self.count = 0
        self.kinds: dict[str, int] = {}

    def find(self, metric: Any, grain: Any, period: Any, key: Any, across: Any) -> np.ndarray:
        """Rows of the cells named (arrays or scalars broadcast), -1 where the store has none."""
        arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=object))
                                       for x in (metric, grain, period, key, across)))  # fmt: skip
        if not arrays[0].size:
            return np.zeros(0, dtype=np.int64)
        return self.keys.get_indexer(pd.MultiIndex.from_arrays(list(arrays)))

    def _add(self, kind: str, rel_members: list[tuple[np.ndarray, np.ndarray]], count: int) -> None:
        self.members += [(rel + self.count, row) for rel, row in rel_members]
        self.kind_of.append(np.full(count, kind, dtype=object))
        self.count += count
        self.kinds[kind] = self.kinds.get(kind, 0) + count

    def sums(self, kind: str, family: Any, total: np.ndarray, part: np.ndarray) -> None:
        """Parts with their totals (rows; -1 where the total is not in the store)."""
        family = np.broadcast_to(np.asarray(family, dtype=object), total.shape)
        ok = total >= 0
        f = pd.DataFrame({"family": family[ok], "total": total[ok], "part": part[ok]})
        if f.empty:
            return
        f["n"] = self.n[f["part"].to_numpy()]
        f["nan"] = f["n"].isna()
        g = f.groupby(["family", "total"], sort=False).agg(s=("n", "sum"), nan=("nan", "any")).reset_index()
        tn = self.n[g["total"].to_numpy()]
        g["exact"] = ~g["nan"].to_numpy() & ~np.isnan(tn) & np.isclose(g["s"].to_numpy(), tn)
        # How often the family holds, among its instances whose n are all known.
        g["held"] = np.where(g["nan"] | np.isnan(tn), np.nan, g["exact"].astype(float))
        reliable = g.groupby("family")["held"].transform("mean") >= 0.9
        g = g[g["exact"] & reliable].reset_index(drop=True)
        g["rel"] = np.arange(len(g))
        f = f.merge(g[["family", "total", "rel"]], on=["family", "total"])
        self._add(kind, [(f["rel"].to_numpy(), f["part"].to_numpy()), (g["rel"].to_numpy(), g["total"].to_numpy())],
                  len(g))  # fmt: skip

    def equal(self, kind: str, family: Any, a: np.ndarray, b: np.ndarray) -> None:
        """Pairs of rows with the same n, kept by family only where every pair agrees."""
        family = np.broadcast_to(np.asarray(family, dtype=object), a.shape)
        ok = (a >= 0) & (b >= 0)
        family, a, b = family[ok], a[ok], b[ok]
        na, nb = self.n[a], self.n[b]
        known = ~np.isnan(na) & ~np.isnan(nb)
        f = pd.DataFrame({"family": family[known], "same": na[known] == nb[known]})
        stats = f.groupby("family")["same"].agg(["all", "size"])
        good = stats.index[stats["all"] & (stats["size"] >= 20)]
        keep = pd.Series(family).isin(good).to_numpy() & known
        rel = np.arange(int(keep.sum()))
        self._add(kind, [(rel, a[keep]), (rel, b[keep])], len(rel))

    def recover(self, known: np.ndarray) -> np.ndarray:
        """Every row whose n follows from the known ones: while a relation has exactly one
        unknown member, that member is known (it is the total less the parts, or the sum)."""
        return self.trace(known)[0]

    def trace(self, known: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[int, str]]]:
        """`recover`, with the round and the kind of relation that gave each row away."""
        rel = np.concatenate([m[0] for m in self.members])
        row = np.concatenate([m[1] for m in self.members])
        kind = np.concatenate(self.kind_of)
        known, how, step = known.copy(), {}, 0
        while True:
            unknown = ~known[row]
            lonely = np.bincount(rel, weights=unknown, minlength=self.count) == 1
            sel = lonely[rel] & unknown
            if not sel.any():
                return known, how
            for r, i in zip(rel[sel], row[sel], strict=True):
                how.setdefault(int(i), (step, str(kind[r])))
            known[row[sel]] = True
            step += 1


def relations(store: Store) -> Relations:
    raw = store.raw
    r = Relations(raw)
    metric, grain, period, across = (raw[c].to_numpy(dtype=object) for c in ("metric", "grain", "period", "across"))
    keys = raw["dims_key"].to_numpy(dtype=object)
    parts_of = [query.parse_dims(k) for k in keys]
    # Categories add up to the table without that dimension; a dimension an indicator has no
    # table without (backlog_age's bands, rating_share's ratings, the curve's days) is tried
    # against every indicator's cells of the slice without it, as a sum and as the same n.
    lat = pd.DataFrame([(i, d, dims_key({k: v for k, v in dims.items() if k != d}),
                         ",".join(sorted(k for k in dims if k != d)))
                        for i, dims in enumerate(parts_of) for d in dims],
                       columns=["row", "dim", "parent", "names"])  # fmt: skip
    rows = lat["row"].to_numpy()
    own = pd.MultiIndex.from_arrays([raw["metric"], raw["grain"], raw["dim_names"]]).unique()
    has_own = own.get_indexer(pd.MultiIndex.from_arrays([metric[rows], grain[rows], lat["names"]])) >= 0
    mine = lat[has_own]
    rm = mine["row"].to_numpy()
    r.sums(
        "categories",
        pd.Series(metric[rm]) + ":" + grain[rm] + ":" + mine["dim"].to_numpy() + ":" + across[rm],
        r.find(metric[rm], grain[rm], period[rm], mine["parent"], across[rm]),
        rm,
    )
    orphan = lat[~has_own]
    ro = orphan["row"].to_numpy()
    plain = raw[["metric", "grain", "period", "dims_key", "across"]].assign(total=np.arange(len(raw)))
    cand = orphan.assign(grain=grain[ro], period=period[ro], across=across[ro], child=metric[ro]).merge(
        plain.rename(columns={"dims_key": "parent"}), on=["grain", "period", "parent", "across"]
    )
    fam = (cand["child"] + ":" + cand["dim"] + ":" + cand["metric"] + ":" + cand["grain"]).to_numpy()
    r.sums("orphan-sum", fam, cand["total"].to_numpy(), cand["row"].to_numpy())
    r.equal("orphan-same", fam, cand["total"].to_numpy(), cand["row"].to_numpy())
    # Services add up to their department (each service whose cases are all of one department).
    with store.engine.connect() as conn:
        pairs = conn.execute(select(Case.service, Case.department).distinct()).all()
    depts: dict[str, set[str]] = {}
    for svc, dept in pairs:
        depts.setdefault(svc, set()).add(dept)
    nest = [
        (i, dims_key({**{k: v for k, v in dims.items() if k != "service"}, "department": next(iter(depts[s]))}))
        for i, dims in enumerate(parts_of)
        if (s := dims.get("service")) is not None and "department" not in dims and len(depts.get(s, ())) == 1
    ]
    rn = np.array([i for i, _ in nest], dtype=np.int64)
    r.sums(
        "services-in-department",
        pd.Series(metric[rn]) + ":" + grain[rn] + ":" + across[rn],
        r.find(metric[rn], grain[rn], period[rn], [k for _, k in nest], across[rn]),
        rn,
    )
    # Months add up to quarters and years, quarters to years (for what adds up over time);
    # a stock at the end of a quarter or year is the stock of its last month or quarter.
    ts = pd.to_datetime(raw["period"])
    month = ts.dt.month.to_numpy()
    starts = {"quarter": ts.dt.to_period("Q").dt.start_time.dt.date.to_numpy(dtype=object),
              "year": ts.dt.to_period("Y").dt.start_time.dt.date.to_numpy(dtype=object)}  # fmt: skip
    for fine, coarse in (("month", "quarter"), ("month", "year"), ("quarter", "year")):
        sel = np.flatnonzero(grain == fine)
        total = r.find(metric[sel], coarse, starts[coarse][sel], keys[sel], across[sel])
        r.sums("over-time", pd.Series(metric[sel]) + f":{fine}>{coarse}", total, sel)
        last = (month[sel] % 3 == 0) if coarse == "quarter" else (month[sel] >= (12 if fine == "month" else 10))
        r.equal("stock-at-end", pd.Series(metric[sel][last]) + f":{fine}>{coarse}", total[last], sel[last])
    # Indicators resting on the same cases publish the same n (found in the data, pair by pair).
    flat = raw[raw["across"] == ""].assign(row=lambda f: f.index.to_numpy())
    wide = flat.pivot_table(index=["grain", "period", "dims_key"], columns="metric", values="n", aggfunc="first")
    rows_of = flat.pivot_table(index=["grain", "period", "dims_key"], columns="metric", values="row", aggfunc="first")
    names = list(wide.columns)
    for i_a, a in enumerate(names):
        for b in names[i_a + 1 :]:
            both = wide[a].notna() & wide[b].notna()
            if both.sum() < 20 or not (wide.loc[both, a] == wide.loc[both, b]).all():
                continue
            sel = rows_of[a].notna() & rows_of[b].notna()
            ra, rb = rows_of.loc[sel, a].to_numpy(dtype=np.int64), rows_of.loc[sel, b].to_numpy(dtype=np.int64)
            r.equal("same-cases", f"same:{a}:{b}", ra, rb)
    # Cases with and without a handoff are all the cases (METRICS.md, joined-up government).
    sel = np.flatnonzero(np.isin(metric, ["handoff_resolution_days_median", "direct_resolution_days_median"]))
    r.sums("handoff-identity", "identity", r.find("cases_opened", grain[sel], period[sel], keys[sel], ""), sel)
    # An index across categories rests on the categories with a value and enough cases; with
    # those left out it makes the whole.
    mcs = store.min_cell_size
    value = raw["value"].to_numpy(dtype=float)
    tables: dict[tuple[Any, ...], list[int]] = {}
    for j, t in enumerate(zip(metric, grain, period, raw["dim_names"], across, strict=True)):
        tables.setdefault(t, []).append(j)
    across_rows = np.flatnonzero(across != "")
    required = np.array([CATALOGUE[m].requires[0] for m in metric[across_rows]], dtype=object)
    wholes = r.find(required, grain[across_rows], period[across_rows], keys[across_rows], "")
    used_rows, used_total, rest_rows, rest_total, rest_family = [], [], [], [], []
    for i, req, whole in zip(across_rows, required, wholes, strict=True):
        base = parts_of[i]
        table = (req, grain[i], period[i], ",".join(sorted([*base, across[i]])), "")
        cats = [j for j in tables.get(table, []) if all(parts_of[j].get(k) == v for k, v in base.items())]
        used = [j for j in cats if r.n[j] >= mcs and not np.isnan(value[j])]
        used_rows += used
        used_total += [i] * len(used)
        rest = [i, *(j for j in cats if j not in used)]
        rest_rows += rest
        rest_total += [whole] * len(rest)
        rest_family += [f"rest:{metric[i]}:{across[i]}"] * len(rest)  # one relation per index and whole
    r.sums("across-used", "used", np.array(used_total, dtype=np.int64), np.array(used_rows, dtype=np.int64))
    r.sums(
        "across-rest",
        np.array(rest_family, dtype=object),
        np.array(rest_total, dtype=np.int64),
        np.array(rest_rows, dtype=np.int64),
    )
    return r


@pytest.fixture(scope="module")
def attack(store: Store) -> Relations:
    return relations(store)


def test_no_suppressed_count_can_be_recovered(store: Store, exports: pd.DataFrame, attack: Relations):
    """Pushing every published n through every relation recovers no small count."""
    raw, mcs = store.raw, store.min_cell_size
    published = exports.set_index(KEY)
    shown = ~published["suppressed"].astype(bool) & published["n"].notna()
    known = shown.reindex(pd.MultiIndex.from_frame(raw[KEY])).fillna(False).to_numpy(dtype=bool)
    assert known.sum() > 5_000
    recovered, how = attack.trace(known)
    small = recovered & ~known & (raw["n"].to_numpy(dtype=float) < mcs)
    found = raw.loc[small, [*KEY, "n"]].assign(how=[how[i] for i in np.flatnonzero(small)])
    assert not small.any(), found.head(20).to_string()
    assert set(attack.kinds) >= {"categories", "over-time", "same-cases", "stock-at-end", "services-in-department"}


def test_the_attack_recovers_what_primary_suppression_alone_leaves(store: Store, attack: Relations):
    """The control: with only the cells under the threshold hidden, the attack recovers many
    of them, through every kind of relation it knows."""
    raw, mcs = store.raw, store.min_cell_size
    n = raw["n"].to_numpy(dtype=float)
    known = n >= mcs
    recovered = attack.recover(known) & ~known & (n < mcs)
    assert recovered.sum() > 1000, recovered.sum()
    assert raw.loc[recovered, "metric"].nunique() >= 15


# --- pages, CSV downloads and the briefing: marker values ------------------------------------

SMALL, SECOND, SHOWN = 987654.321, 876543.219, 765432.1
# Each marker as the outputs may write it: raw in figures and grids, grouped in text, and a
# hundred times larger as a percentage.
MARKS = {
    "small": ("987654", "987,654", "98765432", "98,765,43"),
    "second": ("876543", "876,543", "87654321", "87,654,32"),
    "shown": ("765432", "765,432", "76543210", "76,543,21"),
}


def marks_in(text: str) -> set[str]:
    return {name for name, forms in MARKS.items() if any(f in text for f in forms)}


@dataclass(frozen=True)
class Marked:
    settings: Settings
    engine: Engine


@pytest.fixture(scope="module")
def marked(store: Store, exports: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Marked]:
    """A copy of the store in which every cell the export hides carries a marker in each of its
    numbers (its n stays, so the same cells are hidden) and every other published cell with a
    value carries another in its value."""
    path = tmp_path_factory.mktemp("suppression-marked") / "store.db"
    with sqlite3.connect(store.engine.url.database) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    engine = make_engine(f"sqlite:///{path}")
    hidden = exports["suppressed"].astype(bool)
    small = hidden & ((exports["raw_n"] < store.min_cell_size) | exports["raw_n"].isna())
    groups = {SMALL: exports.loc[small, "id"], SECOND: exports.loc[hidden & ~small, "id"]}
    shown = exports.loc[~hidden & exports["value"].notna() & (exports["id"] % 2 == 0), "id"]
    assert len(groups[SMALL]) > 10_000 and len(groups[SECOND]) > 100 and len(shown) > 1000
    t = MetricCell.__table__
    with engine.begin() as conn:
        for marker, ids in groups.items():
            ids = [int(i) for i in ids]
            for start in range(0, len(ids), 5000):
                chunk = t.c.id.in_(ids[start : start + 5000])
                for col in ("value", *NUMBERS[2:]):  # a figure stays a figure: null stays null
                    conn.execute(update(t).where(chunk, t.c[col].isnot(None)).values({col: marker}))
        ids = [int(i) for i in shown]
        for start in range(0, len(ids), 5000):
            conn.execute(update(t).where(t.c.id.in_(ids[start:start + 5000]))
                         .values(value=SHOWN, ci_low=None, ci_high=None))  # fmt: skip
    # The decision reads n, and which cells have a value: the same cells are hidden as before.
    for metric, grain, by, across in query.tables(engine)[::25]:
        before = query.read_cells(store.engine, metric, by, grain, min_cell_size=store.min_cell_size, across=across)
        after = query.read_cells(engine, metric, by, grain, min_cell_size=store.min_cell_size, across=across)
        assert before["suppressed"].tolist() == after["suppressed"].tolist(), (metric, grain, by, across)
    yield Marked(store.settings, engine)
    engine.dispose()


def views(settings: Settings) -> list[dict[str, str]]:
    """Filter values to ask every page for: every grain, region, group attribute and group,
    channel and service, and a few combinations (the combined region x age band slices)."""
    out: list[dict[str, str]] = [{"grain": g} for g in settings.metrics.grains]
    out += [{"region": r.id} for r in settings.regions]
    for attr, group in settings.groups.items():
        out += [{"group": attr}, *({"group": attr, "value": v} for v in group.values)]
    out += [{"channel": c} for c in settings.channels]
    out += [{"service": s} for s in settings.services]
    region = settings.regions[0].id
    out += [{"region": region, "group": "age_band", "value": v} for v in settings.groups["age_band"].values[:2]]
    out += [
        {"grain": "quarter", "region": region},
        {"grain": "year", "service": next(iter(settings.services))},
        {"grain": "week", "group": "age_band", "value": settings.groups["age_band"].values[0]},
    ]
    return out


@dataclass
class Swept:
    bodies: dict[tuple[str, str], str]  # (callback, what was asked) -> the answer
    failed: list[tuple[str, str, int]]
    links: set[str]


CSV_LINK = re.compile(r"/download/figures\.csv\?[^\"'\\\s<>]+")


@pytest.fixture(scope="module")
def swept(marked: Marked) -> Swept:
    from dashboard import downloads
    from dashboard.app import create_app
    from tests.dashboard.auth_support import call

    settings = marked.settings
    app = create_app(settings, marked.engine)
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    contents = [d for d in deps if d["output"].endswith("-content.children") or "drill-area" in d["output"]]
    assert len(contents) >= 8
    extra: dict[str, list[dict[str, str]]] = {
        "overview": [{"overview-control-indicator": m} for m in settings.dashboard.headline],
        "trends": [{"trends-control-indicator": m} for m in sorted(CATALOGUE)],
        "timely": [{"timely-control-by": d} for d in ("channel", "service", "department")],
        "kpi": [{"kpi-control-indicator": m, "kpi-control-drill": d}
                for m in settings.dashboard.headline for d in ("region", *settings.groups, "channel", "service")],
    }  # fmt: skip
    out = Swept({}, [], set())
    for dep in contents:
        page = dep["output"].strip(".").split("-")[0]
        asks = [{f"{page}-filter-{k}": v for k, v in view.items()} for view in views(settings)]
        asks += extra.get(page, [])
        if "drill-area" in dep["output"]:
            asks = extra["kpi"] + [{**a, "kpi-control-indicator": "on_time_rate"} for a in asks[::4]]
        for ask in asks:
            values = {f"{k}.value": v for k, v in ask.items()}
            values.setdefault(f"{page}-filter-grain.value", "month")
            answer = call(client, dep, values)
            label = json.dumps(ask, sort_keys=True)
            if answer.status_code not in (200, 204):
                out.failed.append((dep["output"], label, answer.status_code))
                continue
            body = answer.get_data(as_text=True)
            out.bodies[(dep["output"], label)] = body
            plain = body.replace("\\u002f", "/").replace("\\u0026", "&")
            out.links |= {m.replace("&amp;", "&") for m in CSV_LINK.findall(plain)}

    # Each table linked to, whole: the same figures for fewer periods or filtered to one slice
    # are rows of that export (`downloads.figures_csv`), and would add nothing but time.
    def table(link: str) -> str:
        return "&".join(p for p in link.split("?", 1)[1].split("&") if p.split("=")[0] in downloads.RESERVED[:3]
                        or p.startswith("across="))  # fmt: skip

    for link in sorted({downloads.PATH + "?" + table(link) for link in out.links}):
        answer = client.get(link)
        if answer.status_code != 200:
            out.failed.append(("csv", link, answer.status_code))
            continue
        out.bodies[("csv", link)] = answer.get_data(as_text=True)
    return out


def test_no_page_callback_shows_a_hidden_figure(swept: Swept):
    assert not swept.failed, swept.failed[:5]
    calls = {k: v for k, v in swept.bodies.items() if k[0] != "csv"}
    assert len(calls) > 400
    leaked = sorted((k, sorted(marks_in(b) - {"shown"})) for k, b in calls.items() if marks_in(b) - {"shown"})
    assert not leaked, leaked[:5]
    # The control: the published marker reaches every page, so the search finds what it seeks.
    shown = {k[0] for k, b in calls.items() if "shown" in marks_in(b)}
    assert shown == {k[0] for k in calls}, sorted({k[0] for k in calls} - shown)
    assert sum("shown" in marks_in(b) for b in calls.values()) > len(calls) / 3


def test_no_csv_download_shows_a_hidden_figure(swept: Swept):
    downloads = {k[1]: v for k, v in swept.bodies.items() if k[0] == "csv"}
    assert len(downloads) > 50, len(downloads)
    assert any("&region=" in link for link in swept.links)  # pages link to filtered slices...
    assert any("by=age_band&by=region" in link for link in downloads)  # ...and combined ones
    leaked = sorted(link for link, b in downloads.items() if marks_in(b) - {"shown"})
    assert not leaked, leaked[:5]
    assert sum("shown" in marks_in(b) for b in downloads.values()) > len(downloads) / 2
    # Suppressed rows say so, with no number (the column order of the export contract).
    rows = [line for b in downloads.values() for line in b.splitlines() if ",True," in line]
    assert rows and all("suppressed" in line for line in rows)


def test_the_briefing_shows_no_hidden_figure(marked: Marked, tmp_path: Path):
    from dashboard.briefing import content, render
    from dashboard.i18n import use

    period = max(query.periods(marked.engine, "month"))
    for lang in ("en", "zh"):
        with use(lang):
            briefing = content.build(marked.engine, marked.settings, period)
            document = render.html(briefing, images=[b""] * len(briefing.charts))
        figures = json.dumps([c.figure.to_dict() if hasattr(c.figure, "to_dict") else c.figure
                              for c in briefing.charts], default=str)  # fmt: skip
        text = document + figures
        assert marks_in(text) == {"shown"}, (lang, marks_in(text))
        if lang == "en" and shutil.which("pdftotext"):  # and as laid out on paper (charts left blank)
            pdf = tmp_path / "briefing.pdf"
            pdf.write_bytes(render.pdf(document).content)
            words = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
            assert marks_in(re.sub(r"\s+", "", words)) == {"shown"}
