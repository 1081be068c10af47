"""Small-number suppression over whole families of related tables, applied in the query
layer to every cell anyone reads.

Primary: a figure resting on fewer than `min_cell_size` cases is suppressed (its n below the
threshold, or a cell already stored as suppressed), and so is a cell that carries a count
(numerator or denominator) without an n, since nothing shows that count to be large enough.

Secondary: a suppressed figure must not be recoverable by subtraction from figures published
anywhere, not only in the table being read. Published counts are tied by linear relations
`total = sum of parts`, all derived from the catalogue's declarations (metrics.catalogue:
`Count`, `IDENTITIES`) and from the cells' dimensions, never guessed from the values:

- dimensions: for a table broken down by dimensions D and each d in D, the cells sharing the
  values of D minus d are the parts of the cell of table D minus d (categories add up to the
  whole population; combined slices such as age_band x region add up to the region table
  and to the age-band table). Pseudo-dimensions are dimensions like any other (backlog_age's
  bands add up to backlog_open's n), except `MetricDefinition.n_whole_dims`, whose
  categories all rest on the whole slice's n (rating_share);
- one dimension nested in another, given by the caller (`Nesting`: each service belongs to
  one department): the services of a department add up to the department;
- time, for counts that add up over time (`Count.adds_over_time`, cohorts by opening
  period): the months of a quarter add up to the quarter, the quarters of a year to the year
  (ISO weeks do not nest in months, and stocks and 12-month windows do not add up at all);
- identities between the counts of different indicators (`IDENTITIES`): cases with and
  without a handoff add up to the cases opened;
- a count that is all the cases of some categories (`Count.within`: applications are the
  cases of the entitlement services) equals its parent count in each such category;
- a count that is part of another (`Count.part_of`: cases with a citizen key, closed cases)
  equals it wherever the two n are the same (every case of the slice is keyed, or closed), and
  an outsider sees that they are: there the two are tied;
- an indicator computed across the categories of a dimension publishes as n the sum of the n
  of the categories it used (those with a value and n at or above the refresh's threshold,
  i.e. the largest categories with a value, read off the sums): the used categories add up to
  that n, and that n plus the categories left out add up to the whole.

Indicators whose n is the same Count publish the same number in every cell (cases_opened,
coverage_per_1000, resolution_days_median... all rest on the cases opened; backlog_overdue's
n is backlog_open's), so the decision is taken on counts (nodes of a graph), not on cells,
and a cell is hidden when the count it publishes is. The family of an indicator is every
indicator whose counts are tied to its own (`family`); the decision is taken over the whole
family at once (`decide`), so it is the same whichever table is read, and then applied to the
table read (`Decision.pattern`).

The rule is the classic one for linked tables (the hypercube heuristic): while a relation has
exactly one hidden member among its total and parts, that member could be recovered by
subtraction, so one more member is hidden: a part rather than the total (totals are the most
used figures); among parts the one that closes the most such relations at once (so that the
hidden cells of two linked tables meet in a rectangle instead of spreading); then the
smallest n. It repeats to a fixed point, where no relation has exactly one hidden member: no
suppressed count can be recovered from one relation (a total less the parts shown). It is not
an audit against every linear combination of relations, which would take an integer program.

A suppressed cell keeps no number at all: not its value, nor its n, nor its numerator,
denominator or interval, since any of them could give the small count away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from metrics.catalogue import CATALOGUE, COUNTS, IDENTITIES, MetricDefinition

HIDDEN = ["value", "n", "numerator", "denominator", "ci_low", "ci_high"]
SECONDARY_NOTE = "suppressed: would reveal a smaller suppressed figure"
UNCOUNTED_NOTE = "suppressed: counts resting on an unknown number of cases"

# Dimensions nested in others: {(child dimension, parent dimension): {child value: parent
# value}}, e.g. {("service", "department"): {"pothole": "Transport", ...}}.
Nesting = Mapping[tuple[str, str], Mapping[str, str]]

COUNT_IDS = tuple(COUNTS)
GRAINS = ("week", "month", "quarter", "year")
MONTH, QUARTER, YEAR = 1, 2, 3


def primary_note(min_cell_size: int) -> str:
    return f"suppressed: fewer than {min_cell_size} cases"


# --- families ---------------------------------------------------------------------------------


@cache
def _families() -> dict[str, tuple[str, ...]]:
    """Each indicator's family: the indicators whose counts are joined to its own by an
    identity, by `Count.within` or by `Count.part_of`."""
    parent = {c: c for c in COUNTS}

    def root(c: str) -> str:
        while parent[c] != c:
            c = parent[c]
        return c

    for identity in IDENTITIES:
        for part in identity.parts:
            parent[root(part)] = root(identity.total)
    for c in COUNTS.values():
        if c.within is not None:
            parent[root(c.id)] = root(c.within[0])
        if c.part_of is not None:
            parent[root(c.id)] = root(c.part_of)
    groups: dict[str, list[str]] = {}
    for m in CATALOGUE.values():
        groups.setdefault(root(m.count.id), []).append(m.id)
    return {m: tuple(sorted(groups[root(CATALOGUE[m].count.id)])) for m in CATALOGUE}


def family(metric: str) -> tuple[str, ...]:
    """The indicators (sorted ids) whose cells are suppressed together with `metric`'s."""
    return _families()[metric]


