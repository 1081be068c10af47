"""The whole pipeline timed at scale, beside a reference that does the same work in DuckDB.

Generates N demo cases over three years and splits off the last working day as it would
arrive the next morning (see bench/incremental.py). Then times, each as its own process
with its peak memory, as the worker would run them:

1. the full load of the history (`etl run` of the population, eligible and cases jobs);
2. the full metric refresh (`metrics refresh`);
3. the one-day delta load (`etl run --job cases` on the day's file);
4. the refresh after it (incremental: only the periods the day touched);
5. the reference pipeline: the same kinds of work straight in DuckDB on the same history
   file (read and validate the CSV, load it into a DuckDB file, monthly cells by region and
   each group attribute, repeat contacts with a window function, a Kaplan-Meier median per
   cell from day histograms in numpy). It is the yardstick of what the hardware allows.

    python bench/pipeline.py --cases 1000000 --workdir /tmp/civic-pipeline
    python bench/pipeline.py --cases 100000,1000000,10000000 --workdir /tmp/civic-scale
    python bench/pipeline.py --cases 1000000 --workdir /tmp/civic-pg \\
        --store-url postgresql+psycopg://civic@localhost/civic_bench
    python bench/pipeline.py reference --config DIR/config.yaml --csv DIR/history/cases.csv \\
        --db DIR/reference.duckdb      # the reference alone, as step 5 runs it

Prints a table of the steps and the ratio (full load + full refresh) / reference, and writes
the results as JSON (`--json`, default DIR/results.json). Several sizes (a comma list) run
in subfolders of DIR, and a log-log plot of seconds and peak memory against cases is
written (`--plot`, default DIR/scale.png). `docs/performance.md` keeps the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    StepFailed,
    bench_settings,
    refresh_summary,
    run_checked,
    split_last_day,
    timed,
    write_settings,
)

if TYPE_CHECKING:
    import duckdb

# The product steps the ratio is about, and those the plot draws.
FULL_LOAD, FULL_REFRESH = "full load (history)", "full refresh"
DELTA_LOAD, DELTA_REFRESH = "one-day delta load", "refresh after the delta"
REFERENCE = "reference pipeline (DuckDB)"
PLOTTED = (FULL_LOAD, FULL_REFRESH, DELTA_LOAD, DELTA_REFRESH, REFERENCE)
# The reference prints one such line per step for the parent to read.
STEP_MARK = "reference step"


@dataclass
class Step:
    step: str
    seconds: float
    peak_mb: float | None  # None: not a process of its own
    notes: str = ""


@dataclass
class Run:
    cases: int
    store: str
    workdir: str
    preparation: list[Step]  # in this process, before anything is timed as a process
    steps: list[Step]  # each a whole process, with its peak memory
    reference_steps: list[Step]  # the reference's own breakdown of its process
    ratio: float | None  # (full load + full refresh) / reference


# ==========================================================================================
# The reference: the same aggregations straight in DuckDB
# ==========================================================================================


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Source:
    """What the reference needs of config.yaml: the cases source's columns and value maps,
    the groups and the services, read straight from the YAML (not through the product's
    code, so the yardstick does not share its bugs)."""

    columns: dict[str, str]
    groups: dict[str, str]
    values: dict[str, dict[str, str]]
    not_stated: dict[str, str]
    group_values: dict[str, list[str]]
    deadlines: dict[str, int]
    departments: dict[str, str]
    channels: list[str]
    dimensions: list[str]
    regions: list[str] | None  # None: any region (the source is not strict about them)
    timezone: str
    datetime_format: str
    delimiter: str
    encoding: str

    @classmethod
    def from_config(cls, config: Path) -> Source:
        settings = yaml.safe_load(config.read_text(encoding="utf-8"))
        src = settings["etl"]["sources"]["cases"]
        groups = settings.get("groups", {})
        services = settings["services"]
        return cls(
            columns=src["columns"],
            groups=src.get("groups", {}),
            values=src.get("values", {}),
            not_stated={a: g.get("not_stated", "Not stated") for a, g in groups.items()},
            group_values={a: list(g["values"]) for a, g in groups.items()},
            deadlines={k: int(s["deadline_working_days"]) for k, s in services.items()},
            departments={k: s["department"] for k, s in services.items()},
            channels=list(settings.get("channels", [])),
            dimensions=list(settings.get("metrics", {}).get("dimensions", ["region", "channel", "service"])),
            regions=[r["id"] for r in settings.get("regions", [])] if src.get("strict_regions") else None,
            timezone=src.get("timezone") or settings["timezone"],
            datetime_format=src["datetime_format"],
            delimiter=src.get("delimiter", ","),
            encoding=src.get("encoding", "utf-8"),
        )

    @property
    def dims(self) -> list[str]:
        """The dimensions the product's refresh slices by: config.yaml metrics.dimensions
        and the group attributes."""
        return list(dict.fromkeys([*self.dimensions, *self.groups]))


def grouping_sets(src: Source) -> list[tuple[str, ...]]:
    """The cells: the whole population, each dimension alone (as the product's refresh
    computes them), and region x each group attribute. Names sorted, as the product's
    store keys a combined slice."""
    by_region = [tuple(sorted(("region", g))) for g in src.groups] if "region" in src.dims else []
    return [(), *((d,) for d in src.dims), *by_region]


def labelled(src: Source, inner: str, keys: Sequence[str], aggregates: Sequence[str]) -> str:
    """A GROUP BY GROUPING SETS over `inner` (a subquery) by `keys` (e.g. month) and each cell's
    dimensions, with each cell's `dims` ('' / 'region' / 'age_band,region') and `dim_value`
    ('North' / 'age_band=25-44|region=North') written as the product's store writes them."""
    dims = src.dims
    sets = grouping_sets(src)

    def gid(cell: tuple[str, ...]) -> int:
        # GROUPING_ID: one bit per argument, leftmost most significant, 1 where aggregated.
        return sum(1 << (len(dims) - 1 - i) for i, d in enumerate(dims) if d not in cell)

    def value(cell: tuple[str, ...]) -> str:
        if not cell:
            return "''"
        if len(cell) == 1:
            return ident(cell[0])
        return " || '|' || ".join(f"{lit(d + '=')} || {ident(d)}" for d in cell)

    key_cols = ", ".join(ident(k) for k in keys)
    dim_cols = ", ".join(ident(d) for d in dims)
    group_sets = ", ".join("(" + ", ".join([*map(ident, keys), *map(ident, cell)]) + ")" for cell in sets)
    dims_case = " ".join(f"WHEN {gid(c)} THEN {lit(','.join(c))}" for c in sets)
    value_case = " ".join(f"WHEN {gid(c)} THEN {value(c)}" for c in sets)
    return f"""
        SELECT CASE gid {dims_case} END AS dims, CASE gid {value_case} END AS dim_value, {key_cols}, * EXCLUDE (
            gid, {key_cols}, {dim_cols})
        FROM (
            SELECT GROUPING_ID({dim_cols}) AS gid, {key_cols}, {dim_cols}, {", ".join(aggregates)}
            FROM ({inner})
            GROUP BY GROUPING SETS ({group_sets})
        )"""


