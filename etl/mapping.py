"""Mapping a source's rows to canonical cases, and finding the rows that cannot be loaded.

Pure pandas on whole columns: no per-row Python. Every check that fails adds its reason
to the row; a row with any reason is quarantined with all of them, so a person fixing the
export sees every problem of the row at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.config import OUTCOMES, CaseMapping, Settings

NOT_STATED = "Not stated"
TIMESTAMP_FIELDS = ("opened_at", "first_response_at", "closed_at", "due_at")
DIM_FIELDS = ("service", "department", "channel", "region")


@dataclass(frozen=True)
class Mapped:
    cases: pd.DataFrame  # canonical columns, one row per good source row
    groups: pd.DataFrame  # case_key, attribute, value
    quarantined: pd.DataFrame  # _row, reason, raw (JSON)


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


def map_cases(raw: pd.DataFrame, job: str, src: CaseMapping, settings: Settings) -> Mapped:
    reasons = Reasons(raw.index)
    out = pd.DataFrame(index=raw.index)

    def column(field: str) -> pd.Series:
        if field in src.columns:
            return raw[src.columns[field]].astype(str).str.strip()
        if field in src.constants:
            return pd.Series(src.constants[field], index=raw.index, dtype=object)
        return pd.Series("", index=raw.index, dtype=object)

    source_id = column("source_id")
    reasons.add(source_id == "", "source_id: empty")
    dup = source_id.duplicated(keep="first") & (source_id != "")
    reasons.add(dup, "source_id: appears earlier in the same file (" + source_id + ")")
    out["source"] = job
    out["source_id"] = source_id
    out["case_key"] = job + ":" + source_id

    tz = src.timezone or settings.timezone
    for field in TIMESTAMP_FIELDS:
        text = column(field)
        stamps, bad = parse_local_times(text, src.datetime_format, tz)
        if field == "opened_at":
            reasons.add(text == "", "opened_at: empty")
        reasons.add(
            bad, f"{field}: cannot read " + quoted(text) + f" as a date-time ({src.datetime_format or 'ISO 8601'})"
        )
        out[field] = stamps
    reasons.add(out["closed_at"] < out["opened_at"], "closed_at: before opened_at")
    reasons.add(out["first_response_at"] < out["opened_at"], "first_response_at: before opened_at")

    for field in ("service", "channel", "region", "department", "outcome"):
        out[field] = _map_values(field, column(field), src, reasons)
    _check_allowed(out, src, settings, reasons)
    known_dept = out["service"].map(settings.service_department())
    if "department" in src.columns:
        out["department"] = out["department"].where(out["department"] != "", known_dept)
    else:
        out["department"] = known_dept
    for field in DIM_FIELDS:
        out[field] = out[field].where(out[field] != "", NOT_STATED)
    out["outcome"] = out["outcome"].where(out["outcome"] != "", None)

    citizen = column("citizen_key")
    out["citizen_key"] = citizen.where(citizen != "", None)
    for field in ("handoffs", "reopened"):
        text = column(field)
        num = pd.to_numeric(text.replace("", "0"), errors="coerce")
        bad = num.isna() | (num < 0) | (num != num.round())
        reasons.add(bad, f"{field}: expected a whole number >= 0, got " + quoted(text))
        out[field] = num.fillna(0).astype(np.int64)
    text = column("rating")
    rating = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = (text != "") & (rating.isna() | ~rating.isin([1, 2, 3, 4, 5]))
    reasons.add(bad, "rating: expected 1 to 5 or empty, got " + quoted(text))
    out["rating"] = rating.where(~bad).astype("Int64")

    groups = {}
    for attr, col in src.groups.items():
        spec = settings.groups[attr]
        text = raw[col].astype(str).str.strip()
        value = _map_values(attr, text, src, reasons)
        value = value.where(value != "", spec.not_stated)
        unknown = ~value.isin(spec.values) & ~reasons.bad
        reasons.add(unknown, f"{attr}: " + quoted(value) + f" is not one of {list(spec.values)}")
        groups[attr] = value

    bad = reasons.bad
    good = out[~bad].copy()
    good["row_hash"] = row_hash(good, {a: v[~bad] for a, v in groups.items()})
    group_rows = (
        pd.concat(
            [pd.DataFrame({"case_key": good["case_key"], "attribute": a, "value": v[~bad]}) for a, v in groups.items()],
            ignore_index=True,
        )
        if groups
        else pd.DataFrame(columns=["case_key", "attribute", "value"])
    )
    quarantined = quarantine_frame(raw, reasons)
    return Mapped(good.reset_index(drop=True), group_rows, quarantined.reset_index(drop=True))


def quarantine_frame(raw: pd.DataFrame, reasons: Reasons) -> pd.DataFrame:
    """The bad rows: source row number, every reason, and the row exactly as read (JSON)."""
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


def quoted(text: pd.Series) -> pd.Series:
    return "'" + text.astype(str) + "'"


def parse_local_times(text: pd.Series, fmt: str | None, tz: str) -> tuple[pd.Series, pd.Series]:
    """Local wall-clock strings -> naive UTC timestamps, and a mask of unreadable ones.

    Strings that carry an offset are converted from it. At the autumn clock change a
    local time occurs twice; it is read as the first (summer-time) one, and a time that
    does not exist in spring is moved forward, so no row is lost to the clock.
    """
    present = text != ""
    parsed = pd.to_datetime(text.where(present), format=fmt or "ISO8601", errors="coerce", utc=False)
    if getattr(parsed.dt, "tz", None) is not None:
        utc = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    elif parsed.dtype == object:  # a mix of offsets and naive values
        parsed = pd.to_datetime(text.where(present), format=fmt or "ISO8601", errors="coerce", utc=True)
        utc = parsed.dt.tz_localize(None)
    else:
        local = parsed.dt.tz_localize(tz, ambiguous=np.ones(len(parsed), dtype=bool), nonexistent="shift_forward")
        utc = local.dt.tz_convert("UTC").dt.tz_localize(None)
    return utc, present & utc.isna()


def _map_values(field: str, text: pd.Series, src: CaseMapping, reasons: Reasons) -> pd.Series:
    mapping = src.values.get(field)
    if mapping is None:
        return text
    mapped = text.map(mapping)
    unmapped = mapped.isna() & (text != "")
    reasons.add(unmapped, f"{field}: no mapping for " + quoted(text))
    # An empty cell with no mapping for '' stays empty (not stated / no outcome yet).
    return mapped.fillna("").astype(object)


def _check_allowed(out: pd.DataFrame, src: CaseMapping, settings: Settings, reasons: Reasons) -> None:
    if src.strict_services:
        unknown = ~out["service"].isin(list(settings.services)) & (out["service"] != "")
        reasons.add(unknown, "service: " + quoted(out["service"]) + " is not a configured service")
    reasons.add(out["service"] == "", "service: empty")
    if src.strict_regions and settings.regions:
        ids = [r.id for r in settings.regions]
        reasons.add(
            ~out["region"].isin(ids) & (out["region"] != ""),
            "region: " + quoted(out["region"]) + " is not a configured region",
        )
    if settings.channels and "channel" in src.values:
        reasons.add(
            ~out["channel"].isin(settings.channels) & (out["channel"] != ""),
            "channel: " + quoted(out["channel"]) + " is not a configured channel",
        )
    reasons.add(
        ~out["outcome"].isin([*OUTCOMES, ""]), "outcome: " + quoted(out["outcome"]) + f" is not one of {list(OUTCOMES)}"
    )


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
    frame = cases[cols].astype(str)
    for attr in sorted(groups):
        frame[attr] = groups[attr].astype(str).to_numpy()
    return pd.util.hash_pandas_object(frame, index=False).map("{:016x}".format)
