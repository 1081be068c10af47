"""Targets, holidays and annotated events from the spreadsheets programme offices keep.

Each row is checked like any other source row (a bad one is quarantined with its reasons,
rows read = loaded + quarantined): a target names a known indicator and sits on the right
side of its threshold for the indicator's direction; a holiday is a date marked `holiday`
or `working_day` (a weekend day worked to make up for a holiday, as in China); an event
has a date and an English label. A second row for the same key (indicator, date, date and
label) in one file is quarantined as a duplicate.
"""

from __future__ import annotations

import pandas as pd

from etl.mapping import Reasons, quarantine_frame, quoted
from metrics.config import LookupCsvSource

HOLIDAY_KINDS = ("holiday", "working_day")
EVENT_KINDS = ("minister", "system", "reorganisation", "policy", "other")


def map_lookup(raw: pd.DataFrame, src: LookupCsvSource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The valid rows in the store's columns, and the quarantined rows."""
    reasons = Reasons(raw.index)
    text = {f: raw[c].astype(str).str.strip() for f, c in src.columns.items()}
    for field, mapping in src.values.items():
        if field in text:
            text[field] = text[field].map(lambda v, m=mapping: m.get(v, v))
    out = pd.DataFrame(index=raw.index)
    if src.kind == "targets_csv":
        key = _targets(text, out, reasons)
    else:
        day = pd.to_datetime(text["date"], format="%Y-%m-%d", errors="coerce")
        reasons.add(day.isna(), "date: expected YYYY-MM-DD, got " + quoted(text["date"]))
        out["day"] = day.dt.date
        if src.kind == "holidays_csv":
            out["kind"] = text["kind"].str.lower().str.replace(" ", "_")
            expected = "kind: expected holiday or working_day, got "
            reasons.add(~out["kind"].isin(HOLIDAY_KINDS), expected + quoted(text["kind"]))
            out["name"] = text["name"].where(text["name"] != "") if "name" in text else None
            key = ["day"]
        else:
            out["label_en"] = text["label_en"]
            reasons.add(out["label_en"] == "", "label_en: empty")
            out["label_zh"] = text["label_zh"].where(text["label_zh"] != "") if "label_zh" in text else None
            kind = text["kind"].str.lower() if "kind" in text else pd.Series("other", index=raw.index)
            out["kind"] = kind.where(kind != "", "other")
            reasons.add(~out["kind"].isin(EVENT_KINDS), "kind: expected one of " + str(list(EVENT_KINDS)) + ", got "
                        + quoted(kind))  # fmt: skip
            key = ["day", "label_en"]
    repeated = out[key].astype(str).duplicated(keep="first") & ~reasons.bad
    reasons.add(repeated, "duplicate of an earlier row for the same " + " and ".join(key))
    return out[~reasons.bad].reset_index(drop=True), quarantine_frame(raw, reasons).reset_index(drop=True)


def _targets(text: dict[str, pd.Series], out: pd.DataFrame, reasons: Reasons) -> list[str]:
    from metrics.catalogue import CATALOGUE
    from metrics.targets import status

    out["metric"] = text["metric"]
    reasons.add(~out["metric"].isin(list(CATALOGUE)), "metric: unknown indicator " + quoted(text["metric"]))
    for field in ("target", "threshold"):
        out[field] = pd.to_numeric(text[field].str.replace(",", "", regex=False), errors="coerce")
        reasons.add(out[field].isna(), f"{field}: expected a number, got " + quoted(text[field]))
    for i in out.index[~reasons.bad]:
        try:
            status(None, out.at[i, "target"], out.at[i, "threshold"], CATALOGUE[out.at[i, "metric"]].direction)
        except ValueError as exc:
            reasons.add(pd.Series(out.index == i, index=out.index), f"threshold: {exc}")
    return ["metric"]