def mapped(src: Source, field: str, text: str) -> str:
    """The canonical value of a source value (NULL where the map has none: quarantined)."""
    mapping = src.values.get(field)
    if mapping is None:
        return text
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"CASE {text} {whens} END"


def staged_sql(src: Source, csv: Path) -> str:
    """The CSV read, each value parsed and mapped, and `ok`: whether the row keeps the rules
    the product's loader checks for this source (etl.mapping and etl.schema: readable dates,
    mapped codes, configured services and channels, closure and first reply not before
    opening, counts whole and >= 0, ratings 1-5); a row that breaks one is quarantined."""
    cols, fmt = src.columns, lit(src.datetime_format)

    def text(field: str) -> str:
        return f"trim(coalesce({ident(cols[field])}, ''))" if field in cols else "''"

    def stated(attr: str) -> str:
        """A group value as stored: an empty one is the attribute's not-stated value."""
        return f"coalesce(nullif({ident(attr)}, ''), {lit(src.not_stated[attr])})"

    def group_text(attr: str) -> str:
        return f"trim(coalesce({ident(src.groups[attr])}, ''))"

    fields = ["source_id", "opened_at", "first_response_at", "closed_at", "service", "channel", "region",
              "outcome", "citizen_key", "handoffs", "reopened", "rating"]  # fmt: skip
    raw = ", ".join(f"{text(f)} AS {ident('t_' + f)}" for f in fields)
    raw += "".join(f", {group_text(a)} AS {ident('t_' + a)}" for a in src.groups)
    parsed = [
        "t_source_id AS source_id",
        *(f"try_strptime(nullif(t_{f}, ''), {fmt}) AS {f}" for f in ("opened_at", "first_response_at", "closed_at")),
        *(f"{mapped(src, f, 't_' + f)} AS {f}" for f in ("service", "channel", "region", "outcome")),
        "nullif(t_citizen_key, '') AS citizen_key",
        *(f"try_cast(coalesce(nullif(t_{f}, ''), '0') AS DOUBLE) AS {f}" for f in ("handoffs", "reopened")),
        "try_cast(nullif(t_rating, '') AS DOUBLE) AS rating",
        *(f"{mapped(src, a, 't_' + a)} AS {ident(a)}" for a in src.groups),
        *(f"t_{f}" for f in ("opened_at", "first_response_at", "closed_at", "channel", "outcome", "rating")),
        *(f"{ident('t_' + a)}" for a in src.groups),
    ]
    services = ", ".join(lit(s) for s in src.deadlines)
    channels = ", ".join(lit(c) for c in [*src.channels, ""])
    rules = [
        "source_id <> ''",
        "opened_at IS NOT NULL",
        *(f"({f} IS NOT NULL OR t_{f} = '')" for f in ("first_response_at", "closed_at")),
        *(f"({f} IS NOT NULL OR t_{f} = '')" for f in ("channel", "outcome")),
        f"coalesce(service, '') IN ({services})",
        f"coalesce(channel, '') IN ({channels})" if src.channels and "channel" in src.values else "TRUE",
        "NOT contains(region, '|')",
        f"region IN ({', '.join(map(lit, [*src.regions, '']))})" if src.regions else "TRUE",
        "coalesce(closed_at >= opened_at, TRUE)",
        "coalesce(first_response_at >= opened_at, TRUE)",
        *(f"({f} IS NOT NULL AND {f} >= 0 AND {f} = round({f}) AND isfinite({f}))" for f in ("handoffs", "reopened")),
        "(t_rating = '' OR coalesce(rating IN (1, 2, 3, 4, 5), FALSE))",
        *(f"({ident(a)} IS NOT NULL OR {ident('t_' + a)} = '')" for a in src.groups),
        *(f"{stated(a)} IN ({', '.join(map(lit, src.group_values[a]))})" for a in src.groups),
    ]
    groups_out = "".join(f", {stated(a)} AS {ident(a)}" for a in src.groups)
    read = (
        f"read_csv({lit(str(csv))}, header = true, all_varchar = true, delim = {lit(src.delimiter)}, "
        f"quote = '\"', escape = '\"', encoding = {lit(src.encoding)})"
    )
    return f"""
        SELECT source_id, opened_at, first_response_at, closed_at, service, coalesce(channel, '') AS channel,
               region, coalesce(outcome, '') AS outcome, citizen_key, handoffs::BIGINT AS handoffs,
               reopened::BIGINT AS reopened, rating::TINYINT AS rating{groups_out},
               -- A rule that cannot be decided (NULL) fails the row, as a missing value would.
               coalesce({" AND ".join(rules)}, FALSE) AS ok
        FROM (SELECT {", ".join(parsed)} FROM (SELECT {raw} FROM {read}))"""


