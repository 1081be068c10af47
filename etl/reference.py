"""Reference tables: residents and eligible people by year, region and group.

Rows are mapped by config: `columns` names the source column of each canonical field and
`values` maps source values to canonical ones, as for cases.

Crosswalks. A value map may send several source values to one canonical key, e.g. the
neighbourhoods of a census table to the larger areas a case file uses (`Allston: Allston /
Brighton`, `Brighton: Allston / Brighton`). Such rows are the parts of one slice and are
summed: the residents of the parts add up. Low/high estimates and recipients sum the same
way, and a sum with a missing part is missing (null), never a partial total. A part that is
quarantined makes the whole slice quarantined, since the total would miss it. The same
source values given twice (same year, programme, region, breakdown and category as read)
are one figure repeated, not parts: the later row is quarantined as a duplicate.

Counting. Every source row ends up either loaded or quarantined. A row that went into a
sum is loaded, so one stored row may stand for several loaded source rows; the returned
frame's `parts` column says how many (the runner counts loaded rows from it).

Wide tables. Published tables often give one column per period (`pop 2013-2017`,
`pop 2015-2019`) and no breakdown columns. For `year`, `programme`, `attribute` and `group`,
when `values[field]` has an entry for the *header* of the column `columns[field]` names,
every row takes that value: the header labels the whole column. E.g. `columns: {population:
pop 2015-2019, year: pop 2015-2019, attribute: pop 2015-2019, group: pop 2015-2019}` with
`values: {year: {pop 2015-2019: "2019"}, attribute: {pop 2015-2019: All residents},
group: {pop 2015-2019: ""}}` reads the column as the regions' total residents in 2019.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.mapping import Reasons, quarantine_frame, quoted
from metrics.config import ReferenceCsvSource, Settings

INT_FIELDS = ("population", "eligible", "eligible_low", "eligible_high", "recipients")
# Read as counts too, then turned into eligible people (recipients + non-recipients).
NON_RECIPIENT_FIELDS = ("non_recipients", "non_recipients_low", "non_recipients_high")
RATE_FIELDS = ("rate", "rate_low", "rate_high")
# Fields a wide table may carry in a column's header instead of in a column of their own.
HEADER_FIELDS = ("year", "programme", "attribute", "group")
KEY = ("year", "programme", "region", "attribute", "group_value")
DUPLICATE = "duplicate of an earlier row for the same year, region and group"


def map_reference(raw: pd.DataFrame, src: ReferenceCsvSource, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical rows, one per (year, [programme,] region, attribute, group), parts summed;
    and quarantined rows (_row, reason, raw). `rows["parts"]` counts the source
    rows the canonical rows stand for, so rows loaded + rows quarantined = rows read."""
    reasons = Reasons(raw.index)
    out = pd.DataFrame(index=raw.index)
    from_header = {f for f in HEADER_FIELDS if src.columns.get(f) in src.values.get(f, {})}
    text = {
        f: (
            pd.Series(src.values[f][c], index=raw.index, dtype=object)
            if f in from_header
            else raw[c].astype(str).str.strip()
        )
        for f, c in src.columns.items()
    }
    # A constant is a value the whole table shares; it is taken as the canonical value.
    from_header |= set(src.constants)
    text |= {f: pd.Series(v, index=raw.index, dtype=object) for f, v in src.constants.items()}

    def mapped(field: str, values: pd.Series, keep_empty: bool = False) -> pd.Series:
        return values if field in from_header else _mapped(field, values, src, reasons, keep_empty)

    year_text = mapped("year", text["year"])
    year = pd.to_numeric(year_text, errors="coerce")
    unmapped_year = (year_text == "") & (text["year"] != "")  # already has its reason
    reasons.add(
        (year.isna() | (year != year.round())) & ~unmapped_year, "year: expected a year, got " + quoted(text["year"])
    )
    out["year"] = year.fillna(0).astype(np.int64)
    whole_area = text["region"] == src.all_regions_label if src.all_regions_label else text["region"] != text["region"]
    out["region"] = mapped("region", text["region"]).where(~whole_area, "")
    reasons.add((out["region"] == "") & ~whole_area, "region: empty")
    if "programme" in text:
        out["programme"] = mapped("programme", text["programme"])
        entitled = [k for k, v in settings.services.items() if v.entitlement]
        reasons.add(
            ~out["programme"].isin(entitled) & (out["programme"] != ""),
            "programme: " + quoted(out["programme"]) + f" is not an entitlement service {entitled}",
        )

    is_total = text["attribute"] == src.total_label
    attribute = mapped("attribute", text["attribute"].where(~is_total, ""), keep_empty=True)
    group = mapped("group", text["group"].where(~is_total, ""), keep_empty=True)
    known = attribute.isin(list(settings.groups)) | is_total
    reasons.add(~known & (attribute != ""), "attribute: " + quoted(attribute) + " is not a configured group attribute")
    for attr, spec in settings.groups.items():
        rows = attribute == attr
        reasons.add(rows & ~group.isin(spec.values), f"group: not a value of {attr}: " + quoted(group))
    out["attribute"] = attribute.where(~is_total, "")
    out["group_value"] = group.where(~is_total, "")

    for field in (*INT_FIELDS, *NON_RECIPIENT_FIELDS):
        if field not in text:
            continue
        digits = text[field].str.replace(",", "", regex=False)
        value = pd.to_numeric(digits.where(digits != ""), errors="coerce") * src.scale
        # Figures in thousands times 1000 are whole; float error is not a fraction of a person.
        value = value.where((value - value.round()).abs() > 1e-6, value.round())
        required = field in ("population", "eligible", "non_recipients") and "rate" not in text
        bad = (value < 0) | (value != value.round()) & value.notna()
        if required:
            bad |= value.isna()
        bad |= value.isna() & (text[field] != "")
        reasons.add(bad, f"{field}: expected a whole number >= 0, got " + quoted(text[field]))
        out[field] = value.where(~bad).astype("Int64")
    if "non_recipients" in out:
        _eligible_from_non_recipients(out, reasons)
    for field in RATE_FIELDS:
        if field in text:
            out[field] = _rate(field, text[field], src.rate_unit, reasons)
    if "rate" in out:
        reasons.add(
            (text["rate"] == "") & (out["eligible"].isna() if "eligible" in out else True),
            "rate: expected a published rate or a count of eligible people",
        )
    for low, mid, high in (("eligible_low", "eligible", "eligible_high"), ("rate_low", "rate", "rate_high")):
        if {low, high} <= set(out):
            lo, m, hi = out[low], out[mid], out[high]
            reasons.add((lo > m).fillna(False) | (m > hi).fillna(False), f"{mid}: low <= {mid} <= high does not hold")

    key = [c for c in KEY if c in out]
    # A row as the file gives it: its year and the source values of the other key fields
    # (a total row has no category). Two rows alike in these are one figure given twice.
    as_read = pd.DataFrame({"year": out["year"]}, index=raw.index)
    for field in ("programme", "region", "attribute", "group"):
        if field in text:
            as_read[field] = text[field].where(~is_total, "") if field == "group" else text[field]
    repeated = as_read.duplicated(keep="first")
    reasons.add(repeated & ~reasons.bad, DUPLICATE)

    # Rows that differ as read but share a canonical key are parts of one slice. If any part
    # is quarantined, the others are too: their sum would miss it.
    part = ~repeated
    slice_id = pd.Series(out.groupby(key, sort=False).ngroup(), index=raw.index)
    bad_part = part & reasons.bad
    bad_rows = raw.loc[bad_part, "_row"].astype(str).groupby(slice_id[bad_part]).agg(", ".join)
    incomplete = part & ~reasons.bad & slice_id.isin(bad_rows.index)
    reasons.add(
        incomplete,
        "summed with quarantined row(s) " + slice_id.map(bad_rows).fillna("") + " of the same year, region and group",
    )

    bad = reasons.bad
    quarantined = quarantine_frame(raw, reasons)
    return _sum_parts(out[~bad], key), quarantined.reset_index(drop=True)


