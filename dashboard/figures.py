"""Charts and their captions, as pure functions of metric cells: tested without a browser.

Suppressed and missing figures are never drawn as 0: a trend leaves a gap, a bar chart
leaves the region out and the caption lists it with the reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from dashboard import data, intervals, plot
from dashboard.formatting import (
    axis_title,
    format_count,
    format_value,
    is_number,
    month_runs,
    period_label,
    short_month,
    unit_format,
)
from dashboard.i18n import _, lang
from dashboard.labels import metric_name
from dashboard.tiles import cell_state, note_text, suppressed_text
from metrics.catalogue import MetricDefinition
from metrics.config import Target

LINE = "#1f5f8b"  # dark blue: 7:1 on white
BAND = "rgba(31, 95, 139, 0.18)"
SELECTED = "#8a4b08"  # dark orange, for the selected region
REFERENCE = "#444444"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _base_layout(fig: plot.Figure, height: int) -> None:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 20, "t": 48, "b": 10},
        paper_bgcolor="white",
        plot_bgcolor="white",
        font={"family": FONT, "size": 14, "color": "#212529"},
        hoverlabel={"font": {"family": FONT}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
    )


def _values(df: pd.DataFrame, col: str) -> list[float | None]:
    """A column with suppressed and missing figures as None, so Plotly leaves a gap."""
    out: list[float | None] = []
    for row in data.records(df):
        v = row.get(col)
        out.append(float(v) if cell_state(row) == "value" and is_number(v) else None)
    return out


def tick_format(grain: str) -> str:
    """d3 date format of a time axis, by grain and language."""
    if lang() == "zh":
        return {"year": "%Y年", "quarter": "%Y年第%q季度", "week": "%Y年%m月%d日"}.get(grain, "%Y年%m月")
    return {"year": "%Y", "quarter": "Q%q %Y", "week": "%d %b %Y"}.get(grain, "%b %Y")


def trend_figure(
    df: pd.DataFrame, definition: MetricDefinition, target: Target | None = None, grain: str = "month"
) -> plot.Figure:
    """A monthly line of one slice's cells with its 95% interval (or range) as a band where known.

    `df` holds one slice (one region, or everyone), any number of months; months that are
    suppressed or have no figure are gaps in the line.
    """
    df = df.sort_values("period")
    x = [pd.Timestamp(p) for p in df["period"]]
    unit = definition.unit
    y = _values(df, "value")
    lo = _values(df, "ci_low")
    hi = _values(df, "ci_high")
    fig = plot.Figure()
    band = intervals.heading(data.records(df))
    if any(v is not None for v in lo) and any(v is not None for v in hi):
        fig.add_trace(
            plot.Scatter(
                x=x,
                y=hi,
                mode="lines",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                name=band,
                connectgaps=False,
            )
        )
        fig.add_trace(
            plot.Scatter(
                x=x,
                y=lo,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=BAND,
                hoverinfo="skip",
                name=band,
                connectgaps=False,
            )
        )
    fig.add_trace(
        plot.Scatter(
            x=x,
            y=y,
            mode="lines+markers",
            line={"color": LINE, "width": 2.5},
            marker={"size": 6, "color": LINE},
            name=metric_name(definition.id),
            connectgaps=False,
            customdata=[period_label(p, grain) for p in df["period"]],
            hovertemplate=f"%{{customdata}}: %{{y:{unit_format(unit).hover_format}}}<extra></extra>",
        )
    )
    _base_layout(fig, 380)
    if all(v is None for v in y):
        _nothing_to_draw(fig, _("Nothing to draw: every period is suppressed or has no figure"))
        return fig
    if target is not None:
        fig.add_hline(
            y=target.target,
            line={"color": REFERENCE, "dash": "dash", "width": 1.5},
            annotation_text=_("Target {value}").format(value=format_value(target.target, unit)),
            annotation_position="top left",
            annotation_font={"color": REFERENCE},
        )
    # Exactly the months shown, not Plotly's padding (which adds a month before the first).
    half = pd.Timedelta(days={"week": 3, "month": 15, "quarter": 45, "year": 182}.get(grain, 15))
    fig.update_xaxes(
        showgrid=False,
        tickformat=tick_format(grain),
        linecolor="#888",
        ticks="outside",
        range=[x[0] - half, x[-1] + half],
    )
    fig.update_yaxes(
        tickformat=unit_format(unit).axis_format,
        gridcolor="#e5e5e5",
        zeroline=False,
        title={"text": axis_title(unit)},
        rangemode="tozero" if unit == "count" else "normal",
    )
    return fig


def trend_caption(
    df: pd.DataFrame, definition: MetricDefinition, where: str, target: Target | None = None, grain: str = "month"
) -> str:
    """What the trend chart shows, in words: the range, the latest value, the gaps."""
    name = metric_name(definition.id)
    if df.empty:
        return _("{name}, {where}: no figures in the store for these periods.").format(name=name, where=where)
    df = df.sort_values("period")
    first, last = df["period"].iloc[0], df["period"].iloc[-1]
    parts = [_("{name}, {where}, each period from {first} to {last}.").format(
        name=name, where=where, first=period_label(first, grain), last=period_label(last, grain))]  # fmt: skip
    latest = df.iloc[-1].to_dict()
    if cell_state(latest) == "value":
        parts.append(_("{period}: {value}.").format(period=period_label(last, grain),
                                                  value=format_value(latest["value"], definition.unit)))  # fmt: skip
    states = [cell_state(row) for row in data.records(df)]
    suppressed = [p for p, st in zip(df["period"], states, strict=True) if st == "suppressed"]
    missing = [p for p, st in zip(df["period"], states, strict=True) if st == "missing"]
    if "value" not in states:
        parts.append(_("Nothing is drawn: every period is suppressed or has no figure."))
    else:
        if df["ci_low"].notna().any() and df["ci_high"].notna().any():
            parts.append(intervals.band_caption(data.records(df)))
        if target is not None:
            parts.append(_("The dashed line is the target, {value}.").format(
                value=format_value(target.target, definition.unit)))  # fmt: skip
    if suppressed:
        text = _("Suppressed, so left as gaps: {periods}.") if "value" in states else _("Suppressed: {periods}.")
        parts.append(text.format(periods=_runs(suppressed, grain)))
    if missing:
        text = _("No figure, so left as gaps: {periods}.") if "value" in states else _("No figure: {periods}.")
        parts.append(text.format(periods=_runs(missing, grain)))
    return " ".join(parts)


def _runs(periods: list[dt.date], grain: str) -> str:
    """Periods listed compactly (runs of months; other grains one by one)."""
    if grain == "month":
        return month_runs(periods)
    return _(", ").join(period_label(p, grain) for p in sorted(periods))


def vertical_line(fig: plot.Figure, x: float, label: str, dash: str) -> None:
    """A vertical reference line labelled above the plot, clear of the bars."""
    fig.add_vline(x=x, line={"color": REFERENCE, "dash": dash, "width": 1.5})
    fig.add_annotation(
        x=x,
        y=1,
        xref="x",
        yref="paper",
        yanchor="bottom",
        showarrow=False,
        text=label,
        font={"color": REFERENCE, "size": 13},
    )


def _nothing_to_draw(fig: plot.Figure, text: str) -> None:
    fig.add_annotation(
        x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, text=text, font={"size": 15, "color": REFERENCE}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)


def complete_months(
    df: pd.DataFrame, start: dt.date, end: dt.date, months: tuple[dt.date, ...] | list[dt.date]
) -> pd.DataFrame:
    """One slice's cells with a row for every month of the store from `start` to `end`;
    a month with no cell gets a row with no value, so it reads as missing, not as absent."""
    wanted = [m for m in months if start <= m <= end]
    have = set(df["period"])
    extra = pd.DataFrame({"period": [m for m in wanted if m not in have]})
    if extra.empty:
        return df.sort_values("period").reset_index(drop=True)
    extra["suppressed"] = False
    out = (
        pd.concat([df, extra], ignore_index=True)
        if len(df)
        else extra.reindex(columns=list(dict.fromkeys([*df.columns, *extra.columns])))
    )
    return out.sort_values("period").reset_index(drop=True)


def region_rows(
    df: pd.DataFrame, regions: list[str], min_cell_size: int, dim: str = "region",
    names: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One month's regional cells split into drawn bars and the regions that are not drawn.

    `regions` are all configured regions: one with no cell at all is listed as having no
    figure rather than dropped silently.
    """
    names = names or {}
    by_region = {row["dims"].get(dim): row for row in data.records(df)}
    shown: list[dict[str, Any]] = []
    hidden: dict[str, list[str]] = {}
    for region in list(regions) + sorted(set(by_region) - set(regions)):
        row = by_region.get(region)
        state = cell_state(row)
        if state == "value":
            assert row is not None
            shown.append(
                {
                    "region": region,
                    "label": names.get(region, region),
                    "value": float(row["value"]),
                    "ci_low": row.get("ci_low"),
                    "ci_high": row.get("ci_high"),
                    "n": row.get("n"),
                    "note": row.get("note"),
                }
            )
        else:
            reason = (
                suppressed_text(row.get("note") if row else None, min_cell_size)
                if state == "suppressed"
                else _("No figure")
            )
            hidden.setdefault(reason, []).append(names.get(region, region))
    shown.sort(key=lambda r: (-r["value"], r["region"]))
    return {"shown": shown, "hidden": hidden}