def load_sql(src: Source, csv: Path) -> str:
    """The cases table: the staged rows with their UTC times (durations are measured on
    them), local month, department and due date; quarantined rows are marked by `ok`.

    Times in the file are local; the product stores them in UTC, reading a time that occurs
    twice at the autumn clock change as the first (summer-time) one. Converting every value
    through ICU costs about 0.3 s per million per column here, so each distinct local hour
    of the data's span is converted once and joined back (0.05 s per million)."""
    tz = lit(src.timezone)
    deadlines = " ".join(f"WHEN {lit(k)} THEN {v}" for k, v in src.deadlines.items())
    departments = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in src.departments.items())
    later = f"h AT TIME ZONE {tz}"
    earlier = f"({later}) - INTERVAL 1 HOUR"
    utc = {f: f"{f} + o_{f}.offset_" for f in ("opened_at", "first_response_at", "closed_at")}
    joins = " ".join(
        f"LEFT JOIN offsets o_{f} ON o_{f}.h = date_trunc('hour', s.{f})"
        for f in ("opened_at", "first_response_at", "closed_at")
    )
    return f"""
        CREATE OR REPLACE TABLE cases AS
        WITH staged AS MATERIALIZED ({staged_sql(src, csv)}),
        span AS (SELECT date_trunc('hour', min(least(opened_at, first_response_at, closed_at))) AS lo,
                        max(greatest(opened_at, first_response_at, closed_at)) AS hi FROM staged),
        hours AS (SELECT unnest(range(lo, hi + INTERVAL 1 HOUR, INTERVAL 1 HOUR)) AS h FROM span),
        offsets AS (
            -- ICU reads an ambiguous local time as the later instant; the product the earlier.
            SELECT h, (CASE WHEN timezone({tz}, {earlier}) = h THEN {earlier} ELSE {later} END)
                      AT TIME ZONE 'UTC' - h AS offset_
            FROM hours
        )
        SELECT s.*, {utc["opened_at"]} AS opened_utc, {utc["first_response_at"]} AS first_response_utc,
               {utc["closed_at"]} AS closed_utc,
               CASE service {departments} END AS department,
               date_trunc('month', opened_at)::DATE AS month,
               -- Due date: the product counts N working days on the holiday calendar (after
               -- rolling a weekend or holiday start forward). Too much for the yardstick:
               -- N working days are taken as ceil(N * 7 / 5) calendar days, holidays ignored.
               opened_at::DATE + ceil((CASE service {deadlines} END) * 7 / 5)::INTEGER AS due_date
        FROM staged s {joins}"""