# --- applying a pattern ------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """Per cell: hidden, and whether for a small number of its own (primary)."""

    hidden: np.ndarray
    primary: np.ndarray


def _flag(cells: pd.DataFrame) -> np.ndarray:
    if "suppressed" not in cells:
        return np.zeros(len(cells), dtype=bool)
    return cells["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def uncounted(cells: pd.DataFrame) -> np.ndarray:
    """Cells that carry a count (numerator or denominator) but no n: take-up where no eligible
    population is known still counts its recipients. Nothing shows that such a count rests on
    enough cases, so it is not shown (a publisher's rate without counts has neither, and stays)."""
    counts = np.zeros(len(cells), dtype=bool)
    for c in ("numerator", "denominator"):
        if c in cells:
            counts |= cells[c].notna().to_numpy()
    return counts & np.isnan(cells["n"].to_numpy(dtype=float))


def primary(cells: pd.DataFrame, min_cell_size: int) -> np.ndarray:
    """Cells resting on fewer than `min_cell_size` cases, on a number of cases not known while
    carrying counts (`uncounted`), or stored suppressed."""
    return _flag(cells) | (cells["n"].to_numpy(dtype=float) < min_cell_size) | uncounted(cells)


def apply(cells: pd.DataFrame, p: Pattern, min_cell_size: int) -> pd.DataFrame:
    """`cells` with the pattern's cells emptied and noted: "suppressed: fewer than N cases"
    or "suppressed: would reveal a smaller suppressed figure", after the cell's own note when
    its value was undefined anyway; a cell stored as suppressed keeps its own note."""
    df = cells.copy()
    already = _flag(df)
    unknown = uncounted(df)
    # A figure that was undefined anyway keeps the note saying why, before the suppression's.
    note = (df["note"] if "note" in df else pd.Series(None, index=df.index)).astype(object)
    why = df["value"].isna().to_numpy() & note.map(lambda x: isinstance(x, str) and bool(x)).to_numpy()
    df["suppressed"] = p.hidden
    df.loc[p.hidden, HIDDEN] = np.nan
    df["note"] = note
    df.loc[p.primary & ~already, "note"] = primary_note(min_cell_size)
    df.loc[p.primary & ~already & unknown, "note"] = UNCOUNTED_NOTE
    df.loc[p.hidden & ~p.primary, "note"] = SECONDARY_NOTE
    kept = p.hidden & ~already & why
    df.loc[kept, "note"] = note[kept] + "; " + df.loc[kept, "note"]
    return df


def suppress(cells: pd.DataFrame, min_cell_size: int, nesting: Nesting | None = None) -> pd.DataFrame:
    """Suppressed copy of `cells` (metric_cells columns: metric, grain, period, dim_names,
    dims_key, across, value, n, ..., suppressed, note). `cells` must hold every table of the
    families of the tables in it for the secondary suppression to hold."""
    return apply(cells, decide(cells, min_cell_size, nesting).pattern(cells), min_cell_size)


# --- keys -------------------------------------------------------------------------------------


def _split(dims_key: str) -> list[tuple[str, str]]:
    if not dims_key:
        return []
    return [tuple(part.split("=", 1)) for part in dims_key.split("|")]  # type: ignore[misc]


def _join(parts: Iterable[tuple[str, str]]) -> str:
    return "|".join(f"{d}={v}" for d, v in sorted(parts))


class _Vocab:
    """Integer codes for strings, growing as new ones are seen."""

    def __init__(self, first: Iterable[str] = ()) -> None:
        self.codes: dict[str, int] = {}
        for s in first:
            self.code(s)

    def code(self, s: str) -> int:
        return self.codes.setdefault(s, len(self.codes))


@dataclass(frozen=True)
class _Space:
    """How a node's parts (tag, count, grain, day, dims) make one int64 key."""

    n_counts: int
    n_days: int
    first_day: int
    n_dims: int

    def key(self, tag: Any, count: Any, grain: Any, day: Any, dims: Any) -> np.ndarray:
        """Keys of nodes given their parts (arrays or Series of ints, all the same length)."""
        offset = np.asarray(day, dtype=np.int64) - self.first_day
        k = (np.asarray(tag, dtype=np.int64) * self.n_counts + count) * len(GRAINS) + grain
        out = (k * self.n_days + offset) * self.n_dims + dims
        # A part out of its range would alias another node's key: such a cell has no node.
        bad = (np.asarray(tag) < 0) | (np.asarray(count) < 0) | (np.asarray(grain) < 0) | (np.asarray(dims) < 0)
        bad |= (offset < 0) | (offset >= self.n_days)
        return np.where(bad, -1, out)


def _codes_of(vocab: Mapping[str, int], values: pd.Series) -> np.ndarray:
    """Codes of `values` (-1 for strings not in `vocab`), looked up once per distinct value."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    return np.array([vocab.get(u, -1) for u in uniq], dtype=np.int64)[codes]


def _days(periods: pd.Series) -> np.ndarray:
    codes, uniq = pd.factorize(periods)
    days = pd.to_datetime(pd.Series(uniq)).to_numpy().astype("datetime64[D]").astype(np.int64)
    return days[codes] if len(uniq) else np.zeros(len(periods), dtype=np.int64)


# --- the decision -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The hidden counts of a family, and how to find the counts a cell publishes."""

    keys: pd.Index  # int64 key of each node
    hidden: np.ndarray  # per node
    space: _Space
    dims: dict[str, int]
    tags: dict[str, int]
    min_cell_size: int

    def pattern(self, cells: pd.DataFrame) -> Pattern:
        """Hidden cells among `cells` (any cells of the family): a cell is hidden when its
        count (the node its n is) is. A cell whose count the decision did not see (a table
        written since) is hidden, so that nothing escapes the decision unseen."""
        own = primary(cells, self.min_cell_size)
        hidden = own.copy()
        known = cells["metric"].isin(list(CATALOGUE)).to_numpy()
        if not known.any():
            return Pattern(hidden, own)
        node = self.keys.get_indexer(_bindings(cells[known].reset_index(drop=True), self.space, self.dims, self.tags))
        hidden[known] |= np.where(node >= 0, self.hidden[np.maximum(node, 0)], True)
        return Pattern(hidden, own)


def _tag(cells: pd.DataFrame, defs: dict[str, MetricDefinition]) -> pd.Series:
    """'' for a plain cell; for one computed across categories, what it sums and the sum
    (indicators summing the same categories share the count)."""
    out = np.full(len(cells), "", dtype=object)
    across = cells["across"].fillna("").to_numpy(dtype=object)
    sel = np.flatnonzero(across != "")
    if sel.size:
        required = {m: d.requires[0] for m, d in defs.items() if d.is_across}
        metric, n = cells["metric"].to_numpy()[sel], cells["n"].to_numpy(dtype=float)[sel]
        out[sel] = [f"{required.get(m, m)}:{a}:{x!r}" for m, a, x in zip(metric, across[sel], n, strict=True)]
    return pd.Series(out, index=cells.index)


def _plain_dims(cells: pd.DataFrame, defs: dict[str, MetricDefinition]) -> pd.Series:
    """The slice a cell's n counts: its dims_key less the dimensions that do not split n."""
    dims_key = cells["dims_key"].fillna("").astype(str)
    whole = {m: d.n_whole_dims for m, d in defs.items() if d.n_whole_dims}
    if not whole:
        return dims_key
    # Once per distinct (indicator, key), not per cell: a curve has a cell per day in every
    # period, over a hundred thousand of them, but only a few hundred distinct keys.
    out = dims_key.to_numpy(dtype=object).copy()
    metric = cells["metric"].to_numpy()
    for m, dims in whole.items():
        mine = metric == m
        codes, keys = pd.factorize(out[mine])
        out[mine] = np.array([_join(p for p in _split(k) if p[0] not in dims) for k in keys], dtype=object)[codes]
    return pd.Series(out, index=cells.index)


def _bindings(
    cells: pd.DataFrame, space: _Space, dims: dict[str, int], tags: dict[str, int],
    plain_dims: pd.Series | None = None, tag: pd.Series | None = None,
) -> np.ndarray:  # fmt: skip
    """The key of the count each cell's n is (-1 where the slice or tag is unknown)."""
    defs = {m: CATALOGUE[m] for m in cells["metric"].unique()}
    plain_dims = _plain_dims(cells, defs) if plain_dims is None else plain_dims
    tag = _tag(cells, defs) if tag is None else tag
    count = cells["metric"].map({m: COUNT_IDS.index(d.count.id) for m, d in defs.items()}).to_numpy()
    grain = cells["grain"].map({g: i for i, g in enumerate(GRAINS)}).fillna(-1).to_numpy(dtype=np.int64)
    return space.key(_codes_of(tags, tag), count, grain, _days(cells["period"]), _codes_of(dims, plain_dims))


def decide(cells: pd.DataFrame, min_cell_size: int, nesting: Nesting | None = None) -> Decision:
    """Decide which counts of the family in `cells` to hide (see the module docstring)."""
    nesting = nesting or {}
    cells = cells[cells["metric"].isin(list(CATALOGUE))].reset_index(drop=True)
    defs = {m: CATALOGUE[m] for m in cells["metric"].unique()}
    plain_dims = _plain_dims(cells, defs)
    # Every slice key, its parents without one dimension, and its nesting parents.
    vocab = _Vocab([""])
    uniq = list(pd.unique(plain_dims))
    for k in uniq:
        vocab.code(k)
    lattice_rows, nest_rows, has_dim = [], [], {}
    dim_ids = _Vocab()
    for k in uniq:
        comps = _split(k)
        for d, _ in comps:
            lattice_rows.append((vocab.codes[k], dim_ids.code(d), vocab.code(_join(p for p in comps if p[0] != d))))
        has_dim[vocab.codes[k]] = {d for d, _ in comps}
        for (child, par), mapping in nesting.items():
            values = dict(comps)
            if child in values and par not in values and values[child] in mapping:
                values[par] = mapping[values.pop(child)]
                nest_rows.append((vocab.codes[k], f"{child}>{par}", vocab.code(_join(values.items()))))
    tag = _tag(cells, defs)
    tags = _Vocab([""])
    for t in pd.unique(tag):
        tags.code(t)
    day = _days(cells["period"]) if len(cells) else np.zeros(0, dtype=np.int64)
    first = int(day.min()) - 400 if day.size else 0  # room for the year holding the first month
    space = _Space(len(COUNT_IDS), (int(day.max()) + 1 - first) if day.size else 1, first, len(vocab.codes))
    bound = pd.DataFrame({"key": _bindings(cells, space, vocab.codes, tags.codes, plain_dims, tag),
                          "n": cells["n"].to_numpy(dtype=float), "flag": _flag(cells)})  # fmt: skip
    # Indicators of one count publish the same n; a stored flag on any of them counts.
    agg = bound.groupby("key", sort=False).agg(n=("n", "max"), flag=("flag", "any"))
    nodes = _decompose(agg.index.to_numpy(), space)
    nodes["n"], nodes["flag"] = agg["n"].to_numpy(), agg["flag"].to_numpy()
    index = pd.Index(nodes["key"].to_numpy())
    b = _Builder(nodes, index, space)
    b.lattice(pd.DataFrame(lattice_rows, columns=["dims", "dim", "parent"], dtype=np.int64))
    b.nesting(pd.DataFrame(nest_rows, columns=["dims", "what", "parent"]))
    b.time()
    b.identities()
    b.within(has_dim)
    b.parts()
    unresolved = b.across(cells, defs, plain_dims, vocab.codes, dim_ids.codes, tags.codes)
    n = nodes["n"].to_numpy(dtype=float)
    start = nodes["flag"].to_numpy(dtype=bool) | (n < min_cell_size)
    # An across cell whose categories cannot be told could rest on anything: hidden.
    start[unresolved] = True
    hidden = _solve(n, start, *b.members())
    return Decision(index, hidden, space, vocab.codes, tags.codes, min_cell_size)


def _decompose(keys: np.ndarray, space: _Space) -> pd.DataFrame:
    k = keys.astype(np.int64)
    dims, k = k % space.n_dims, k // space.n_dims
    day, k = k % space.n_days + space.first_day, k // space.n_days
    grain, k = k % len(GRAINS), k // len(GRAINS)
    count, tag = k % space.n_counts, k // space.n_counts
    return pd.DataFrame({"key": keys, "tag": tag, "count": count, "grain": grain, "day": day, "dims": dims})


class _Builder:
    """Collects the members of every relation: (relation key, node, is_total)."""

    def __init__(self, nodes: pd.DataFrame, index: pd.Index, space: _Space) -> None:
        self.nodes, self.index, self.space = nodes, index, space
        self.plain = nodes[nodes["tag"] == 0].assign(nid=lambda f: f.index.to_numpy())
        self.rels: list[np.ndarray] = []
        self.node: list[np.ndarray] = []
        self.total: list[np.ndarray] = []
        self.kinds: dict[str, int] = {}
        # Each plain node beside its parent slice without one dimension (set by `lattice`,
        # read again by `across`).
        self.up = pd.DataFrame(columns=["nid", "count", "grain", "day", "dims", "dim", "parent"])

    def _kind(self, name: str) -> int:
        return self.kinds.setdefault(name, len(self.kinds))

    def add(self, kind: np.ndarray | int, anchor: np.ndarray, parts: np.ndarray, total: np.ndarray) -> None:
        """Relations named by (kind, anchor): `parts` each with its `total` node."""
        # Kinds are few (< 4096); anchors are node keys or node ids, so (anchor, kind) is unique.
        rel = np.asarray(anchor, dtype=np.int64) * 4096 + kind
        self.rels += [rel, rel]
        self.node += [np.asarray(parts, dtype=np.int64), np.asarray(total, dtype=np.int64)]
        self.total += [np.zeros(len(rel), dtype=bool), np.ones(len(rel), dtype=bool)]

    def _key(self, count: np.ndarray, grain: np.ndarray, day: np.ndarray, dims: np.ndarray) -> np.ndarray:
        return self.space.key(np.zeros(len(count), dtype=np.int64), count, grain, day, dims)

    def lattice(self, up: pd.DataFrame) -> None:
        """For table D and each d in D: the cells sharing D minus d add up to that cell."""
        m = self.plain.merge(up, on="dims")
        pk = self._key(m["count"], m["grain"], m["day"], m["parent"].to_numpy())
        kind = np.array([self._kind(f"dim:{i}") for i in range(int(up["dim"].max()) + 1)] if len(up) else [0])
        self.add(kind[m["dim"].to_numpy()] if len(m) else 0, pk, m["nid"], self.index.get_indexer(pk))
        self.up = m

    def nesting(self, up: pd.DataFrame) -> None:
        """The children of a parent value (the services of a department) add up to it."""
        for what, rows in up.groupby("what"):
            m = self.plain.merge(rows.astype({"dims": np.int64, "parent": np.int64}), on="dims")
            pk = self._key(m["count"], m["grain"], m["day"], m["parent"].to_numpy())
            self.add(self._kind(f"nest:{what}"), pk, m["nid"], self.index.get_indexer(pk))

    def time(self) -> None:
        """Months add up to quarters, quarters (or months, without quarters) to years."""
        over_time = [i for i, c in enumerate(COUNT_IDS) if COUNTS[c].adds_over_time]
        timed = self.plain[self.plain["count"].isin(over_time).to_numpy()]
        grains = set(timed["grain"])
        steps = [(MONTH, QUARTER), (QUARTER, YEAR)] if QUARTER in grains else [(MONTH, YEAR)]
        for fine, coarse in steps:
            sub = timed[timed["grain"] == fine]
            if sub.empty or coarse not in grains:
                continue
            month = sub["day"].to_numpy().astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            width = 3 if coarse == QUARTER else 12
            up = (month - month % width).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
            pk = self._key(sub["count"], np.full(len(sub), coarse), up, sub["dims"])
            self.add(self._kind("time"), pk, sub["nid"], self.index.get_indexer(pk))

    def identities(self) -> None:
        """The parts of an identity between counts add up to its total, slice by slice."""
        for i, identity in enumerate(IDENTITIES):
            sub = self.plain[self.plain["count"].isin([COUNT_IDS.index(p) for p in identity.parts])]
            total = np.full(len(sub), COUNT_IDS.index(identity.total))
            pk = self._key(total, sub["grain"], sub["day"], sub["dims"])
            self.add(self._kind(f"identity:{i}"), pk, sub["nid"], self.index.get_indexer(pk))

    def within(self, has_dim: dict[int, set[str]]) -> None:
        """A count that is all the cases of some categories equals its parent in each of them."""
        for c in COUNTS.values():
            if c.within is None:
                continue
            parent, dim = c.within
            sub = self.plain[self.plain["count"] == COUNT_IDS.index(c.id)]
            sub = sub[np.array([dim in has_dim.get(k, ()) for k in sub["dims"]], dtype=bool)]
            pk = self._key(np.full(len(sub), COUNT_IDS.index(parent)), sub["grain"], sub["day"], sub["dims"])
            self.add(self._kind(f"within:{c.id}"), pk, sub["nid"], self.index.get_indexer(pk))

    def parts(self) -> None:
        """A count equal to the count it is part of (`Count.part_of`) in a slice is the same
        cases: every case of the slice has a citizen key, or is closed. Where one shows the
        n the other hides, subtraction starts from it, so the two are tied there."""
        n = self.nodes["n"].to_numpy(dtype=float)
        for c in COUNTS.values():
            if c.part_of is None:
                continue
            sub = self.plain[self.plain["count"] == COUNT_IDS.index(c.id)]
            pk = self._key(np.full(len(sub), COUNT_IDS.index(c.part_of)), sub["grain"], sub["day"], sub["dims"])
            whole = self.index.get_indexer(pk)
            same = (whole >= 0) & (n[sub["nid"].to_numpy()] == n[np.maximum(whole, 0)])
            self.add(self._kind(f"part:{c.id}"), pk[same], sub["nid"].to_numpy()[same], whole[same])

    def across(
        self, cells: pd.DataFrame, defs: dict[str, MetricDefinition], plain_dims: pd.Series,
        dims: dict[str, int], dim_ids: dict[str, int], tags: dict[str, int],
    ) -> np.ndarray:  # fmt: skip
        """Relations of the indicators computed across the categories of a dimension; returns
        the across nodes whose categories could not be told."""
        across = self.nodes[self.nodes["tag"] > 0]
        if across.empty:
            return np.zeros(0, dtype=np.int64)
        names = {code: t.split(":", 2) for t, code in tags.items() if code}
        a = pd.DataFrame({
            "nid": across.index.to_numpy(), "required": across["tag"].map(lambda t: names[t][0]).to_numpy(),
            "dim": across["tag"].map(lambda t: dim_ids.get(names[t][1], -1)).to_numpy(),
            "count": across["count"].to_numpy(), "grain": across["grain"].to_numpy(),
            "day": across["day"].to_numpy(), "parent": across["dims"].to_numpy(),
            "sum": across["n"].to_numpy(dtype=float),
        })  # fmt: skip
        # The category cells of the indicators they are computed from, those with a value.
        sel = cells["metric"].isin(set(a["required"])).to_numpy() & cells["value"].notna().to_numpy()
        sel &= cells["n"].notna().to_numpy()
        req = cells[sel]
        code = pd.Series(dims).reindex(plain_dims[sel].to_numpy()).to_numpy(dtype=np.int64)
        cand = pd.DataFrame({
            "required": req["metric"].to_numpy(), "dims": code, "day": _days(req["period"]),
            "grain": req["grain"].map({g: i for i, g in enumerate(GRAINS)}).to_numpy(),
            "n": req["n"].to_numpy(dtype=float),
        })  # fmt: skip
        up = self.up[["dims", "dim", "parent"]].drop_duplicates()
        cand = cand.merge(up, on="dims").merge(a, on=["required", "dim", "grain", "day", "parent"])
        cand["node"] = self.index.get_indexer(
            self._key(cand["count"], cand["grain"], cand["day"], cand["dims"].to_numpy())
        )
        cand = cand.sort_values(["nid", "n"], ascending=[True, False], kind="stable")
        g = cand.groupby("nid")
        cand["cum"], cand["rank"], nxt = g["n"].cumsum(), g.cumcount(), g["n"].shift(-1)
        # A threshold takes all categories of equal n or none: the sum can only stop where n drops.
        stop = (nxt.isna() | (nxt < cand["n"])) & (np.abs(cand["cum"] - cand["sum"]) < 0.5)
        last = cand[stop].groupby("nid")["rank"].min()
        cand = cand.join(last.rename("last"), on="nid")
        used = cand[cand["rank"] <= cand["last"]]
        # The used categories add up to the across cell's n.
        self.add(self._kind("across-used"), used["nid"], used["node"], used["nid"])
        # The whole is the across cell's n plus the categories left out.
        solved = a[a["nid"].isin(set(used["nid"]))]
        whole_key = self._key(solved["count"], solved["grain"], solved["day"], solved["parent"].to_numpy())
        whole = self.index.get_indexer(whole_key)
        kind = self._kind("across-rest")
        self.add(kind, solved["nid"], solved["nid"], whole)
        members = self.up[["nid", "count", "grain", "day", "dim", "parent"]].rename(columns={"nid": "node"})
        rest = solved.assign(whole=whole).merge(members, on=["count", "grain", "day", "dim", "parent"])
        pair = rest["nid"].to_numpy() * (len(self.nodes) + 1) + rest["node"].to_numpy()
        rest = rest[~np.isin(pair, used["nid"].to_numpy() * (len(self.nodes) + 1) + used["node"].to_numpy())]
        self.add(kind, rest["nid"], rest["node"], rest["whole"])
        return a.loc[~a["nid"].isin(set(used["nid"])), "nid"].to_numpy(dtype=np.int64)

    def members(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Relations that have their total and a part, numbered 0..R-1: (rel, node, is_total)."""
        if not self.rels:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=bool)
        m = pd.DataFrame({"rel": np.concatenate(self.rels), "node": np.concatenate(self.node),
                          "is_total": np.concatenate(self.total)})  # fmt: skip
        m = m[m["node"] >= 0].drop_duplicates(["rel", "node"])
        stats = m.groupby("rel")["is_total"].agg(["sum", "size"])
        ok = stats.index[(stats["sum"] == 1) & (stats["size"] >= 2)]
        m = m[m["rel"].isin(ok)]
        rel = pd.factorize(m["rel"])[0].astype(np.int64)
        return rel, m["node"].to_numpy(dtype=np.int64), m["is_total"].to_numpy(dtype=bool)


def _solve(n: np.ndarray, start: np.ndarray, rel: np.ndarray, node: np.ndarray, is_total: np.ndarray) -> np.ndarray:
    """Hide more nodes until no relation has exactly one hidden member (module docstring)."""
    hidden = start.copy()
    if rel.size == 0:
        return hidden
    R, N = int(rel.max()) + 1, hidden.size
    size = np.where(np.isnan(n), np.inf, n)
    while True:
        h = hidden[node]
        lonely = np.bincount(rel, weights=h, minlength=R) == 1
        if not lonely.any():
            return hidden
        in_lonely = lonely[rel]
        closes = np.bincount(node[in_lonely], minlength=N)  # lonely relations each node is in
        cand = np.flatnonzero(in_lonely & ~h)
        cn = node[cand]
        order = np.lexsort((cn, size[cn], -closes[cn], is_total[cand], rel[cand]))
        r = rel[cand][order]
        first = np.r_[True, r[1:] != r[:-1]]
        hidden[cn[order][first]] = True