def region_figure(
    rows: dict[str, Any],
    definition: MetricDefinition,
    selected: str | None = None,
    target: Target | None = None,
    overall: float | None = None,
) -> plot.Figure:
    """Ranked horizontal bars, largest value at the top; only regions with a figure."""
    unit = definition.unit
    shown = rows["shown"]
    # Plotly draws the first category at the bottom: reverse so the largest is on top.
    ordered = list(reversed(shown))
    labels = [
        _("{name} (selected)").format(name=r.get("label", r["region"])) if r["region"] == selected
        else r.get("label", r["region"])
        for r in ordered
    ]
    values = [r["value"] for r in ordered]
    plus = [(r["ci_high"] - r["value"]) if is_number(r["ci_high"]) else 0 for r in ordered]
    minus = [(r["value"] - r["ci_low"]) if is_number(r["ci_low"]) else 0 for r in ordered]
    has_ci = any(plus) or any(minus)
    fig = plot.Figure(
        plot.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker={"color": [SELECTED if r["region"] == selected else LINE for r in ordered]},
            error_x={
                "type": "data",
                "array": plus,
                "arrayminus": minus,
                "color": REFERENCE,
                "thickness": 1.2,
                "width": 4,
                "visible": has_ci,
            },
            # Value labels at the base of each bar, clear of the interval whiskers at its end.
            text=[format_value(v, unit) for v in values],
            textposition="inside",
            insidetextanchor="start",
            textfont={"color": "white"},
            constraintext="none",
            hovertemplate="%{y}: %{text}<extra></extra>",
            name=metric_name(definition.id),
        )
    )
    _base_layout(fig, 90 + 34 * max(len(ordered), 1))
    fig.update_layout(showlegend=False, bargap=0.25)
    if not shown:
        _nothing_to_draw(fig, _("Nothing to draw: no category has a figure for this period"))
        return fig
    if target is not None:
        vertical_line(fig, target.target, _("Target {value}").format(value=format_value(target.target, unit)), "dash")
    elif is_number(overall):
        vertical_line(fig, float(overall), _("Everyone {value}").format(value=format_value(overall, unit)), "dot")
    fig.update_xaxes(
        tickformat=unit_format(unit).axis_format,
        gridcolor="#e5e5e5",
        zeroline=True,
        zerolinecolor="#888",
        rangemode="tozero",
    )
    fig.update_yaxes(automargin=True, ticks="", categoryorder="array", categoryarray=labels)
    return fig