def reference_load(con: duckdb.DuckDBPyConnection, src: Source, csv: Path) -> tuple[int, int]:
    """Read, validate and load; quarantined rows moved to a table of their own. Returns the
    cases loaded and the rows quarantined."""
    con.execute(load_sql(src, csv))
    con.execute("CREATE OR REPLACE TABLE quarantine AS SELECT * FROM cases WHERE NOT ok")
    con.execute("DELETE FROM cases WHERE NOT ok")
    loaded, distinct = con.execute("SELECT count(*), count(DISTINCT source_id) FROM cases").fetchone()
    (bad,) = con.execute("SELECT count(*) FROM quarantine").fetchone()
    # The product quarantines every repeat of a case id after the first; the demo has none,
    # and the yardstick refuses a file that has rather than silently counting it twice.
    if loaded != distinct:
        raise SystemExit(f"reference: {loaded - distinct} repeated case ids in {csv}; not handled here")
    return loaded, bad


def as_of(con: duckdb.DuckDBPyConnection) -> tuple[dt.datetime, dt.date]:
    """The cut-off the product uses when config sets none: the latest opening or closure in
    the store (UTC), and its local date (of the latest local time, for the due dates)."""
    utc, local = con.execute(
        "SELECT max(greatest(opened_utc, coalesce(closed_utc, opened_utc))), "
        "max(greatest(opened_at, coalesce(closed_at, opened_at)))::DATE FROM cases"
    ).fetchone()
    return utc, local


def reference_monthly(con: duckdb.DuckDBPyConnection, src: Source, as_of_date: dt.date) -> int:
    """Month x cell: cases, closed, median and p90 of resolution days (closed cases, from the
    UTC times as the product measures durations), and the on-time share (approximate due)."""
    inner = f"""
        SELECT *, closed_utc IS NOT NULL AS closed,
               (epoch_us(closed_utc) - epoch_us(opened_utc)) / 86400e6 AS days,
               closed_utc IS NOT NULL OR DATE '{as_of_date}' > due_date AS determined,
               closed_utc IS NOT NULL AND closed_at::DATE <= due_date AS on_time
        FROM cases"""
    aggregates = [
        "count(*) AS cases",
        "count_if(closed) AS closed",
        "quantile_cont(days, 0.5) AS median_days",  # NULL days (open cases) are skipped
        "quantile_cont(days, 0.9) AS p90_days",
        "count_if(determined) AS determined",
        "count_if(on_time) AS on_time",
    ]
    con.execute(f"CREATE OR REPLACE TABLE monthly AS {labelled(src, inner, ['month'], aggregates)}")
    return con.execute("SELECT count(*) FROM monthly").fetchone()[0]


