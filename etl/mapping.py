"""Mapping a source's rows to canonical cases, and finding the rows that cannot be loaded.

Two steps, both on whole columns (no per-row Python): reading the text (date-times, value
maps, numbers), which reports what cannot be read; then the rules on the values read, the
pandera schema of `etl.schema`, validated lazily. Every problem adds its reason to the row,
one per field, in field order; a row with any reason is quarantined with all of them, so a
person fixing the export sees every problem of the row at once.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from etl.privacy import NOT_STORED, QUARANTINE_PREFIX, dropped_columns, pseudonym_key, pseudonymise
from etl.schema import COUNT_FIELDS, RATING, REPEATED, WHOLE_NUMBER, case_schema, failures
from metrics.config import CASE_FIELDS, CaseMapping, Settings

NOT_STATED = "Not stated"
TIMESTAMP_FIELDS = ("opened_at", "first_response_at", "closed_at", "due_at")
DIM_FIELDS = ("service", "department", "channel", "region")


@dataclass(frozen=True)
class Mapped:
    cases: pd.DataFrame  # canonical columns, one row per good source row
    groups: pd.DataFrame  # case_key, attribute, value
    quarantined: pd.DataFrame  # _row, reason, raw (JSON, without personal data)


class Reasons:
    def __init__(self, index: pd.Index):
        self.text = pd.Series("", index=index, dtype=object)

    def add(self, mask: pd.Series | np.ndarray, message: str | pd.Series) -> None:
        mask = pd.Series(mask, index=self.text.index).fillna(False).astype(bool)
        if not mask.any():
            return
        msg = message[mask] if isinstance(message, pd.Series) else message
        current = self.text[mask]
        self.text[mask] = current.where(current == "", current + "; ") + msg

    @property
    def bad(self) -> pd.Series:
        return self.text != ""


@dataclass(frozen=True)
class Quote:
    """A reason that quotes each row's own text, `before` + 'text' + `after`: built only for
    the rows that have the reason (most have none, and building the text of every row of
    every check was a sixth of a large load's mapping)."""

    before: str
    text: pd.Series
    after: str = ""

    def at(self, rows: np.ndarray) -> np.ndarray:
        return self.before + self.text.iloc[rows].astype(str).to_numpy(dtype=object) + self.after


class FieldReasons:
    """Reasons found while reading a source's text, each about one field of one row: rows
    by position, in the long form of `etl.schema.failures` so that both can be merged."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, message: str | Quote, field: str) -> None:
        rows = np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool))
        if len(rows):
            text = message.at(rows) if isinstance(message, Quote) else message
            self.parts.append(pd.DataFrame({"row": rows, "field": field, "reason": text}))


def map_cases(
    raw: pd.DataFrame,
    job: str,
    src: CaseMapping,
    settings: Settings,
    key: bytes | None = None,
    repeated: np.ndarray | None = None,
) -> Mapped:
    """Canonical cases of the rows that keep every rule, and the others quarantined with all
    their reasons. Text that cannot be read is reported here, as it is parsed; the rules on
    the values read are the pandera schema of `etl.schema`, checked lazily on the whole batch.

    Citizen ids become pseudonyms under `key` (by default the environment's, etl.privacy);
    personal columns still in `raw` are left out of everything, the quarantine included.

    `repeated` marks rows whose id appeared earlier in the file, in an earlier part of it
    (etl.files.CaseFileParts): quarantined as the schema's own rule says of repeats within
    `raw`."""
    if key is None:
        key = pseudonym_key(job, src)
    raw = raw.drop(columns=[c for c in dropped_columns(src) if c in raw.columns])
    parsed = FieldReasons()
    out = pd.DataFrame(index=raw.index)

    def column(field: str) -> pd.Series:
        if field in src.columns:
            return stripped(raw[src.columns[field]])
        if field in src.constants:
            return pd.Series(src.constants[field], index=raw.index, dtype=object)
        return pd.Series("", index=raw.index, dtype=object)

    source_id = column("source_id")
    if repeated is not None:
        parsed.add(pd.Series(repeated, index=raw.index), _quoting(REPEATED, source_id, "source_id: "), "source_id")
    out["source"] = job
    out["source_id"] = source_id
    out["case_key"] = job + ":" + source_id

    tz = src.timezone or settings.timezone
    for field in TIMESTAMP_FIELDS:
        text = column(field)
        stamps, bad = parse_local_times(text, src.datetime_format, tz)
        parsed.add(
            bad,
            Quote(f"{field}: cannot read '", text, f"' as a date-time ({src.datetime_format or 'ISO 8601'})"),
            field,
        )
        out[field] = stamps

    for field in ("service", "channel", "region", "department", "outcome"):
        out[field] = _map_values(field, column(field), src, parsed)

    out["citizen_key"] = pseudonymise(column("citizen_key"), key)
    # Numbers: text that is no number is a reason here; whether a number is allowed is the
    # schema's rule. Both read alike, quoting the text as the source has it.
    shown: dict[str, pd.Series] = {}
    for field in COUNT_FIELDS:
        text = column(field)
        num = pd.to_numeric(text.replace("", "0"), errors="coerce").astype(np.float64)
        parsed.add(num.isna(), _quoting(WHOLE_NUMBER, text, f"{field}: "), field)
        out[field], shown[field] = num, text
    text = column("rating")
    rating = pd.to_numeric(text.where(text != ""), errors="coerce").astype(np.float64)
    parsed.add((text != "") & rating.isna(), _quoting(RATING, text, "rating: "), "rating")
    out["rating"], shown["rating"] = rating, text

    groups: dict[str, pd.Series] = {}
    for attr, col in src.groups.items():
        text = stripped(raw[col])
        value = _map_values(attr, text, src, parsed)
        groups[attr] = value.where(value != "", settings.groups[attr].not_stated)

    # The store keys combined slices as "a=x|b=y": a value with '|' in it would be read back
    # as two slices. `values` can map such a value to another.
    for field, value in [*((f, out[f]) for f in ("service", "channel", "region", "department")), *groups.items()]:
        # Checked on the column's distinct values (a few dozen), not on every row.
        barred = [v for v in pd.unique(value) if "|" in str(v)]
        has_bar = value.isin(barred) if barred else pd.Series(False, index=value.index)
        parsed.add(has_bar, Quote(f"{field}: '", value, "' contains '|', which separates slices; map it"), field)
    reasons = _reasons(parsed, case_schema(settings, src), out, groups, shown, [*CASE_FIELDS, *src.groups])

    bad = reasons.bad
    # Only rows that keep every rule are finished into cases: the casts below hold for them
    # alone (a count of 1.5 or 'inf' has no int64, a rating of 2.5 no Int64).
    good = out[~bad].copy()
    known_dept = good["service"].map(settings.service_department())
    if "department" in src.columns:
        good["department"] = good["department"].where(good["department"] != "", known_dept)
    else:
        good["department"] = known_dept
    for field in DIM_FIELDS:
        good[field] = good[field].where(good[field] != "", NOT_STATED)
    good["outcome"] = good["outcome"].where(good["outcome"] != "", None)
    for field in COUNT_FIELDS:
        good[field] = good[field].astype(np.int64)
    good["rating"] = good["rating"].astype("Int64")
    good["row_hash"] = row_hash(good, {a: v[~bad] for a, v in groups.items()})
    group_rows = (
        pd.concat(
            [pd.DataFrame({"case_key": good["case_key"], "attribute": a, "value": v[~bad]}) for a, v in groups.items()],
            ignore_index=True,
        )
        .iloc[_case_by_case(len(good), list(groups))]
        .reset_index(drop=True)
        if groups
        else pd.DataFrame(columns=["case_key", "attribute", "value"])
    )
    # The quarantine shows the citizen id as its pseudonym, never as read, and each personal
    # column by a placeholder: the row keeps its columns (a fixed row loads again through
    # the same source), not their values.
    shown = {c: NOT_STORED for c in dropped_columns(src)}
    if (citizen := src.columns.get("citizen_key")) in raw.columns:
        shown[citizen] = _carried(out["citizen_key"])
    quarantined = quarantine_frame(raw.assign(**shown), reasons)
    return Mapped(good.reset_index(drop=True), group_rows, quarantined.reset_index(drop=True))


def _case_by_case(n: int, attributes: list[str]) -> np.ndarray:
    """The order that puts each case's group rows together, its attributes sorted: the
    order of case_groups' primary key (case_key, attribute) when the cases come in key
    order, so a load appends to that index instead of going over the part's key range once
    per attribute (each pass rereading pages the last one wrote)."""
    blocks = np.argsort(np.array(attributes, dtype=object), kind="stable")
    return (blocks[None, :] * n + np.arange(n)[:, None]).ravel()


def _reasons(
    parsed: FieldReasons,
    schema: pa.DataFrameSchema,
    out: pd.DataFrame,
    groups: dict[str, pd.Series],
    shown: dict[str, pd.Series],
    fields: list[str],
) -> Reasons:
    """Every row's reasons, parsing's and the schema's, one per field and in field order.

    One per field: a field that could not be read is null or empty in the frame the schema
    sees, so its rules may fail too ("service: no mapping for 'XX'" then "service: empty");
    the parsing reason is the one that says what is wrong, and is kept alone."""
    frame = pd.DataFrame({name: (groups[name] if name in groups else out[name]).to_numpy() for name in schema.columns})
    found = pd.concat(
        [*parsed.parts, failures(schema, frame, {f: s.reset_index(drop=True) for f, s in shown.items()})],
        ignore_index=True,
    )
    reasons = Reasons(out.index)
    if found.empty:
        return reasons
    rank = {field: i for i, field in enumerate(fields)}
    found = found.drop_duplicates(["row", "field"]).assign(rank=lambda f: f["field"].map(rank))
    found = found.sort_values(["row", "rank"], kind="stable")
    # Join each row's reasons with '; ' in one pass over the sorted entries (a groupby with
    # str.join calls Python per row: seconds when a whole batch is bad).
    rows = found["row"].to_numpy()
    first = np.r_[True, rows[1:] != rows[:-1]]
    text = found["reason"].to_numpy(dtype=object)
    text = np.where(first, text, "; " + text)
    message = pd.Series("", index=out.index, dtype=object)
    message.iloc[rows[first]] = np.add.reduceat(text, np.flatnonzero(first))
    reasons.add(message != "", message)
    return reasons


def _carried(pseudonyms: pd.Series) -> pd.Series:
    """Pseudonyms as the quarantine shows them (`pseudonym:<hex>`, read back as such)."""
    return (QUARANTINE_PREFIX + pseudonyms.astype(str)).where(pseudonyms.notna(), "")


def quarantine_frame(raw: pd.DataFrame, reasons: Reasons) -> pd.DataFrame:
    """The bad rows: source row number, every reason, and the row as read (JSON); map_cases
    gives it the rows with personal columns and the citizen id replaced."""
    bad = reasons.bad
    cols = [c for c in raw.columns if c != "_row"]
    return pd.DataFrame(
        {
            "_row": raw.loc[bad, "_row"],
            "reason": reasons.text[bad],
            "raw": [
                json.dumps(dict(zip(cols, r, strict=True)), ensure_ascii=False)
                for r in raw.loc[bad, cols].itertuples(index=False, name=None)
            ],
        }
    ).reset_index(drop=True)


def per_distinct(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`fn` (elementwise) of `values`, computed once per distinct value: a part's services,
    regions and minutes repeat thousands of times each."""
    codes, distinct = pd.factorize(values)
    done = fn(pd.Series(distinct, dtype=values.dtype)).to_numpy()
    out = done[np.maximum(codes, 0)] if len(done) else np.empty(len(values), dtype=object)
    if (missing := codes < 0).any():
        # Missing values as themselves: factorize makes None and NaN one (str gives 'None'
        # of one and 'nan' of the other).
        out = out.astype(object)
        out[missing] = fn(values[missing]).to_numpy()
    return pd.Series(out, index=values.index, name=values.name)


def stripped(column: pd.Series) -> pd.Series:
    """A column of the source as text, without surrounding blanks."""
    return per_distinct(column, lambda v: v.astype(str).str.strip())


def quoted(text: pd.Series) -> pd.Series:
    return "'" + text.astype(str) + "'"


def _quoting(template: str, text: pd.Series, before: str = "") -> Quote:
    """A reason template of etl.schema with its `{value}` filled from `text`, row by row."""
    head, _, tail = template.partition("{value}")
    return Quote(before + head, text, tail)


def parse_local_times(text: pd.Series, fmt: str | None, tz: str) -> tuple[pd.Series, pd.Series]:
    """Local wall-clock strings -> naive UTC timestamps, and a mask of unreadable ones.

    Strings that carry an offset are converted from it. At the autumn clock change a
    local time occurs twice; it is read as the first (summer-time) one, and a time that
    does not exist in spring is moved forward, so no row is lost to the clock.

    Each distinct string is parsed once: a part of 200,000 cases holds some 25,000 distinct
    minutes, and pandas parses a column with empty cells (NaN) one value at a time (0.5 s a
    column, against 0.01 s for its distinct values).
    """
    codes, distinct = pd.factorize(text.to_numpy(dtype=object))
    if (codes < 0).any():  # a missing value rather than text: parsed as given
        return _parse_local_times(text, fmt, tz)
    utc, bad = _parse_local_times(pd.Series(distinct, dtype=object), fmt, tz)
    return (
        pd.Series(utc.to_numpy()[codes], index=text.index, name=text.name),
        pd.Series(bad.to_numpy()[codes], index=text.index, name=text.name),
    )


def _parse_local_times(text: pd.Series, fmt: str | None, tz: str) -> tuple[pd.Series, pd.Series]:
    present = text != ""
    with warnings.catch_warnings():
        # Offsets that differ (+00:00 in winter, +01:00 in summer: any feed across a clock
        # change) make pandas 2 warn that it will refuse them; read them as UTC below.
        warnings.simplefilter("error", FutureWarning)
        try:
            parsed = pd.to_datetime(text.where(present), format=fmt or "ISO8601", errors="coerce", utc=False)
        except (FutureWarning, ValueError):
            parsed = None
    if parsed is not None and getattr(parsed.dt, "tz", None) is not None:
        utc = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    elif parsed is None or parsed.dtype == object:  # several offsets, or offsets and naive values
        parsed = pd.to_datetime(text.where(present), format=fmt or "ISO8601", errors="coerce", utc=True)
        utc = parsed.dt.tz_localize(None)
    else:
        local = parsed.dt.tz_localize(tz, ambiguous=np.ones(len(parsed), dtype=bool), nonexistent="shift_forward")
        utc = local.dt.tz_convert("UTC").dt.tz_localize(None)
    return utc, present & utc.isna()


def _map_values(field: str, text: pd.Series, src: CaseMapping, parsed: FieldReasons) -> pd.Series:
    mapping = src.values.get(field)
    if mapping is None:
        return text
    mapped = text.map(mapping)
    unmapped = mapped.isna() & (text != "")
    parsed.add(unmapped, Quote(f"{field}: no mapping for '", text, "'"), field)
    # An empty cell with no mapping for '' stays empty (not stated / no outcome yet).
    return mapped.fillna("").astype(object)


def _stamp_texts(cases: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    """The timestamp columns `names` as text, as a frame's astype(str) writes them: pandas
    formats a frame's timestamp columns together, in one format for all of them (dates only
    when every one is a midnight; as many decimals of a second as any one needs), so the
    distinct values of all the columns are formatted together, once each."""
    factors = [pd.factorize(cases[n]) for n in names]
    union = np.concatenate([np.asarray(d, dtype="datetime64[ns]") for _, d in factors] or [np.array([], "M8[ns]")])
    text = pd.Series(union, dtype="datetime64[ns]").astype(str).to_numpy(dtype=object)
    out, start = {}, 0
    for name, (codes, distinct) in zip(names, factors, strict=True):
        part = text[start : start + len(distinct)]
        start += len(distinct)
        col = np.full(len(codes), "NaT", dtype=object)
        col[codes >= 0] = part[codes[codes >= 0]]
        out[name] = col
    return out


def row_hash(cases: pd.DataFrame, groups: dict[str, pd.Series]) -> pd.Series:
    """A digest of everything stored about a case, to tell changed rows from unchanged."""
    cols = [
        "service",
        "department",
        "channel",
        "region",
        "opened_at",
        "first_response_at",
        "closed_at",
        "due_at",
        "outcome",
        "citizen_key",
        "handoffs",
        "reopened",
        "rating",
    ]
    # As the text `cases[cols].astype(str)` gave (the digests stored must stay comparable),
    # each distinct value formatted once.
    stamps = [c for c in cols if pd.api.types.is_datetime64_dtype(cases[c])]
    texts = _stamp_texts(cases, stamps)
    frame = pd.DataFrame(
        {c: texts[c] if c in texts else per_distinct(cases[c], lambda v: v.astype(str)) for c in cols},
        index=cases.index,
    )
    for attr in sorted(groups):
        frame[attr] = groups[attr].astype(str).to_numpy()
    return pd.util.hash_pandas_object(frame, index=False).map("{:016x}".format)