def _eligible_from_non_recipients(out: pd.DataFrame, reasons: Reasons) -> None:
    """Publishers of take-up (e.g. the UK DWP) give recipients and entitled non-recipients,
    the latter with a range: eligible people are their sum, the range shifted alike."""
    recipients = out["recipients"] if "recipients" in out else pd.Series(pd.NA, index=out.index, dtype="Int64")
    reasons.add(recipients.isna() & out["non_recipients"].notna(), "recipients: needed with non_recipients")
    for part, whole in zip(NON_RECIPIENT_FIELDS, ("eligible", "eligible_low", "eligible_high"), strict=True):
        if part in out:
            out[whole] = recipients + out.pop(part)


def _rate(field: str, text: pd.Series, unit: str, reasons: Reasons) -> pd.Series:
    value = pd.to_numeric(text.where(text != ""), errors="coerce")
    if unit == "percent":
        # 78.6 / 100 is 0.78599999... in binary: keep the published digits.
        value = (value / 100).round(12)
    bad = (value.isna() & (text != "")) | (value < 0) | (value > 1)
    expected = "a percentage from 0 to 100" if unit == "percent" else "a fraction from 0 to 1"
    reasons.add(bad, f"{field}: expected {expected}, got " + quoted(text))
    return value.where(~bad).astype(float)


def _sum_parts(good: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """One row per canonical key, in order of first appearance; each count the sum of its
    parts, null if any part is null; `parts` says how many source rows went into it."""
    fields = [f for f in INT_FIELDS if f in good]
    rates = [f for f in RATE_FIELDS if f in good]
    grouped = good.groupby(key, sort=False)
    sums = grouped[fields].sum()
    missing = grouped[fields].count().lt(grouped.size(), axis=0)
    sums = sums.mask(missing).astype("Int64")
    # A rate is not a count: parts of one slice cannot be summed into it, so a crosswalk
    # that merges rows leaves the rate unknown rather than invent one.
    for f in rates:
        sums[f] = grouped[f].first().where(grouped.size() == 1)
    sums["parts"] = grouped.size()
    return sums.reset_index()[[*key, *fields, *rates, "parts"]]


def _mapped(
    field: str, text: pd.Series, src: ReferenceCsvSource, reasons: Reasons, keep_empty: bool = False
) -> pd.Series:
    mapping = src.values.get(field)
    if mapping is None:
        return text
    mapped = text.map(mapping)
    if keep_empty:
        mapped = mapped.where(text != "", "")
    reasons.add(mapped.isna(), f"{field}: no mapping for " + quoted(text))
    return mapped.fillna("").astype(object)