def reference_repeats(con: duckdb.DuckDBPyConnection, src: Source) -> int:
    """Cases whose citizen opened a case of the same service in the 30 days before
    ([t - 30 d, t), ties ordered by case id), per month x cell, over cases with a citizen."""
    inner = """
        SELECT *, coalesce(lag(opened_utc) OVER w >= opened_utc - INTERVAL 30 DAY, FALSE) AS is_repeat
        FROM cases WHERE citizen_key IS NOT NULL
        WINDOW w AS (PARTITION BY citizen_key, service ORDER BY opened_utc, source_id)"""
    aggregates = ["count(*) AS keyed", "count_if(is_repeat) AS repeats"]
    con.execute(f"CREATE OR REPLACE TABLE repeats AS {labelled(src, inner, ['month'], aggregates)}")
    return con.execute("SELECT count(*) FROM repeats").fetchone()[0]


def km_quantiles(cell: np.ndarray, events: np.ndarray, count: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """Kaplan-Meier quantiles of many cells at once, from day histograms sorted by cell and
    day: per row a cell code, the closures in that day bin and all cases in it (closures and
    cases censored there). Returns, per cell (in order) and per p, the row of the first bin
    with S <= p (or -1 where S never falls so far). Censored cases of a bin count as at risk
    for its closures, as the product-limit estimator has them."""
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
    seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(cell)]))

    def within(x: np.ndarray) -> np.ndarray:
        """Cumulative sum of x restarting at each cell (one global cumsum, then offsets)."""
        total = np.cumsum(x)
        return total - (total - x)[starts][seg]

    at_risk = np.add.reduceat(count, starts)[seg] - (within(count) - count)
    hazard = events / at_risk
    dead = hazard >= 1  # every one at risk closed: S is 0 from here on
    log_s = within(np.log1p(-np.where(dead, 0.0, hazard)))
    survival = np.where(within(dead.astype(np.int64)) > 0, 0.0, np.exp(log_s))
    out = np.full((len(starts), len(probs)), -1, dtype=np.int64)
    for j, p in enumerate(probs):
        # The 1e-9 lets a product landing on p by floating-point count, as the product's KM does.
        rows = np.flatnonzero(survival <= p + 1e-9)
        cells, first = np.unique(seg[rows], return_index=True)
        out[cells, j] = rows[first]
    return out


def reference_km(con: duckdb.DuckDBPyConnection, src: Source, cut: dt.datetime) -> int:
    """KM median and p90 of days to resolve per month x cell: durations binned to whole days
    (ceiling: closed within d days) in DuckDB, the product-limit curves in numpy, open cases
    censored at as_of."""
    inner = f"""
        SELECT *, closed_utc IS NOT NULL AS closed,
               ceil((epoch_us(coalesce(closed_utc, TIMESTAMP '{cut}')) - epoch_us(opened_utc)) / 86400e6)::INTEGER
                   AS d
        FROM cases"""
    aggregates = ["count_if(closed) AS events", "count(*) AS n"]
    # Cells numbered in SQL: fetching their labels with every bin and factorizing them in
    # pandas took twice as long as the histogram itself.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE km_bins AS SELECT *, (dense_rank() OVER (ORDER BY dims, dim_value, month) - 1)"
        f"::BIGINT AS cell FROM ({labelled(src, inner, ['month', 'd'], aggregates)})"
    )
    bins = con.execute("SELECT cell, d, events, n FROM km_bins ORDER BY cell, d").fetchnumpy()
    found = km_quantiles(bins["cell"], bins["events"].astype(float), bins["n"].astype(float), (0.5, 0.1))
    day = bins["d"].astype(float)
    quantiles = pd.DataFrame(
        {
            "cell": np.arange(len(found)),
            "median_days": np.where(found[:, 0] >= 0, day[found[:, 0]], np.nan),
            "p90_days": np.where(found[:, 1] >= 0, day[found[:, 1]], np.nan),
        }
    )
    con.register("km_quantiles", quantiles)
    con.execute(
        "CREATE OR REPLACE TABLE km AS SELECT dims, dim_value, month, sum(n)::BIGINT AS n, "
        "any_value(median_days) AS median_days, any_value(p90_days) AS p90_days "
        "FROM km_bins JOIN km_quantiles USING (cell) GROUP BY dims, dim_value, month"
    )
    con.unregister("km_quantiles")
    return len(quantiles)


