"""What a headline tile says, as plain data: no Dash here, so it is tested without a browser.

A tile shows one indicator for one month and one region (or everyone): its value in its
unit, how many cases it rests on, where it stands against its target, and how it changed
since last month and since the same month last year. A suppressed figure says so; a missing
one says why; neither is ever shown as 0 or left blank.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import Engine

from dashboard import data
from dashboard.formatting import (
    add_months,
    format_change,
    format_value,
    is_number,
    month_label,
)
from metrics.catalogue import CATALOGUE
from metrics.config import Settings, Target
from metrics.targets import LABELS, status

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
        return "Suppressed (would reveal a smaller suppressed figure)"
    return f"Suppressed (fewer than {min_cell_size} cases)"


def _sentence(note: str) -> str:
    note = note.strip()
    return note[:1].upper() + note[1:]


def missing_text(cell: dict[str, Any] | None, period: dt.date, region: str | None) -> str:
    """Why there is no figure: the cell's own note, else that there is no cell at all."""
    note = cell.get("note") if cell else None
    if isinstance(note, str) and note.strip():
        return _sentence(note)
    where = f" for {region}" if region else ""
    return f"No figure{where} for {month_label(period)}"


def change_text(value: float, previous: dict[str, Any] | None, unit: str, since: str) -> str:
    """ "+2.1 pts since last month", or why there is nothing to compare with."""
    state = cell_state(previous)
    if state == "suppressed":
        return f"No comparison with {since}: suppressed then"
    if state == "missing" or previous is None:
        return f"No comparison with {since}: no figure then"
    change = format_change(value - float(previous["value"]), unit)
    return f"No change since {since}" if change is None else f"{change} since {since}"


def target_text(target: float, threshold: float, unit: str, direction: str) -> str:
    if direction == "lower_is_better":
        return f"Target: {format_value(target, unit)} or less; off track above {format_value(threshold, unit)}"
    return f"Target: {format_value(target, unit)} or more; off track below {format_value(threshold, unit)}"


def target_for(settings: Settings, metric: str, by_region: bool) -> Target | None:
    """The target that applies to `metric` for everyone, or for each region (`by_region`).

    Indicators without a better direction have none. A target for a count (a backlog of
    8,000 cases) is set for all regions together: measuring one region against it would put
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
) -> dict[str, Any]:
    """Everything one headline tile shows, for `period` and `region` (None: everyone).

    `version` is the data version (see `dashboard.data.data_version`); it is looked up when
    not given.
    """
    definition = CATALOGUE[metric]
    unit = definition.unit
    if version is None:
        version = data.data_version(engine)
    by: tuple[str, ...] = ("region",) if region else ()
    if region and "region" not in data.breakdowns(engine, metric, version):
        cells = None
    else:
        cells = data.slice_cells(
            data.monthly_cells(engine, metric, by, version, settings.privacy.min_cell_size), region
        )

    def at(p: dt.date) -> dict[str, Any] | None:
        return None if cells is None else data.cell_at(cells, p)

    cell = at(period)
    state = cell_state(cell)
    out: dict[str, Any] = {
        "metric": metric,
        "name": definition.name.en,
        "description": definition.description.en,
        "unit": unit,
        "direction": definition.direction,
        "period": period,
        "region": region,
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
    }
    if cells is None:
        out["value_text"] = f"Not broken down by region: {definition.name.en} is shown for everyone only"
        out["state"] = "missing"
    elif state == "value":
        assert cell is not None
        value = float(cell["value"])
        out["value"] = value
        out["value_text"] = format_value(value, unit)
        if is_number(cell.get("n")):
            out["n"] = int(cell["n"])
            out["n_text"] = f"Based on {int(cell['n']):,} {definition.n_means}"
        if isinstance(cell.get("note"), str) and cell["note"].strip():
            out["note"] = _sentence(cell["note"])
        last_month = at(add_months(period, -1))
        last_year = at(add_months(period, -12))
        out["change_month_text"] = change_text(value, last_month, unit, "last month")
        out["change_year_text"] = change_text(value, last_year, unit, month_label(add_months(period, -12)))
        if cell_state(last_month) == "value":
            assert last_month is not None
            out["change_month"] = value - float(last_month["value"])
        if cell_state(last_year) == "value":
            assert last_year is not None
            out["change_year"] = value - float(last_year["value"])
    elif state == "suppressed":
        assert cell is not None
        out["value_text"] = suppressed_text(cell.get("note"), settings.privacy.min_cell_size)
    else:
        out["value_text"] = missing_text(cell, period, region)

    target = target_for(settings, metric, by_region=region is not None)
    overall_target = target_for(settings, metric, by_region=False)
    if target is None and overall_target is not None:
        out["target_text"] = "Target set for all regions together: " + target_text(
            overall_target.target, overall_target.threshold, unit, definition.direction
        ).removeprefix("Target: ")
        out["status_text"] = "No status: the target is for all regions together"
    if target is not None:
        out["target"] = target.target
        out["threshold"] = target.threshold
        out["target_text"] = target_text(target.target, target.threshold, unit, definition.direction)
        try:
            s = status(out["value"], target.target, target.threshold, definition.direction)
        except ValueError as exc:
            out["status_text"] = f"No status: the target is set wrongly ({exc})"
        else:
            out["status"] = s
            if s is not None:
                out["status_text"] = LABELS[s]
            elif out["state"] == "suppressed":
                out["status_text"] = "No status: figure suppressed"
            else:
                out["status_text"] = "No status: no figure"
    return out
