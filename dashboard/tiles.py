"""What a headline tile says, as plain data: no Dash here, so it is tested without a browser.

A tile shows one indicator for one period and one slice of the population (everyone by
default): its value in its unit, how many cases it rests on, where it stands against its
target, and how it changed since the period before and the same period a year earlier. A
suppressed figure says so; a missing one says why; neither is ever shown as 0 or left blank.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from sqlalchemy import Engine

from dashboard import data
from dashboard.filters import View
from dashboard.formatting import (
    add_months,
    format_change,
    format_count,
    format_value,
    is_number,
    period_label,
)
from dashboard.i18n import N_, _
from dashboard.labels import metric_description, metric_name, slice_label
from metrics.catalogue import CATALOGUE
from metrics.config import Settings, Target
from metrics.targets import LABELS, status

STATUS_LABELS = {"on_track": N_("On track"), "at_risk": N_("At risk"), "off_track": N_("Off track")}
assert set(STATUS_LABELS) == set(LABELS)

CellState = Literal["value", "suppressed", "missing"]


def cell_state(cell: dict[str, Any] | None) -> CellState:
    if cell is None:
        return "missing"
    if bool(cell.get("suppressed")):
        return "suppressed"
    return "value" if is_number(cell.get("value")) else "missing"


def suppressed_text(note: str | None, min_cell_size: int) -> str:
    """Why a figure is hidden, in words a reader can act on."""
    if note and "would reveal" in note:
        return _("Suppressed (would reveal a smaller suppressed figure)")
    if note and "unknown number of cases" in note:
        return _("Suppressed (counts resting on an unknown number of cases)")
    return _("Suppressed (fewer than {n} cases)").format(n=min_cell_size)


# The notes the refresh writes on cells (metrics/indicators, metrics/comparisons), as the
# reader is told them; the numbers in them are kept.
NOTES = (
    (r"provisional: (\d+)% of cases not yet past their deadline",
     N_("Provisional: {0}% of cases not yet past their deadline")),
    (r"not reached: fewer than half of the cases are resolved",
     N_("Not reached: fewer than half of the cases are resolved")),
    (r"not reached: fewer than 90% of the cases are resolved",
     N_("Not reached: fewer than 90% of the cases are resolved")),
    (r"closed cases only: biased low while cases are open", N_("Closed cases only: biased low while cases are open")),
    (r"suppressed: fewer than (\d+) cases", N_("Suppressed: fewer than {0} cases")),
    (r"suppressed: would reveal .*", N_("Suppressed: would reveal a smaller suppressed figure")),
    (r"suppressed: counts resting on an unknown number of cases",
     N_("Suppressed: counts resting on an unknown number of cases")),
    (r"fewer than two (.+) categories with enough cases", N_("Fewer than two {0} categories with enough cases")),
    (r"undefined over the (\d+) categories of (.+) used", N_("Undefined over the {0} categories of {1} used")),
    (r"(\d+) categories of (.+) used", N_("{0} categories of {1} used")),
    (r"only a rate is published: no count of people", N_("Only a rate is published: no count of people")),
    (r"range from the low and high estimates of eligible people",
     N_("Range from the low and high estimates of eligible people")),
    (r"fewer than 12 months of cases before this period's end",
     N_("Fewer than 12 months of cases before this period's end")),
    (r"no eligible population known for this slice", N_("No eligible population known for this slice")),
    (r"published rate; the publisher gives no counts", N_("Published rate; the publisher gives no counts")),
    (r"reference group", N_("Reference group")),
    (r"suppressed: no comparison", N_("Suppressed: no comparison")),
    (r"reference group suppressed: no comparison", N_("Reference group suppressed: no comparison")),
    (r"no value: no comparison", N_("No value: no comparison")),
    (r"reference group has no value: no comparison", N_("Reference group has no value: no comparison")),
    (r"no reference-group figure for this period: no comparison",
     N_("No reference-group figure for this period: no comparison")),
    (r"no interval for this group or the reference group: gap not tested",
     N_("No interval for this group or the reference group: gap not tested")),
)  # fmt: skip
_NOTES = tuple((re.compile(f"^{pattern}$"), template) for pattern, template in NOTES)


def note_text(note: str) -> str:
    """A cell's note as a sentence in the current language. Several notes joined by "; "
    are translated one by one; an unknown note is shown as stored, capitalised."""
    note = note.strip()
    for pattern, template in _NOTES:
        match = pattern.match(note)
        if match:
            return _(template).format(*match.groups())
    if "; " in note:
        parts = [note_text(part) for part in note.split("; ") if part.strip()]
        return _("; ").join(parts)
    return note[:1].upper() + note[1:]


def _sentence(note: str) -> str:
    return note_text(note)


def missing_text(cell: dict[str, Any] | None, period: dt.date, where: str | None, grain: str = "month") -> str:
    """Why there is no figure: the cell's own note, else that there is no cell at all."""
    note = cell.get("note") if cell else None
    if isinstance(note, str) and note.strip():
        return _sentence(note)
    if where:
        return _("No figure for {slice} for {period}").format(slice=where, period=period_label(period, grain))
    return _("No figure for {period}").format(period=period_label(period, grain))


