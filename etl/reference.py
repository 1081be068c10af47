"""Reference tables: residents and eligible people by year, region and group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.mapping import Reasons, quarantine_frame, quoted
from metrics.config import ReferenceCsvSource, Settings

INT_FIELDS = ("population", "eligible", "eligible_low", "eligible_high", "recipients")


def map_reference(raw: pd.DataFrame, src: ReferenceCsvSource, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical rows and quarantined rows (_row, reason, raw)."""
    reasons = Reasons(raw.index)
    out = pd.DataFrame(index=raw.index)
    text = {f: raw[c].astype(str).str.strip() for f, c in src.columns.items()}

    year = pd.to_numeric(text["year"], errors="coerce")
    reasons.add(year.isna() | (year != year.round()), "year: expected a year, got " + quoted(text["year"]))
    out["year"] = year.fillna(0).astype(np.int64)
    out["region"] = _mapped("region", text["region"], src, reasons)
    reasons.add(out["region"] == "", "region: empty")
    if "programme" in text:
        out["programme"] = _mapped("programme", text["programme"], src, reasons)
        entitled = [k for k, v in settings.services.items() if v.entitlement]
        reasons.add(
            ~out["programme"].isin(entitled) & (out["programme"] != ""),
            "programme: " + quoted(out["programme"]) + f" is not an entitlement service {entitled}",
        )

    is_total = text["attribute"] == src.total_label
    attribute = _mapped("attribute", text["attribute"].where(~is_total, ""), src, reasons, keep_empty=True)
    group = _mapped("group", text["group"].where(~is_total, ""), src, reasons, keep_empty=True)
    known = attribute.isin(list(settings.groups)) | is_total
    reasons.add(~known & (attribute != ""), "attribute: " + quoted(attribute) + " is not a configured group attribute")
    for attr, spec in settings.groups.items():
        rows = attribute == attr
        reasons.add(rows & ~group.isin(spec.values), f"group: not a value of {attr}: " + quoted(group))
    out["attribute"] = attribute.where(~is_total, "")
    out["group_value"] = group.where(~is_total, "")

    for field in INT_FIELDS:
        if field not in text:
            continue
        value = pd.to_numeric(text[field].str.replace(",", "", regex=False).replace("", np.nan), errors="coerce")
        required = field in ("population", "eligible")
        bad = (value < 0) | (value != value.round()) & value.notna()
        if required:
            bad |= value.isna()
        reasons.add(bad, f"{field}: expected a whole number >= 0, got " + quoted(text[field]))
        out[field] = value.astype("Int64")
    if {"eligible_low", "eligible_high"} <= set(text):
        lo, mid, hi = out["eligible_low"], out["eligible"], out["eligible_high"]
        reasons.add(
            (lo > mid).fillna(False) | (mid > hi).fillna(False), "eligible: low <= eligible <= high does not hold"
        )

    key = [c for c in ("year", "programme", "region", "attribute", "group_value") if c in out]
    dup = out.duplicated(subset=key, keep="first") & ~reasons.bad
    reasons.add(dup, "duplicate of an earlier row for the same year, region and group")
    bad = reasons.bad
    quarantined = quarantine_frame(raw, reasons)
    return out[~bad].reset_index(drop=True), quarantined.reset_index(drop=True)


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
