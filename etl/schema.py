"""The rules a mapped case must keep, as a pandera schema built from the settings.

`etl.mapping` reads a source's text (date-times, value maps, numbers) into a canonical frame
and reports what it cannot read; this schema then checks the *values* of that frame. The
split keeps one reason per problem: a cell that could not be read is null (or empty) here,
and the checks let a null pass, so an unreadable date is not also "before opened_at"
(`etl.mapping` keeps one reason per field of a row where an empty value still fails).

The frame the schema expects (one row per source row, positional index):

- source_id, service, channel, region, outcome and each group attribute: text, '' = empty
  (group attributes already carry their not-stated value instead of '');
- opened_at, first_response_at, closed_at: naive UTC datetime64[ns], NaT = not given or unreadable;
- handoffs, reopened, rating: float64, NaN = unreadable (or, for rating, empty).

Each check's `error` is the reason a person fixing the export reads after "<column>: ", with
`{value}` standing for the offending value as shown. A check across columns is a
dataframe-wide check named after the column it reports on. `failures` validates lazily
(every rule on every row in one pass) and turns pandera's failure cases into those reasons.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from metrics.config import OUTCOMES, CaseMapping, Settings

# Reasons shared with the parsing step in etl.mapping: text that cannot be read as a number
# breaks the same rule as a number out of range, and reads the same to the person fixing it.
WHOLE_NUMBER = "expected a whole number >= 0, got '{value}'"
RATING = "expected 1 to 5 or empty, got '{value}'"
RATINGS = (1, 2, 3, 4, 5)
COUNT_FIELDS = ("handoffs", "reopened")

# A case id seen on an earlier row of the same file (within a part, by the schema; across
# the parts of a large file, by etl.files).
REPEATED = "appears earlier in the same file ({value})"

# Failures pandera finds itself rather than through a Check, and how they read.
BUILTIN_REASONS = {"not_nullable": "empty"}

FAILURE_COLUMNS = ["row", "field", "reason"]
TEXT = pd.Series([""]).astype(str).dtype


def case_schema(settings: Settings, src: CaseMapping) -> pa.DataFrameSchema:
    """The value rules for cases of `src`: which depend on the source (strict services and
    regions, mapped channels, its group attributes) and on the configured vocabularies.

    Every check is vectorised (a whole column at a time): an element-wise check would call
    Python once per cell, which on a 200,000-row batch costs more than the rest of mapping.
    """
    not_empty = pa.Check(lambda s: s != "", name="not_empty", error="empty", ignore_na=False)
    columns: dict[str, pa.Column] = {
        "source_id": _text(
            [
                not_empty,
                # Empty ids are reported as empty above, not as repeats of one another.
                pa.Check(
                    lambda s: ~s.duplicated(keep="first") | (s == ""),
                    name="unique",
                    error=REPEATED,
                    ignore_na=False,
                ),
            ]
        ),
        "opened_at": pa.Column("datetime64[ns]", nullable=False),
        "first_response_at": pa.Column("datetime64[ns]", nullable=True),
        "closed_at": pa.Column("datetime64[ns]", nullable=True),
    }

    service = [not_empty]
    if src.strict_services:
        service.append(_one_of([*settings.services, ""], "'{value}' is not a configured service"))
    columns["service"] = _text(service)
    region = []
    if src.strict_regions and settings.regions:
        region.append(_one_of([*(r.id for r in settings.regions), ""], "'{value}' is not a configured region"))
    columns["region"] = _text(region)
    channel = []
    if settings.channels and "channel" in src.values:
        channel.append(_one_of([*settings.channels, ""], "'{value}' is not a configured channel"))
    columns["channel"] = _text(channel)
    columns["outcome"] = _text([_one_of([*OUTCOMES, ""], f"'{{value}}' is not one of {list(OUTCOMES)}")])

    for field in COUNT_FIELDS:
        columns[field] = pa.Column(
            float,
            # 'inf' is read as a number by pandas; it is no count.
            pa.Check(lambda s: (s >= 0) & (s == s.round()) & np.isfinite(s), name="whole_number", error=WHOLE_NUMBER),
            nullable=True,
        )
    columns["rating"] = pa.Column(float, _one_of(list(RATINGS), RATING, ignore_na=True), nullable=True)

    for attr in src.groups:
        values = settings.groups[attr].values
        columns[attr] = _text([_one_of(list(values), f"'{{value}}' is not one of {list(values)}")])

    return pa.DataFrameSchema(
        columns,
        checks=[_not_before_opened(field) for field in ("closed_at", "first_response_at")],
        name="cases",
        strict=False,
        coerce=False,
    )


def _text(checks: list[pa.Check]) -> pa.Column:
    """A text column: strings by construction, '' for empty, never null.

    Its dtype is the one pandas gives `.astype(str)` (object before pandas 3), not pandera's
    `str`: that one proves every cell a str with one isinstance call per cell, 1.8 million
    calls on a 200,000-row batch of the demo's nine text columns, two thirds of the time
    validation took. The checks of a text column skip pandera's null handling for the same
    reason: no nulls to drop, and finding none costs a scan per check."""
    return pa.Column(TEXT, checks, nullable=False)


def _one_of(allowed: list, error: str, ignore_na: bool = False) -> pa.Check:
    # `Series.isin` on the whole column; a failure case is the value itself.
    return pa.Check.isin(allowed, name="one_of", error=error, ignore_na=ignore_na)


def _not_before_opened(field: str) -> pa.Check:
    """A dataframe-wide check named after the column it reports on. NaT compares false, so a
    missing or unreadable time on either side passes: its reason is given elsewhere. That
    is also why pandera's own null handling is off: it would scan the whole frame for nulls.

    Its failing rows are read from the check's output (`SchemaError.check_output`), not from
    failure cases, so pandera is asked for one example only: for a dataframe-wide check it
    melts every column of every failing row into failure cases, a pandas `stack` over mixed
    dtypes that took a minute for a 200,000-row batch all of whose rows failed."""
    return pa.Check(
        lambda df: ~(df[field] < df["opened_at"]),
        name=field,
        error="before opened_at",
        ignore_na=False,
        n_failure_cases=1,
    )


def failures(
    schema: pa.DataFrameSchema, frame: pd.DataFrame, shown: Mapping[str, pd.Series] | None = None
) -> pd.DataFrame:
    """Validate lazily and return every broken rule: one row per (frame row, field, reason),
    rows in order and each row's reasons in the schema's order (columns and their checks,
    then the checks across columns).

    `frame` must have a RangeIndex: `row` is a position in it. `shown` gives, per column, the
    values to quote in reasons instead of the frame's own (e.g. the text of a rating as
    read, '7', rather than 7.0). A failure that is not about rows (a column missing or of
    the wrong type) is a bug in the caller, not bad data, and raises.
    """
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
        raise ValueError("failures() needs a frame with a RangeIndex from 0: reasons name rows by position")
    # An environment variable (PANDERA_VALIDATION_ENABLED, PANDERA_VALIDATION_DEPTH) may turn
    # pandera's checks off or down to types only; the quarantine must not depend on it.
    with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        try:
            schema.validate(frame, lazy=True, inplace=True)
        except SchemaErrors as exc:
            return _reasons(schema, exc, frame, shown or {})
    return _no_failures()


def _no_failures() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype=np.int64), "field": pd.Series(dtype=object), "reason": ""})[
        FAILURE_COLUMNS
    ]


def _reasons(
    schema: pa.DataFrameSchema, exc: SchemaErrors, frame: pd.DataFrame, shown: Mapping[str, pd.Series]
) -> pd.DataFrame:
    cases = exc.failure_cases
    not_rows = cases[cases["index"].isna()]
    if not not_rows.empty:
        first = not_rows.iloc[0]
        raise TypeError(
            f"mapped cases do not fit the case schema: {first['column']}: {first['check']} ({first['failure_case']})"
        )
    order = {name: i for i, name in enumerate(schema.columns)}
    parts = []
    # Column checks: the column is the field; a failure case per failing cell.
    column_cases = cases[cases["schema_context"] == "Column"]
    for (column, check, number), group in column_cases.groupby(
        ["column", "check", column_cases["check_number"].astype(np.float64).fillna(-1)], sort=False
    ):
        if number >= 0:
            template = schema.columns[column].checks[int(number)].error
        elif check in BUILTIN_REASONS:
            template = BUILTIN_REASONS[check]
        else:
            raise TypeError(f"mapped cases do not fit the case schema: {column}: {check}")
        rows = group["index"].to_numpy(dtype=np.int64)
        parts.append((order[column], number, column, rows, _fill(template, column, rows, frame, shown)))
    # Checks across columns: every row the check's output marks as failing (see _not_before_opened).
    for err in exc.schema_errors:
        if not isinstance(err.schema, pa.DataFrameSchema) or not isinstance(err.check, pa.Check):
            continue
        number, check = err.check_index, err.check
        rows = np.flatnonzero(~err.check_output.to_numpy(dtype=bool))
        parts.append(
            (len(order) + int(number), 0, check.name, rows, np.full(len(rows), f"{check.name}: {check.error}"))
        )
    if not parts:
        return _no_failures()
    parts.sort(key=lambda p: (p[0], p[1]))
    out = pd.concat(
        [pd.DataFrame({"row": rows, "field": field, "reason": reasons}) for _, _, field, rows, reasons in parts],
        ignore_index=True,
    )
    # Rows in file order, and each row's reasons in the schema's order.
    return out.sort_values("row", kind="stable", ignore_index=True)


def _fill(
    template: str, column: str, rows: np.ndarray, frame: pd.DataFrame, shown: Mapping[str, pd.Series]
) -> np.ndarray:
    """'<column>: ' + the template, `{value}` replaced by each row's value as shown."""
    head, sep, tail = template.partition("{value}")
    if not sep:
        return np.full(len(rows), f"{column}: {template}", dtype=object)
    values = (shown[column] if column in shown else frame[column]).iloc[rows].astype(str).to_numpy(dtype=object)
    return f"{column}: {head}" + values + tail