def reference_main(argv: Sequence[str]) -> None:
    ap = argparse.ArgumentParser(
        prog="pipeline.py reference",
        description="The reference pipeline alone: the same aggregations straight in DuckDB.",
    )
    ap.add_argument("--config", type=Path, required=True, help="config.yaml whose cases source maps the file")
    ap.add_argument("--csv", type=Path, help="the cases file (default: the config's cases source path)")
    ap.add_argument("--db", type=Path, required=True, help="the DuckDB file to write (replaced if it exists)")
    args = ap.parse_args(argv)
    import duckdb

    src = Source.from_config(args.config)
    csv = args.csv or Path(yaml.safe_load(args.config.read_text(encoding="utf-8"))["etl"]["sources"]["cases"]["path"])
    args.db.unlink(missing_ok=True)
    con = duckdb.connect(str(args.db))
    try:
        started = time.perf_counter()
        loaded, bad = reference_load(con, src, csv)
        cut, cut_date = as_of(con)
        report_step("read + load", started, f"{loaded:,} cases, {bad:,} quarantined")
        started = time.perf_counter()
        cells = reference_monthly(con, src, cut_date)
        report_step("monthly aggregation", started, f"{cells:,} cells")
        started = time.perf_counter()
        cells = reference_repeats(con, src)
        report_step("repeat contacts", started, f"{cells:,} cells")
        started = time.perf_counter()
        cells = reference_km(con, src, cut)
        report_step("Kaplan-Meier", started, f"{cells:,} cells, as of {cut:%Y-%m-%d %H:%M} UTC")
    finally:
        con.close()


def report_step(name: str, started: float, note: str) -> None:
    print(f"{STEP_MARK}\t{name}\t{time.perf_counter() - started:.4f}\t{note}", flush=True)


def reference_steps(out: str) -> list[Step]:
    steps = []
    for line in out.splitlines():
        if line.startswith(STEP_MARK + "\t"):
            _, name, seconds, note = line.split("\t", 3)
            steps.append(Step(f"  reference: {name}", float(seconds), None, note))
    return steps


# ==========================================================================================
# The product, as the worker runs it
# ==========================================================================================


