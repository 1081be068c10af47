"""Incremental refresh: after a load, recompute only the periods its cases touched.

The ETL lists every case it writes, with the version it replaced (`case_changes`). A refresh
that finds the same basis as the last one (settings, reference tables, definitions, first
case) recomputes, for each kind of figure, only the periods those cases can have changed,
and keeps every other stored cell. The figures are the same as a full refresh's: the same
indicator functions run on the cases of the touched periods (tests compare the two on
random deltas).

Three kinds of figures, touched in different ways:

- cohorts (most indicators): a period's cases are those opened in it. Touched by a case's
  old and new opening period; by the other cases of the same citizen and service whose
  repeat-contact or came-back flags it can flip; by cases whose view changes as as_of moves
  (opened, closed or first answered since the last as_of; still open when their deadline
  passed since); and by Kaplan-Meier figures that open cases' longer waits can move (a
  period is kept only where every stored quantile and interval end is shorter than the
  shortest wait of its open cases, since the curve before that wait cannot change).
- stocks (backlog): cases open at a period's end. Touched where a case's open interval
  changed (old and new), and at and after the last as_of's period.
- 12-month windows (take-up): grants decided in the 12 months to a period's end. Touched
  where a window holds a changed case's old or new decision date, and at and after the
  last as_of's period.

A full refresh runs instead when there is no earlier full basis, when cases were deleted
or too many changed in one batch to list, or when anything else the cells rest on changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select

from metrics.casedata import CaseData, prepare, read_cases, read_reference, resolve_as_of, to_local
from metrics.catalogue import CATALOGUE, MetricDefinition
from metrics.cells import dims_key, keyed
from metrics.config import Settings
from metrics.indicators.experience import FCR_WINDOW, REPEAT_WINDOW
from metrics.indicators.uptake import UPTAKE_GRAINS
from metrics.periods import period_index, period_last_day, period_starts
from metrics.store.models import Case, CaseChange, CaseGroup, MetricCell, RefreshRun

STOCK = frozenset({"backlog_open", "backlog_overdue", "backlog_age"})
WINDOW = frozenset({"uptake_rate", "unclaimed_estimate"})
# Stock indicators with a cell (0 when nothing is open) in every period from the one in which
# the slice's first case opened; backlog_age has one cell per band in every period instead.
SEEN_FROM_FIRST_CASE = ("backlog_open", "backlog_overdue")
IN_CHUNK = 500
# Between a local date and UTC timestamps in any time zone (offsets are under 15 hours).
MARGIN = pd.Timedelta(days=1)
# The settings the figures rest on (not where the data comes from, when jobs run, targets
# or how pages look): a change to any of these needs a full refresh.
FIGURE_SETTINGS = ("timezone", "as_of", "calendar", "privacy", "regions", "groups", "channels", "services", "metrics")
# More touched period ends than this are read as one span rather than one condition each.
MAX_CONDITIONS = 200


def family(m: MetricDefinition) -> str:
    if m.id in STOCK:
        return "stock"
    if m.id in WINDOW:
        return "window"
    return "cohort"


def slice_signatures(conn: Connection, keys: list[str]) -> dict[str, str]:
    """What places each case in slices besides its dates (dimensions, groups, due time), as
    text to compare an old version with a new one."""
    out: dict[str, str] = {}
    t = Case.__table__
    for i in range(0, len(keys), IN_CHUNK):
        part = keys[i : i + IN_CHUNK]
        groups: dict[str, dict[str, str]] = defaultdict(dict)
        for r in conn.execute(select(CaseGroup.__table__).where(CaseGroup.case_key.in_(part))):
            groups[r.case_key][r.attribute] = r.value
        cols = (t.c.case_key, t.c.service, t.c.department, t.c.channel, t.c.region, t.c.due_at)
        for r in conn.execute(select(*cols).where(t.c.case_key.in_(part))):
            due = None if r.due_at is None else pd.Timestamp(r.due_at).isoformat()
            out[r.case_key] = json.dumps(
                [r.service, r.department, r.channel, r.region, due, sorted(groups[r.case_key].items())]
            )
    return out


def basis_of(settings: Settings, populations: pd.DataFrame, eligible: pd.DataFrame, first_opened: object) -> str:
    """A digest of everything besides the cases that the cells rest on."""
    h = hashlib.sha256()
    h.update(settings.model_dump_json(include=set(FIGURE_SETTINGS)).encode())
    h.update(json.dumps(sorted((m.id, m.version) for m in CATALOGUE.values())).encode())
    for table in (populations, eligible):
        t = table.drop(columns=[c for c in ("id", "etl_run_id") if c in table])
        h.update(t.sort_values(list(t.columns)).to_csv(index=False).encode())
    h.update(str(pd.Timestamp(first_opened) if first_opened is not None else None).encode())
    return h.hexdigest()


@dataclass
class Plan:
    as_of: pd.Timestamp
    basis: str
    first: dt.date  # local opening date of the store's first case
    change_ids: list[int]
    settings: Settings
    populations: pd.DataFrame
    eligible: pd.DataFrame
    # family -> grain -> period starts to recompute
    touched: dict[str, dict[str, np.ndarray]]
    # grain -> every period start
    starts: dict[str, np.ndarray]
    as_of_date: np.datetime64  # local

    def periods(self) -> int:
        return sum(len(p) for by_grain in self.touched.values() for p in by_grain.values())


def change_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(CaseChange.id)).scalars())


def first_opened(engine: Engine, as_of: pd.Timestamp) -> dt.datetime | None:
    with engine.connect() as conn:
        return conn.execute(select(func.min(Case.opened_at)).where(Case.opened_at <= as_of.to_pydatetime())).scalar()


def plan(settings: Settings, engine: Engine) -> Plan | str:
    """What to recompute, or why only a full refresh will do."""
    from metrics.lookups import with_store_lookups

    with engine.connect() as conn:
        prev = conn.execute(
            select(RefreshRun.__table__).where(RefreshRun.status == "succeeded").order_by(RefreshRun.id.desc()).limit(1)
        ).first()
        changes = pd.read_sql(select(CaseChange.__table__).order_by(CaseChange.id), conn)
    if prev is None:
        return "no earlier refresh"
    if prev.basis is None or prev.as_of is None:
        return "the last refresh did not compute every indicator"
    reasons = changes.loc[changes["case_key"].isna(), "reason"]
    if len(reasons):
        return str(reasons.iloc[0])
    settings = with_store_lookups(settings, engine)
    a1 = resolve_as_of(settings, engine)
    a0 = pd.Timestamp(prev.as_of)
    if a1 < a0:
        return "as_of is earlier than the last refresh's"
    populations, eligible = read_reference(engine)
    first = first_opened(engine, a1)
    if first is None:  # published tables only, no case yet: nothing to do by period
        return "no case opened by as_of"
    basis = basis_of(settings, populations, eligible, first)
    if basis != prev.basis:
        return "settings, reference tables, definitions or the first case changed since the last refresh"
    first_local = to_local(pd.Series([pd.Timestamp(first)]), settings.timezone).iloc[0].date()
    ctx = _Context(settings, engine, a0, a1, first_local, populations, eligible)
    touched = ctx.touched(changes)
    starts = {g: ctx.periods(g)[0] for g in settings.metrics.grains}
    ids = changes["id"].astype(int).tolist()
    return Plan(a1, basis, first_local, ids, settings, populations, eligible, touched, starts, ctx.a1_date)


VERSION_COLUMNS = [
    "case_key", "opened_at", "closed_at", "first_response_at", "service", "citizen_key", "slice", "age", "once",
]  # fmt: skip


@dataclass
class _Context:
    settings: Settings
    engine: Engine
    a0: pd.Timestamp
    a1: pd.Timestamp
    first: dt.date
    populations: pd.DataFrame
    eligible: pd.DataFrame

    def local_date(self, utc: pd.Series) -> np.ndarray:
        return to_local(pd.to_datetime(utc), self.settings.timezone).dt.floor("D").to_numpy().astype("datetime64[D]")

    @property
    def a0_date(self) -> np.datetime64:
        return self.local_date(pd.Series([self.a0]))[0]

    @property
    def a1_date(self) -> np.datetime64:
        return self.local_date(pd.Series([self.a1]))[0]

    def periods(self, grain: str) -> tuple[np.ndarray, np.ndarray]:
        """Period starts and the day each period's figures are taken at (its last day, or
        as_of's for the period running)."""
        starts = period_starts(grain, np.datetime64(self.first, "D"), self.a1_date)
        return starts, np.minimum(period_last_day(grain, starts), self.a1_date)

    # --- which cases moved ------------------------------------------------------------

    def versions(self, changes: pd.DataFrame) -> pd.DataFrame:
        """Every version of a changed case that a refresh may have seen (its old ones, as
        at the last as_of) and the one it sees now, plus cases whose view moved with as_of
        alone; `age` is 'old' or 'new'."""
        keys = changes["case_key"].dropna().unique().tolist()
        t = Case.__table__
        cols = (t.c.case_key, t.c.opened_at, t.c.closed_at, t.c.first_response_at, t.c.service, t.c.citizen_key)
        frames = []
        with self.engine.connect() as conn:
            for i in range(0, len(keys), IN_CHUNK):
                frames.append(pd.read_sql(select(*cols).where(t.c.case_key.in_(keys[i : i + IN_CHUNK])), conn))
            now_sig = slice_signatures(conn, keys)
            a0, a1 = self.a0.to_pydatetime(), self.a1.to_pydatetime()
            moved = pd.read_sql(
                select(*cols).where(
                    or_(
                        and_(t.c.opened_at > a0, t.c.opened_at <= a1),
                        and_(t.c.closed_at > a0, t.c.closed_at <= a1),
                        and_(t.c.first_response_at > a0, t.c.first_response_at <= a1),
                    )
                ),
                conn,
            )
        frames = [f.astype(object) for f in frames if len(f)]
        new = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols_names(cols))
        new["slice"] = new["case_key"].map(now_sig)
        old = changes[changes["old_opened_at"].notna()].rename(
            columns={
                "old_opened_at": "opened_at",
                "old_closed_at": "closed_at",
                "old_first_response_at": "first_response_at",
                "old_service": "service",
                "old_citizen_key": "citizen_key",
                "old_slice": "slice",
            }
        )
        # Only a case listed once, with the version the last refresh saw, may take the
        # shortcut of stock_changes: one listed as new saw versions no refresh saw.
        listed = changes.groupby("case_key").agg(rows=("id", "size"), born=("old_opened_at", lambda x: x.isna().any()))
        once = set(listed.index[(listed["rows"] == 1) & ~listed["born"].astype(bool)])
        moved = moved[~moved["case_key"].isin(set(keys))]
        moved_sig = "as_of"  # the same case seen at two cut-offs: the same slices
        out = [
            _view(old, self.a0, "old"),
            _view(new, self.a1, "new"),
            _view(moved.assign(slice=moved_sig), self.a0, "old"),
            _view(moved.assign(slice=moved_sig), self.a1, "new"),
        ]
        if not any(len(f) for f in out):
            return _empty()
        v = pd.concat([f.astype(object) for f in out if len(f)], ignore_index=True)
        v["once"] = v["case_key"].isin(once) | v["case_key"].isin(set(moved["case_key"]))
        return v

    # --- touched periods ---------------------------------------------------------------

    def touched(self, changes: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
        v = self.versions(changes)
        v = v.assign(opened_date=self.local_date(v["opened_at"]), closed_date=self.local_date(v["closed_at"]))
        grains = self.settings.metrics.grains
        cohort_days = [v["opened_date"].to_numpy(), *self.peer_days(v)]
        open_cases = self.open_at_last_as_of(set(changes["case_key"].dropna()) | set(v["case_key"]))
        cohort_days.append(self.deadline_passed(open_cases))
        out: dict[str, dict[str, np.ndarray]] = {"cohort": {}, "stock": {}, "window": {}}
        days = np.concatenate([d.astype("datetime64[D]") for d in cohort_days])
        for grain in grains:
            starts, ends = self.periods(grain)
            recent = ends >= self.a0_date  # the last as_of's period and any since
            idx = period_index(grain, starts, days)
            cohort = recent.copy()
            cohort[idx[idx >= 0]] = True
            out["cohort"][grain] = starts[cohort]
            out["stock"][grain] = starts[recent | self.stock_changes(v, ends)]
            if grain in UPTAKE_GRAINS:
                out["window"][grain] = starts[recent | self.window_changes(v, ends)]
        # Periods recomputed anyway need no proof that their medians stand.
        for grain, more in self.km_unstable(open_cases, out["cohort"]).items():
            out["cohort"][grain] = np.union1d(out["cohort"][grain], more)
        return out

    def peer_days(self, v: pd.DataFrame) -> list[np.ndarray]:
        """Opening dates of other cases of the same citizen and service whose repeat-contact
        flag (a case in the 30 days before) or came-back flag (a case in the 7 days after
        their closing) a moved case can flip."""
        keyed = v[v["citizen_key"].notna()]
        citizens = keyed["citizen_key"].unique().tolist()
        if not citizens:
            return []
        t = Case.__table__
        cols = (t.c.case_key, t.c.opened_at, t.c.closed_at, t.c.service, t.c.citizen_key)
        frames = []
        with self.engine.connect() as conn:
            for i in range(0, len(citizens), IN_CHUNK):
                part = citizens[i : i + IN_CHUNK]
                frames.append(pd.read_sql(select(*cols).where(t.c.citizen_key.in_(part)), conn))
        peers = pd.concat(frames, ignore_index=True)
        peers = peers[pd.to_datetime(peers["opened_at"]) <= self.a1]
        pairs = keyed[["citizen_key", "service", "opened_at"]].merge(
            peers, on=["citizen_key", "service"], suffixes=("", "_peer")
        )
        t0 = pd.to_datetime(pairs["opened_at"])
        opened, closed = pd.to_datetime(pairs["opened_at_peer"]), pd.to_datetime(pairs["closed_at"])
        day = pd.Timedelta(days=1)
        after = (opened >= t0 - day) & (opened <= t0 + REPEAT_WINDOW + day)
        came_back = closed.notna() & (closed >= t0 - FCR_WINDOW - day) & (closed <= t0 + day)
        return [self.local_date(pairs.loc[after | came_back, "opened_at_peer"])]

    def open_at_last_as_of(self, exclude: set[str]) -> CaseData:
        """Cases that were open at the last as_of (and have not changed), as seen now."""
        t = Case.__table__
        a0 = self.a0.to_pydatetime()
        where = and_(t.c.opened_at <= a0, or_(t.c.closed_at.is_(None), t.c.closed_at > a0))
        cases = read_cases(self.engine, self.settings, self.a1, where)
        cases = cases[~cases["case_key"].isin(exclude)].reset_index(drop=True)
        return prepare(self.settings, self.a1, cases, self.populations, self.eligible, self.first)

    def deadline_passed(self, data: CaseData) -> np.ndarray:
        """Opening dates of open cases whose deadline passed since the last as_of: their
        on-time status is now known."""
        c = data.cases
        due = c["due_date"].to_numpy().astype("datetime64[D]")
        flips = ~c["closed"].to_numpy() & ~np.isnat(due) & (due >= self.a0_date) & (due < self.a1_date)
        return c.loc[flips, "opened_date"].to_numpy().astype("datetime64[D]")

    def km_unstable(self, data: CaseData, recomputed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per grain, the periods with a stored Kaplan-Meier figure that open cases' longer
        waits can move. An open case is at risk at every time up to its wait, so the curve of
        a cell (period and slice) cannot change up to the shortest wait of its open cases;
        the cell is kept when every stored quantile and interval end is shorter than that
        wait, or when no case of the cell closed after a longer time than that wait (then
        the whole curve stays as it was, figures not reached included)."""
        if data.cases.empty:
            return {}
        wait = (self.a0 - data.cases["opened_at"]).dt.total_seconds() / 86400.0
        waits = self._cell_extremes(data, wait, "min")
        moved = [self._curve_points_appear(data, wait, recomputed)]
        censored = [m for m in CATALOGUE.values() if m.censored and not m.curve_days]
        cols = (MetricCell.grain, MetricCell.period, MetricCell.dim_names, MetricCell.dims_key)
        with self.engine.connect() as conn:
            cells = pd.read_sql(
                select(*cols, MetricCell.value, MetricCell.ci_low, MetricCell.ci_high).where(
                    or_(*((MetricCell.metric == m.id) & (MetricCell.definition_version == m.version) for m in censored))
                ),
                conn,
            )
        cells["period"] = pd.to_datetime(cells["period"]).to_numpy().astype("datetime64[D]")
        figures = cells[["value", "ci_low", "ci_high"]]
        cells["longest"] = figures.max(axis=1).where(figures.notna().all(axis=1), np.inf)
        key = ["grain", "period", "dim_names", "dims_key"]
        both = cells.merge(waits, on=key)
        both = both[~_in_touched(both, recomputed)]
        doubt = both[both["longest"] >= both["extreme"]][[*key, "extreme"]]
        doubt = pd.concat([doubt, self._curves_in_doubt(waits, recomputed)]).drop_duplicates(key)
        if not doubt.empty:
            closings = self._cell_extremes(self._long_closings(doubt), None, "max")
            doubt = doubt.merge(closings.rename(columns={"extreme": "closing"}), on=key, how="left")
            moved.append(doubt.loc[doubt["closing"] > doubt["extreme"], ["grain", "period"]])
        moved = pd.concat(moved, ignore_index=True)
        return {
            g: np.unique(moved.loc[moved["grain"] == g, "period"].to_numpy().astype("datetime64[D]"))
            for g in self.settings.metrics.grains
        }

    @staticmethod
    def _curves_in_doubt(waits: pd.DataFrame, recomputed: dict[str, np.ndarray]) -> pd.DataFrame:
        """Cells whose stored curve points (indicators with `curve_days`) an open case's longer
        wait can move: one whose wait is no longer than the last point's day stays at risk past
        it. As for the quantiles, they move only if some case of the cell closed after a longer
        time than that wait (checked with them); otherwise the curve stays flat after it."""
        last_point = max((max(m.curve_days) for m in CATALOGUE.values() if m.curve_days), default=None)
        if last_point is None or waits.empty:
            return waits.iloc[:0]
        return waits[(waits["extreme"] <= last_point).to_numpy() & ~_in_touched(waits, recomputed)]

    def _curve_points_appear(self, data: CaseData, wait: pd.Series, recomputed: dict[str, np.ndarray]
                             ) -> pd.DataFrame:  # fmt: skip
        """(grain, period) of the cells where a curve point turns from unknown to known: a
        point past every case's time is unknown, and the cell's longest open wait, the longest
        time any case of it is followed when no closure took longer, reaches a stored day
        between the last as_of and this one. (When a closure took longer, the cell is in doubt
        anyway: `_curves_in_doubt`.)"""
        days = np.array(sorted({d for m in CATALOGUE.values() for d in m.curve_days}), dtype=float)
        if not days.size or data.cases.empty:
            return pd.DataFrame(columns=["grain", "period"])
        longest = self._cell_extremes(data, wait, "max")
        since = (self.a1 - self.a0).total_seconds() / 86400.0
        reached = longest["extreme"].to_numpy(dtype=float)
        crosses = np.searchsorted(days, reached, side="right") < np.searchsorted(days, reached + since, side="right")
        return longest.loc[crosses & ~_in_touched(longest, recomputed), ["grain", "period"]]

    def _cell_extremes(self, data: CaseData, x: pd.Series | None, how: str) -> pd.DataFrame:
        """min or max of a per-case value (default: days to closing) in every cell the
        cases fall in (every grain, period and slice)."""
        c = data.cases
        if c.empty:
            return pd.DataFrame(columns=["grain", "period", "dim_names", "dims_key", "extreme"])
        if x is None:
            x = (c["closed_at"] - c["opened_at"]).dt.total_seconds() / 86400.0
        values = x.to_numpy(dtype=float)
        opened = c["opened_date"].to_numpy().astype("datetime64[D]")
        periods = {g: data.period_of(g, opened) for g in self.settings.metrics.grains}
        frames = []
        for k in keyed(data, periods):
            sel = k.key >= 0
            agg = getattr(pd.Series(values[sel]).groupby(k.key[sel]), how)()
            frames.append(k.frame(agg.index.to_numpy(), extreme=agg.to_numpy()))
        f = pd.concat(frames, ignore_index=True)
        return pd.DataFrame({
            "grain": f["grain"], "period": pd.to_datetime(f["period"]).to_numpy().astype("datetime64[D]"),
            "dim_names": f["dim"],
            "dims_key": [dims_key(d, str(v)) for d, v in zip(f["dim"], f["dim_value"], strict=True)],
            "extreme": f["extreme"],
        })  # fmt: skip

    def _long_closings(self, doubt: pd.DataFrame) -> CaseData:
        """Cases closed by the last as_of, opened in a doubtful period, that took longer to
        close than the shortest open wait there. Found on the cases table alone, then read
        whole (with their groups) by key: one range scan rather than a join per period."""
        t = Case.__table__
        shortest = doubt.groupby(["grain", "period"])["extreme"].min()
        earliest = min(pd.Timestamp(p) + pd.Timedelta(days=float(w)) for (_, p), w in shortest.items()) - MARGIN
        earliest = earliest.floor("s")
        with self.engine.connect() as conn:
            found = pd.read_sql(
                select(t.c.case_key, t.c.opened_at, t.c.closed_at).where(
                    t.c.closed_at <= self.a0.to_pydatetime(), t.c.closed_at > earliest.to_pydatetime()
                ),
                conn,
            )
        took = (pd.to_datetime(found["closed_at"]) - pd.to_datetime(found["opened_at"])).dt.total_seconds() / 86400.0
        opened = self.local_date(found["opened_at"])
        longer = np.zeros(len(found), dtype=bool)
        for grain in shortest.index.get_level_values(0).unique():
            starts, _ = self.periods(grain)
            waits = shortest[grain].reindex(starts).to_numpy(dtype=float)  # NaN: not doubtful
            idx = period_index(grain, starts, opened)
            w = np.where(idx >= 0, waits[np.maximum(idx, 0)], np.nan)
            longer |= took.to_numpy() > np.nan_to_num(w, nan=np.inf)
        keys = found.loc[longer, "case_key"].tolist()
        cases = read_cases_in(self.engine, self.settings, self.a1, t.c.case_key, keys)
        return prepare(self.settings, self.a1, cases, self.populations, self.eligible, self.first)

    def stock_changes(self, v: pd.DataFrame, ends: np.ndarray) -> np.ndarray:
        """Periods at whose end a moved case's place in the backlog differs between its
        versions: where only its closing moved, between the two closings; otherwise (it
        opened at another time, so its age and deadline differ too, or moved slice)
        wherever either version was open."""
        mask = np.zeros(ends.size + 1, dtype=np.int64)
        if v.empty:
            return mask[:-1] > 0
        enter = np.searchsorted(ends, v["opened_date"].to_numpy().astype("datetime64[D]"), side="left")
        closed = v["closed_date"].to_numpy().astype("datetime64[D]")
        leave = np.where(np.isnat(closed), ends.size, np.searchsorted(ends, closed, side="left"))
        v = v.assign(enter=enter, leave=leave)
        is_old = (v["age"] == "old").to_numpy()
        olds_n = pd.Series(is_old).groupby(v["case_key"].to_numpy()).transform("sum").to_numpy()
        news_n = pd.Series(~is_old).groupby(v["case_key"].to_numpy()).transform("sum").to_numpy()
        pair = v[(olds_n == 1) & (news_n == 1) & v["once"].astype(bool).to_numpy()]
        old = pair[pair["age"] == "old"].set_index("case_key")
        new = pair[pair["age"] == "new"].set_index("case_key").reindex(old.index)
        same = (old["opened_at"] == new["opened_at"]) & old["slice"].notna() & (old["slice"] == new["slice"])
        lo = np.minimum(old.loc[same, "leave"], new.loc[same, "leave"]).to_numpy(dtype=np.int64)
        hi = np.maximum(old.loc[same, "leave"], new.loc[same, "leave"]).to_numpy(dtype=np.int64)
        rest = v[~v["case_key"].isin(set(old.index[same]))]
        starts = np.concatenate([lo, rest["enter"].to_numpy(dtype=np.int64)])
        stops = np.concatenate([hi, rest["leave"].to_numpy(dtype=np.int64)])
        some = starts < stops
        np.add.at(mask, starts[some], 1)
        np.add.at(mask, stops[some], -1)
        return np.cumsum(mask)[:-1] > 0

    def window_changes(self, v: pd.DataFrame, ends: np.ndarray) -> np.ndarray:
        """Periods whose 12-month window holds a decision date of a moved application."""
        programmes = {k for k, s in self.settings.services.items() if s.entitlement}
        decided = v.loc[v["service"].isin(programmes) & v["closed_at"].notna(), "closed_date"]
        days = np.unique(decided.to_numpy().astype("datetime64[D]"))
        window_start = np.array(
            [
                np.datetime64((pd.Timestamp(e) + pd.Timedelta(days=1) - pd.DateOffset(months=12)).date(), "D")
                for e in ends
            ]
        )
        out = np.zeros(ends.size, dtype=bool)
        for d in days:
            out |= (window_start <= d) & (ends >= d)
        return out


def cols_names(cols: Iterable) -> list[str]:
    return [c.name for c in cols]


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=VERSION_COLUMNS)


def _view(df: pd.DataFrame, as_of: pd.Timestamp, age: str) -> pd.DataFrame:
    """Versions as a refresh with this cut-off saw them."""
    if df.empty:
        return df.reindex(columns=VERSION_COLUMNS)
    df = df.copy()
    for col in ("opened_at", "closed_at", "first_response_at"):
        df[col] = pd.to_datetime(df[col])
    df = df[df["opened_at"] <= as_of]
    df.loc[df["closed_at"] > as_of, "closed_at"] = pd.NaT
    df.loc[df["first_response_at"] > as_of, "first_response_at"] = pd.NaT
    return df.assign(age=age).reindex(columns=VERSION_COLUMNS)


# --- recomputing the touched periods --------------------------------------------------------


def _local_day_bounds(day: np.datetime64) -> tuple[dt.datetime, dt.datetime]:
    """UTC bounds surely holding every timestamp of a local day, in any time zone."""
    start = pd.Timestamp(day)
    return (start - MARGIN).to_pydatetime(), (start + pd.Timedelta(days=1) + MARGIN).to_pydatetime()


def _spans(starts_by_grain: dict[str, np.ndarray], before: pd.Timedelta, after: pd.Timedelta) -> list[tuple]:
    """Merged local-date spans covering the periods (widened by before/after)."""
    spans = []
    for grain, starts in starts_by_grain.items():
        for s, last in zip(starts, period_last_day(grain, starts), strict=True):
            spans.append((pd.Timestamp(s) - before, pd.Timestamp(last) + after))
    spans.sort()
    merged: list[list[pd.Timestamp]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + pd.Timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def cohort_cases(p: Plan, engine: Engine) -> pd.DataFrame:
    """The cases opened in the touched cohort periods, with the cases their repeat-contact
    and came-back flags look at: 30 days before, and 7 days after each closing."""
    t = Case.__table__
    spans = _spans(p.touched["cohort"], REPEAT_WINDOW + pd.Timedelta(days=1), FCR_WINDOW + pd.Timedelta(days=1))
    if not spans:
        return pd.DataFrame()
    utc = [(_local_day_bounds(lo)[0], _local_day_bounds(hi)[1]) for lo, hi in spans]
    where = or_(*(and_(t.c.opened_at >= lo, t.c.opened_at < hi) for lo, hi in utc))
    cases = read_cases(engine, p.settings, p.as_of, where)
    # A case closed after its span's end may have come back in a week no span covers.
    opened = cases["opened_at"].to_numpy()
    ends = np.array([hi for _, hi in utc], dtype="datetime64[ns]")
    span_end = ends[np.searchsorted(np.array([lo for lo, _ in utc], dtype="datetime64[ns]"), opened, side="right") - 1]
    late = cases["citizen_key"].notna() & cases["closed_at"].notna()
    late &= (cases["closed_at"] + FCR_WINDOW + pd.Timedelta(days=1)).to_numpy() > span_end
    citizens = cases.loc[late, "citizen_key"].unique().tolist()
    if citizens:
        extra = read_cases_in(engine, p.settings, p.as_of, t.c.citizen_key, citizens)
        cases = pd.concat([cases, extra], ignore_index=True).drop_duplicates("case_key")
    return cases.reset_index(drop=True)


def stock_cases(p: Plan, engine: Engine) -> pd.DataFrame:
    """The cases open at the end of some touched stock period."""
    t = Case.__table__
    ends = sorted({
        min(np.datetime64(last, "D"), p.as_of_date)
        for grain, starts in p.touched["stock"].items()
        for last in period_last_day(grain, starts)
    })  # fmt: skip
    if not ends:
        return pd.DataFrame()

    def opened_by(day: np.datetime64) -> ColumnElement:
        return t.c.opened_at < _local_day_bounds(day)[1]

    def not_closed_by(day: np.datetime64) -> ColumnElement:
        return or_(t.c.closed_at.is_(None), t.c.closed_at >= _local_day_bounds(day + np.timedelta64(1, "D"))[0])

    if len(ends) > MAX_CONDITIONS:  # open at some time in the span: a few more cases, one condition
        where = and_(opened_by(ends[-1]), not_closed_by(ends[0]))
    else:
        where = or_(*(and_(opened_by(d), not_closed_by(d)) for d in ends))
    return read_cases(engine, p.settings, p.as_of, where)


def window_cases(p: Plan, engine: Engine) -> pd.DataFrame:
    """Grants of entitlement programmes decided in the touched periods' 12-month windows."""
    t = Case.__table__
    programmes = [k for k, s in p.settings.services.items() if s.entitlement]
    spans = _spans(p.touched["window"], pd.Timedelta(days=0), pd.Timedelta(days=0))
    if not spans or not programmes:
        return pd.DataFrame()
    lo = min(s for s, _ in spans) - pd.DateOffset(months=12)
    hi = max(h for _, h in spans)
    where = and_(
        t.c.service.in_(programmes),
        t.c.outcome == "granted",
        t.c.closed_at >= _local_day_bounds(np.datetime64(lo.date(), "D"))[0],
        t.c.closed_at < _local_day_bounds(np.datetime64(hi.date(), "D"))[1],
    )
    return read_cases(engine, p.settings, p.as_of, where)


def read_cases_in(
    engine: Engine, settings: Settings, as_of: pd.Timestamp, column: ColumnElement, values: list
) -> pd.DataFrame:
    """read_cases of the cases whose `column` is one of `values`, in chunks (databases cap
    the length of IN lists); with no values, an empty frame with every column."""
    if not values:
        return read_cases(engine, settings, as_of, Case.__table__.c.case_key.is_(None), few=True)
    chunks = [values[i : i + IN_CHUNK] for i in range(0, len(values), IN_CHUNK)]
    return pd.concat([read_cases(engine, settings, as_of, column.in_(c), few=True) for c in chunks], ignore_index=True)


def data_for(p: Plan, cases: pd.DataFrame, fam: str, grain: str | None = None) -> CaseData:
    """CaseData to recompute a family's touched periods (of one grain only, if given: each
    grain's cells rest on their own periods' cases, so a touched year need not make every
    month of it be recomputed)."""
    settings = p.settings
    if grain is not None:
        only = settings.metrics.model_copy(update={"grains": (grain,)})
        settings = settings.model_copy(update={"metrics": only})
    data = prepare(settings, p.as_of, cases, p.populations, p.eligible, p.first)
    data.focus = p.touched[fam] if grain is None else {grain: p.touched[fam].get(grain, np.array([]))}
    return data


def grain_cases(p: Plan, cases: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Of the cases read for the touched cohort periods (cohort_cases), those one grain's
    touched periods need: their own cases, 31 days before them and 8 days after, and every
    case read of a citizen whose case there closed later than that."""
    spans = _spans({grain: p.touched["cohort"].get(grain, np.array([]))},
                   REPEAT_WINDOW + pd.Timedelta(days=1), FCR_WINDOW + pd.Timedelta(days=1))  # fmt: skip
    if not spans or cases.empty:
        return cases.iloc[:0]
    day = cases["opened_date"].to_numpy().astype("datetime64[ns]")
    inside = np.zeros(len(cases), dtype=bool)
    end = np.full(len(cases), np.datetime64("NaT"), dtype="datetime64[ns]")
    for lo, hi in spans:
        hit = (day >= np.datetime64(lo)) & (day <= np.datetime64(hi))
        inside |= hit
        end[hit] = np.datetime64(hi + pd.Timedelta(days=1))
    closed = cases["closed_at"].to_numpy().astype("datetime64[ns]")
    late = inside & cases["citizen_key"].notna().to_numpy() & ~np.isnat(closed)
    late[late] = (closed[late] + np.timedelta64(8, "D")) > end[late] - np.timedelta64(1, "D")
    citizens = set(cases.loc[late, "citizen_key"])
    return cases[inside | cases["citizen_key"].isin(citizens).to_numpy()].reset_index(drop=True)


def keep_touched(cells: pd.DataFrame, touched: dict[str, np.ndarray]) -> pd.DataFrame:
    """Only the cells of touched (grain, period)."""
    if cells.empty:
        return cells
    period = pd.to_datetime(cells["period"]).to_numpy().astype("datetime64[D]")
    return cells[_in_touched(cells.assign(period=period), touched)]


def backlog_existence(
    engine: Engine, p: Plan, cohort: pd.DataFrame, stock: pd.DataFrame
) -> tuple[list[dict], list[dict]]:
    """Backlog cells that exist or not by whether their slice exists yet (a case of theirs
    opened by then, as cases_opened's cells show), whatever is open: (cells of 0 to add,
    cells to delete).

    In touched periods, a slice with nothing open at the period's end is absent from the
    recomputed cells and gets its 0. In other periods, a slice whose first case now opens
    earlier gets its 0 from then on (the cases that moved into it are open only in touched
    periods), and one whose first case now opens later, or no longer exists, loses its
    cells before that. `cohort` and `stock` are the recomputed cells."""
    m = CATALOGUE["cases_opened"]
    with engine.connect() as conn:
        stored = pd.read_sql(
            select(MetricCell.grain, MetricCell.period, MetricCell.dim_names, MetricCell.dims_key).where(
                (MetricCell.metric == m.id) & (MetricCell.definition_version == m.version)
            ),
            conn,
        )
    stored["period"] = pd.to_datetime(stored["period"]).to_numpy().astype("datetime64[D]")
    slice_cols = ["grain", "dim_names", "dims_key"]
    before = stored.groupby(slice_cols)["period"].min()
    kept = stored[~_in_touched(stored, p.touched["cohort"])]
    after = pd.concat([kept, _keyed(cohort[cohort["metric"] == m.id])]).groupby(slice_cols)["period"].min()
    first = pd.concat([before.rename("before"), after.rename("after")], axis=1).reset_index()
    never = np.datetime64("9999-12-31", "D")
    first[["before", "after"]] = first[["before", "after"]].fillna(pd.Timestamp(never))
    first["before"] = first["before"].to_numpy().astype("datetime64[D]")
    first["after"] = first["after"].to_numpy().astype("datetime64[D]")
    add: list[dict] = []
    drop: list[dict] = []
    for grain, all_starts in p.starts.items():
        touched = p.touched["stock"].get(grain, np.array([], dtype="datetime64[D]"))
        f = first[first["grain"] == grain]
        grid = f.merge(pd.DataFrame({"at": all_starts}), how="cross")
        grid["touched"] = np.isin(grid["at"].to_numpy(), touched)
        exists = grid["after"] <= grid["at"]
        existed = grid["before"] <= grid["at"]
        for metric in SEEN_FROM_FIRST_CASE:
            have = _keyed(stock[(stock["metric"] == metric) & (stock["grain"] == grain)])
            known = set(zip(have["period"], have["dims_key"], have["dim_names"], strict=True))
            computed = np.array(
                [(a, k, n) in known for a, k, n in zip(grid["at"], grid["dims_key"], grid["dim_names"], strict=True)],
                dtype=bool,
            )
            new_zero = exists & ((grid["touched"] & ~computed) | (~grid["touched"] & ~existed))
            gone = ~grid["touched"] & existed & ~exists
            for sel, out in ((new_zero, add), (gone, drop)):
                for r in grid[sel].itertuples():
                    out.append({
                        "metric": metric, "definition_version": CATALOGUE[metric].version, "grain": grain,
                        "period": pd.Timestamp(r.at).date(), "dim_names": r.dim_names, "dims_key": r.dims_key,
                        "across": "", "value": 0.0, "n": 0,
                    })  # fmt: skip
    return add, drop


def _keyed(cells: pd.DataFrame) -> pd.DataFrame:
    """grain, period, dim_names, dims_key of computed cells, as stored."""
    return pd.DataFrame(
        {
            "grain": cells["grain"].to_numpy(),
            "period": pd.to_datetime(cells["period"]).to_numpy().astype("datetime64[D]"),
            "dim_names": cells["dim"].to_numpy(),
            "dims_key": [dims_key(d, str(v)) for d, v in zip(cells["dim"], cells["dim_value"], strict=True)],
        }
    )


def _in_touched(df: pd.DataFrame, touched: dict[str, np.ndarray]) -> np.ndarray:
    out = np.zeros(len(df), dtype=bool)
    for grain, starts in touched.items():
        out |= (df["grain"].to_numpy() == grain) & np.isin(df["period"].to_numpy(), starts)
    return out