def change_text(value: float, previous: dict[str, Any] | None, unit: str, since: str) -> str:
    """ "+2.1 pts since last month", or why there is nothing to compare with."""
    state = cell_state(previous)
    if state == "suppressed":
        return _("No comparison with {since}: suppressed then").format(since=since)
    if state == "missing" or previous is None:
        return _("No comparison with {since}: no figure then").format(since=since)
    change = format_change(value - float(previous["value"]), unit)
    if change is None:
        return _("No change since {since}").format(since=since)
    return _("{change} since {since}").format(change=change, since=since)


def target_text(target: float, threshold: float, unit: str, direction: str, whole: bool = False) -> str:
    """The target in words; `whole`: it is set for everyone together, not for the slice shown."""
    t, h = format_value(target, unit), format_value(threshold, unit)
    if whole:
        if direction == "lower_is_better":
            text = _("Target for everyone together: {target} or less; off track above {threshold}")
        else:
            text = _("Target for everyone together: {target} or more; off track below {threshold}")
    elif direction == "lower_is_better":
        text = _("Target: {target} or less; off track above {threshold}")
    else:
        text = _("Target: {target} or more; off track below {threshold}")
    return text.format(target=t, threshold=h)


def shift(period: dt.date, grain: str, n: int) -> dt.date:
    """The start of the period `n` periods of `grain` after `period` (before, when negative)."""
    if grain == "week":
        return period + dt.timedelta(weeks=n)
    return add_months(period, n * {"month": 1, "quarter": 3, "year": 12}[grain])


# Periods back to "the same period a year earlier".
YEAR_BACK = {"week": 52, "month": 12, "quarter": 4, "year": 1}
PREVIOUS = {"week": N_("last week"), "month": N_("last month"), "quarter": N_("last quarter"),
            "year": N_("last year")}  # fmt: skip


def target_for(settings: Settings, metric: str, by_region: bool) -> Target | None:
    """The target that applies to `metric` for everyone, or for a slice of it (`by_region`:
    any region, group, channel or service).

    Indicators without a better direction have none. A target for a count (a backlog of
    8,000 cases) is set for the whole population: measuring one region against it would put
    every region on track, so it applies to the whole population only.
    """
    definition = CATALOGUE[metric]
    target = settings.targets.get(metric)
    if target is None or definition.direction == "neutral":
        return None
    if by_region and definition.unit == "count":
        return None
    return target