def store_kind(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def check_empty(url: str) -> None:
    """A benchmark of a full load needs an empty store: refuse one that has cases."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            held = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
    finally:
        engine.dispose()
    if held:
        raise SystemExit(f"the store {url.split('@')[-1]} already holds {held:,} cases: give an empty one")


def product_steps(
    work: Path, settings: dict[str, Any], config: Path, kept: int, opened: int, changed: int
) -> list[Step]:
    cli = [sys.executable, "-m", "metrics.cli", "--config", str(config)]
    steps = []
    s, mb, out = timed([*cli, "etl", "run", "--job", "population", "--job", "eligible", "--job", "cases"])
    steps.append(Step(FULL_LOAD, s, mb, f"{kept:,} case rows: {etl_summary(out)}"))
    s, mb, out = timed([*cli, "metrics", "refresh"])
    steps.append(Step(FULL_REFRESH, s, mb, refresh_summary(out)))
    # The day's file goes to the same source (same case keys): a new file, loaded once.
    settings["etl"]["sources"]["cases"]["path"] = str(work / "day" / "cases.csv")
    write_settings(config, settings)
    s, mb, out = timed([*cli, "etl", "run", "--job", "cases"])
    steps.append(Step(DELTA_LOAD, s, mb, f"{opened:,} new + {changed:,} changed rows: {etl_summary(out)}"))
    s, mb, out = timed([*cli, "metrics", "refresh"])
    steps.append(Step(DELTA_REFRESH, s, mb, refresh_summary(out)))
    return steps


def etl_summary(out: str) -> str:
    return next((line for line in out.splitlines() if line.startswith("cases:")), "")


# ==========================================================================================
# One size, several sizes
# ==========================================================================================


def run_size(
    cases: int, work: Path, store_url: str | None, skip_product: bool, skip_reference: bool, reuse_files: bool = False
) -> Run:
    # Imported here: the reference's own process (the same script) has no use for it.
    from etl.demo_data import write_demo_data

    (work / "history").mkdir(parents=True, exist_ok=True)
    (work / "day").mkdir(exist_ok=True)
    history = work / "history" / "cases.csv"
    prepared = work / "prepared.json"
    done = json.loads(prepared.read_text()) if reuse_files and prepared.exists() else {}
    if done.get("cases") == cases and history.exists() and (work / "day" / "cases.csv").exists():
        kept, opened, changed = done["kept"], done["opened"], done["changed"]
        preparation = [Step("demo files and split: reused", 0.0, None, f"{cases:,} cases, from {prepared.name}")]
    else:
        prepared.unlink(missing_ok=True)
        started = time.perf_counter()
        paths = write_demo_data(work / "demo", cases=cases)
        preparation = [Step("generate demo files", time.perf_counter() - started, None, f"{cases:,} cases")]
        started = time.perf_counter()
        kept, opened, changed = split_last_day(paths["cases"], history, work / "day" / "cases.csv")
        preparation.append(Step("split off the last day", time.perf_counter() - started, None,
                                f"{kept:,} history rows, {opened + changed:,} day rows"))  # fmt: skip
        prepared.write_text(json.dumps({"cases": cases, "kept": kept, "opened": opened, "changed": changed}))
    url = store_url.replace("{cases}", str(cases)) if store_url else default_store(work)
    settings = bench_settings(work, url, history)
    config = write_settings(work / "config.yaml", settings)
    steps: list[Step] = []
    if not skip_product:
        run_checked([sys.executable, "-m", "metrics.cli", "--config", str(config), "init"])
        check_empty(url)
        steps += product_steps(work, settings, config, kept, opened, changed)
    inner: list[Step] = []
    if not skip_reference:
        db = work / "reference.duckdb"
        cmd = [sys.executable, str(Path(__file__).resolve()), "reference", "--config", str(config),
               "--csv", str(history), "--db", str(db)]  # fmt: skip
        s, mb, out = timed(cmd)
        steps.append(Step(REFERENCE, s, mb, f"same history file, DuckDB {duckdb_version()}, into {db.name}"))
        inner = reference_steps(out)
    return Run(cases, store_kind(url), str(work), preparation, steps, inner, ratio(steps))


def default_store(work: Path) -> str:
    # The bench's own SQLite file: a rerun in the same folder starts from an empty store.
    store = work / "store.db"
    for path in (store, store.with_name("store.db-wal"), store.with_name("store.db-shm")):
        path.unlink(missing_ok=True)
    return f"sqlite:///{store}"


def duckdb_version() -> str:
    try:
        import duckdb
    except ImportError:
        return "(not installed)"
    return duckdb.__version__


def ratio(steps: list[Step]) -> float | None:
    by = {s.step: s.seconds for s in steps}
    if not {FULL_LOAD, FULL_REFRESH, REFERENCE} <= by.keys():
        return None
    return (by[FULL_LOAD] + by[FULL_REFRESH]) / by[REFERENCE]


# ==========================================================================================
# Reporting: the table, the JSON, the plot
# ==========================================================================================


def print_table(run: Run) -> None:
    print(f"\n{run.cases:,} cases, {run.store} store, in {run.workdir}")
    print(f"{'step':<34} {'seconds':>8} {'peak MB':>8}  notes")
    rows = [*run.preparation, *run.steps, *run.reference_steps]
    for s in rows:
        peak = "" if s.peak_mb is None else f"{s.peak_mb:>8.0f}"
        print(f"{s.step:<34} {s.seconds:>8.2f} {peak:>8}  {s.notes}")
    if run.ratio is not None:
        print(f"ratio (full load + full refresh) / reference: {run.ratio:.2f}")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total = next((line for line in meminfo.read_text().splitlines() if line.startswith("MemTotal:")), "")
        if total:
            info["ram_gb"] = round(int(total.split()[1]) / 1024**2, 1)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")), "")
        info["cpu"] = model.split(":", 1)[-1].strip() or platform.processor()
    info["duckdb"] = duckdb_version()
    return info


def write_json(path: Path, runs: list[Run]) -> None:
    doc = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "store": sorted({r.store for r in runs}),
        "runs": [asdict(r) for r in runs],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def write_plot(path: Path, runs: list[Run]) -> Path:
    """Seconds and peak MB against cases, log-log, per product step and the reference: a PNG
    through kaleido (headless Chromium), or an HTML file where that cannot run."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("wall seconds", "peak memory (MB)"))
    for i, name in enumerate(PLOTTED):
        points = [(r.cases, s) for r in runs for s in r.steps if s.step == name]
        if not points:
            continue
        x = [c for c, _ in points]
        for col, y in ((1, [s.seconds for _, s in points]), (2, [s.peak_mb for _, s in points])):
            fig.add_trace(
                go.Scatter(x=x, y=y, name=name, legendgroup=name, showlegend=col == 1, mode="lines+markers",
                           marker={"symbol": i, "color": qualitative.Plotly[i]},
                           line={"dash": "dot" if name == REFERENCE else "solid", "color": qualitative.Plotly[i]}),
                row=1, col=col,
            )  # fmt: skip
    fig.update_xaxes(type="log", title_text="cases")
    fig.update_yaxes(type="log")
    fig.update_layout(title=f"civic-metrics pipeline against cases ({', '.join(sorted({r.store for r in runs}))})",
                      width=1200, height=500, template="plotly_white")  # fmt: skip
    try:
        fig.write_image(str(path))
        return path
    except Exception as exc:  # kaleido or its Chromium missing or failing: keep the figure anyway
        html = path.with_suffix(".html")
        fig.write_html(str(html), include_plotlyjs="cdn")
        print(f"kaleido could not write {path.name} ({type(exc).__name__}: {exc}); wrote {html} instead")
        return html


# ==========================================================================================
# Command line
# ==========================================================================================


def sizes(text: str) -> list[int]:
    try:
        out = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or a comma list of numbers, got {text!r}") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return out


def parse(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=sizes, default=[1_000_000],
                    help="cases in the whole history; a comma list (100000,1000000) runs each size in a "
                         "subfolder of the workdir and plots them")  # fmt: skip
    ap.add_argument("--workdir", type=Path, required=True, help="a folder for the files, the stores and the results")
    ap.add_argument("--store-url", help="the product's store, e.g. postgresql+psycopg://user@host/db (an empty "
                    "database; with several sizes write {cases} in it for one database per size); default the "
                    "SQLite file store.db in the workdir")  # fmt: skip
    ap.add_argument("--json", type=Path, help="where to write the results (default WORKDIR/results.json)")
    ap.add_argument("--plot", type=Path, help="where to write the scale plot, PNG (default WORKDIR/scale.png, "
                    "written when several sizes run or when this is given)")  # fmt: skip
    ap.add_argument("--skip-product", action="store_true", help="time the reference pipeline only")
    ap.add_argument("--skip-reference", action="store_true", help="time the product only (no ratio)")
    ap.add_argument("--reuse-files", action="store_true", help="keep the demo files and the split of an earlier "
                    "run of the same size in the workdir (ten million cases take eight minutes to make)")  # fmt: skip
    args = ap.parse_args(argv)
    shared = args.store_url and not args.store_url.startswith("sqlite") and "{cases}" not in args.store_url
    if len(args.cases) > 1 and shared and not args.skip_product:
        ap.error("several sizes would load into one database: write {cases} in --store-url")
    if args.skip_product and args.skip_reference:
        ap.error("--skip-product and --skip-reference leave nothing to time")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["reference"]:
        reference_main(argv[1:])
        return
    args = parse(argv)
    # The demo export maps citizen ids, which are stored only as keyed pseudonyms: every load
    # of one bench run (history and delta) must use the same key, so it is set once here.
    os.environ.setdefault("CIVIC_METRICS_PSEUDONYM_KEY", secrets.token_hex(32))
    work: Path = args.workdir.resolve()
    runs = []
    for n in args.cases:
        folder = work if len(args.cases) == 1 else work / f"cases-{n}"
        try:
            run = run_size(n, folder, args.store_url, args.skip_product, args.skip_reference, args.reuse_files)
        except StepFailed as exc:
            print(f"\nstep failed ({n:,} cases): {' '.join(map(str, exc.cmd))}\nexit status {exc.returncode}; "
                  f"its stderr:\n{(exc.stderr or '').strip()}", file=sys.stderr)  # fmt: skip
            sys.exit(1)
        print_table(run)
        runs.append(run)
    out = args.json or work / "results.json"
    write_json(out, runs)
    print(f"\nresults written to {out}")
    if len(runs) > 1 or args.plot:
        print(f"plot written to {write_plot(args.plot or work / 'scale.png', runs)}")


if __name__ == "__main__":
    main()