def region_caption(
    rows: dict[str, Any],
    definition: MetricDefinition,
    period: dt.date,
    target: Target | None = None,
    overall: float | None = None,
    grain: str = "month",
    dim_name: str | None = None,
) -> str:
    unit = definition.unit
    shown = rows["shown"]
    parts = [_("{name} by {dim}, {period}, ranked from the largest value to the smallest.").format(
        name=metric_name(definition.id), dim=(dim_name or _("Region")).lower(),
        period=period_label(period, grain))]  # fmt: skip
    if shown:
        parts.append(_("From {high} in {high_name} to {low} in {low_name}.").format(
            high=format_value(shown[0]["value"], unit), high_name=shown[0].get("label", shown[0]["region"]),
            low=format_value(shown[-1]["value"], unit), low_name=shown[-1].get("label", shown[-1]["region"])))
        if any(is_number(r["ci_low"]) for r in shown):
            parts.append(intervals.whiskers_caption(shown))
    else:
        parts.append(_("No category has a figure for this period."))
    if target is not None:
        parts.append(_("The dashed line is the target, {value}.").format(value=format_value(target.target, unit)))
    elif is_number(overall):
        parts.append(_("The dotted line is the figure for everyone, {value}.").format(
            value=format_value(overall, unit)))
    for reason, names in rows["hidden"].items():
        parts.append(_("{reason}, not drawn: {names}.").format(reason=reason, names=_(", ").join(names)))
    return " ".join(parts)  # fmt: skip


def table_rows(
    df: pd.DataFrame, definition: MetricDefinition, min_cell_size: int, grain: str = "month"
) -> list[dict[str, str]]:
    """The trend's figures as text rows (period, value, cases, 95% interval) for a table."""
    out = []
    for row in data.records(df.sort_values("period")):
        state = cell_state(row)
        if state == "value":
            value = format_value(row["value"], definition.unit)
            interval = _interval(row.get("ci_low"), row.get("ci_high"), definition.unit) or _("None")
            n = format_count(row.get("n")) or _("Not known")
        elif state == "suppressed":
            # Every column says it: a blank could be read as nothing to report.
            value, interval, n = suppressed_text(row.get("note"), min_cell_size), _("Suppressed"), _("Suppressed")
        else:
            note = row.get("note")
            value = note_text(note) if isinstance(note, str) and note else _("No figure")
            interval, n = _("None"), _("None")
        label = short_month(row["period"]) if grain == "month" else period_label(row["period"], grain)
        out.append({"month": label, "value": value, "n": n, "interval": interval})
    return out


def _interval(low: Any, high: Any, unit: str) -> str:
    if not (is_number(low) and is_number(high)):
        return ""
    return _("{first} to {last}").format(first=format_value(low, unit), last=format_value(high, unit))


def region_table_rows(rows: dict[str, Any], definition: MetricDefinition) -> list[dict[str, str]]:
    """The region chart's figures as text rows, the regions not drawn last with the reason."""
    unit = definition.unit
    out = [
        {
            "region": r.get("label", r["region"]),
            "value": format_value(r["value"], unit),
            "n": format_count(r["n"]) or _("Not known"),
            "interval": _interval(r["ci_low"], r["ci_high"], unit) or _("None"),
        }
        for r in rows["shown"]
    ]
    for reason, regions in rows["hidden"].items():
        out += [{"region": g, "value": reason, "n": _("Not shown"), "interval": _("Not shown")} for g in regions]
    return out