def tile_data(
    engine: Engine,
    settings: Settings,
    metric: str,
    period: dt.date,
    region: str | None = None,
    *,
    version: int | None = None,
    view: View | None = None,
) -> dict[str, Any]:
    """Everything one headline tile shows, for `period` and `region` (None: everyone), or
    for the end period and slice of `view` (any grain, region, group, channel, service).

    `version` is the data version (see `dashboard.data.data_version`); it is looked up when
    not given.
    """
    definition = CATALOGUE[metric]
    unit = definition.unit
    if version is None:
        version = data.data_version(engine)
    if view is None:
        view = View("month", period, period, region)
    else:
        period = view.end if view.end is not None else period
    grain, sliced = view.grain, view.slice()
    where = slice_label(settings, sliced) if sliced else None
    cells = data.view_cells(engine, metric, view, version, settings.privacy.min_cell_size, whole_range=True)
    by_period = {} if cells is None else {row["period"]: row for row in data.records(cells)}

    def at(p: dt.date) -> dict[str, Any] | None:
        return by_period.get(p)

    cell = at(period)
    state = cell_state(cell)
    out: dict[str, Any] = {
        "metric": metric,
        "name": metric_name(metric),
        "description": metric_description(metric),
        "unit": unit,
        "direction": definition.direction,
        "period": period,
        "grain": grain,
        "region": view.region,
        "slice": sliced,
        "state": state,
        "value": None,
        "value_text": None,
        "n": None,
        "n_text": None,
        "note": None,
        "target": None,
        "threshold": None,
        "target_text": None,
        "status": None,
        "status_text": None,
        "change_month": None,
        "change_month_text": None,
        "change_year": None,
        "change_year_text": None,
        "previous": None,
        "year_ago": None,
        "cell": cell,
    }
    if cells is None:
        out["value_text"] = _("Not broken down this way: {name} is not computed for {slice}").format(
            name=metric_name(metric), slice=where)  # fmt: skip
        out["state"] = "missing"
    elif state == "value":
        assert cell is not None
        value = float(cell["value"])
        out["value"] = value
        out["value_text"] = format_value(value, unit)
        if is_number(cell.get("n")):
            out["n"] = int(cell["n"])
            out["n_text"] = _("Based on {n} {what}").format(n=format_count(cell["n"]), what=_(definition.n_means))
        if isinstance(cell.get("note"), str) and cell["note"].strip():
            out["note"] = _sentence(cell["note"])
        previous, year_ago = at(shift(period, grain, -1)), at(shift(period, grain, -YEAR_BACK[grain]))
        out["previous"], out["year_ago"] = previous, year_ago
        out["change_month_text"] = change_text(value, previous, unit, _(PREVIOUS[grain]))
        out["change_year_text"] = change_text(
            value, year_ago, unit, period_label(shift(period, grain, -YEAR_BACK[grain]), grain)
        )
        if cell_state(previous) == "value":
            assert previous is not None
            out["change_month"] = value - float(previous["value"])
        if cell_state(year_ago) == "value":
            assert year_ago is not None
            out["change_year"] = value - float(year_ago["value"])
    elif state == "suppressed":
        assert cell is not None
        out["value_text"] = suppressed_text(cell.get("note"), settings.privacy.min_cell_size)
    else:
        out["value_text"] = missing_text(cell, period, where, grain)

    target = target_for(settings, metric, by_region=bool(sliced))
    overall_target = target_for(settings, metric, by_region=False)
    if target is None and overall_target is not None:
        out["target_text"] = target_text(
            overall_target.target, overall_target.threshold, unit, definition.direction, whole=True
        )
        out["status_text"] = _("No status: the target is for everyone together")
    if target is not None:
        out["target"] = target.target
        out["threshold"] = target.threshold
        out["target_text"] = target_text(target.target, target.threshold, unit, definition.direction)
        try:
            s = status(out["value"], target.target, target.threshold, definition.direction)
        except ValueError as exc:
            out["status_text"] = _("No status: the target is set wrongly ({error})").format(error=exc)
        else:
            out["status"] = s
            if s is not None:
                out["status_text"] = _(STATUS_LABELS[s])
            elif out["state"] == "suppressed":
                out["status_text"] = _("No status: figure suppressed")
            else:
                out["status_text"] = _("No status: no figure")
    return out
