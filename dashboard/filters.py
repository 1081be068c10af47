"""The filters every page shares: period range, grain, region, population group, channel and
service.

A `View` is parsed from the page's address (`parse_view`), drawn as a filter bar
(`filter_bar`), and rebuilt from the controls in each callback (`view_from_controls`), so the
first render and every update read the same thing. `register` wires the bar's own callbacks
for one page: the periods offered follow the grain, the groups follow the attribute, and the
address bar follows the controls, so a copied link reproduces the view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import Input, Output, callback, clientside_callback, dcc, html

from dashboard import ids
from dashboard.formatting import parse_day, period_label, period_param
from dashboard.i18n import N_, _
from dashboard.labels import dim_label, value_label
from metrics.config import Settings

GRAIN_NAMES = {"week": N_("Week"), "month": N_("Month"), "quarter": N_("Quarter"), "year": N_("Year")}
# How many periods a view shows when the address does not say.
DEFAULT_SPAN = {"week": 26, "month": 36, "quarter": 12, "year": 10}
# The slice filters, in the order of the bar; a group is an attribute and one of its values.
SLICE_DIMS = ("region", "channel", "service")
PARAMS = ("grain", "from", "to", "region", "group", "value", "channel", "service")
CONTROLS = ("grain", "from", "to", "region", "group", "value", "channel", "service")

Periods = Callable[[str], Sequence[dt.date]]


@dataclass(frozen=True)
class View:
    """What a page shows: periods `start`..`end` of `grain`, of one slice of the population."""

    grain: str = "month"
    start: dt.date | None = None
    end: dt.date | None = None
    region: str | None = None
    group: str | None = None  # a population-group attribute (age_band...)
    group_value: str | None = None  # one of its values; None: all of them
    channel: str | None = None
    service: str | None = None
    notices: tuple[str, ...] = field(default=(), compare=False)

    def slice(self) -> dict[str, str]:
        """The dimensions fixed by the filters: {"region": "Northgate", "age_band": "65 and over"}."""
        out = {}
        if self.region:
            out["region"] = self.region
        if self.group and self.group_value:
            out[self.group] = self.group_value
        if self.channel:
            out["channel"] = self.channel
        if self.service:
            out["service"] = self.service
        return out

    def by(self, *extra: str) -> tuple[str, ...]:
        """The breakdown to read: the filtered dimensions and `extra`, in the store's order."""
        return tuple(sorted({*self.slice(), *extra}))

    def params(self) -> dict[str, str]:
        """The view as query parameters (only what differs from no filter)."""
        out = {"grain": self.grain}
        if self.start is not None:
            out["from"] = period_param(self.start, self.grain)
        if self.end is not None:
            out["to"] = period_param(self.end, self.grain)
        for key, value in (("region", self.region), ("group", self.group), ("value", self.group_value),
                           ("channel", self.channel), ("service", self.service)):  # fmt: skip
            if value:
                out[key] = value
        return out


def _one(value: Any) -> str | None:
    """A query parameter given twice arrives as a list: the last one wins."""
    if isinstance(value, list):
        value = value[-1] if value else None
    return None if value in (None, "", ids.ALL) else str(value)


def grains(settings: Settings) -> tuple[str, ...]:
    return tuple(g for g in GRAIN_NAMES if g in settings.metrics.grains)


def parse_view(params: dict[str, Any], settings: Settings, periods: Periods) -> View:
    """The view a page's address asks for. Anything the store or configuration does not know
    falls back to no filter (or the newest periods), with a notice saying so."""
    notices: list[str] = []
    grain = _one(params.get("grain")) or "month"
    if grain not in grains(settings):
        notices.append(_("{value!r} is not a period length here; showing months.").format(value=grain))
        grain = "month"
    known = list(periods(grain))
    start, end = (_period(params.get(k), grain, known, notices) for k in ("from", "to"))
    if known:
        end = end or known[-1]
        start = start or known[max(0, known.index(end) - DEFAULT_SPAN[grain] + 1)]
        if start > end:
            notices.append(_("The first period was after the last; they are swapped."))
            start, end = end, start
    values: dict[str, str | None] = {}
    for dim in SLICE_DIMS:
        value = _one(params.get(dim))
        if value is not None and value not in _allowed(settings, dim):
            notices.append(_("{value!r} is not a {dim} here; showing all.").format(
                value=value, dim=dim_label(settings, dim).lower()))  # fmt: skip
            value = None
        values[dim] = value
    group, group_value = _one(params.get("group")), _one(params.get("value"))
    if group is not None and group not in settings.groups:
        notices.append(_("{value!r} is not a population group here; showing everyone.").format(value=group))
        group, group_value = None, None
    if group_value is not None and (group is None or group_value not in settings.groups[group].values):
        notices.append(_("{value!r} is not a group of the chosen attribute; showing all its groups.").format(
            value=group_value))  # fmt: skip
        group_value = None
    return View(grain, start, end, values["region"], group, group_value, values["channel"], values["service"],
                tuple(notices))  # fmt: skip


def _period(raw: Any, grain: str, known: list[dt.date], notices: list[str]) -> dt.date | None:
    text = _one(raw)
    if text is None:
        return None
    day = parse_day(text)
    if day is not None and day in known:
        return day
    notices.append(_("There are no figures for the period {value!r}; showing the newest periods.").format(value=text))
    return None


def _allowed(settings: Settings, dim: str) -> tuple[str, ...]:
    if dim == "region":
        return tuple(r.id for r in settings.regions)
    if dim == "channel":
        return tuple(settings.channels)
    return tuple(settings.services)


def view_from_controls(settings: Settings, periods: Periods, *values: Any) -> View:
    """The view of the filter controls' values, in the order of `inputs(page)`."""
    return parse_view(dict(zip(CONTROLS, values, strict=True)), settings, periods)


def href(base: str, view: View, extra: dict[str, Any] | None = None) -> str:
    """The link that reproduces a view (and the page's own `extra` parameters)."""
    params = view.params()
    params.update({k: str(v) for k, v in (extra or {}).items() if v not in (None, "")})
    return f"{base}?{urlencode(params)}"


# --- the bar --------------------------------------------------------------------------------


def _select(page: str, name: str, label: str, value: str, options: list[dict[str, Any]], **kw: Any) -> dbc.Col:
    cid = ids.filter_id(page, name)
    return dbc.Col(
        [
            dbc.Label(label, html_for=cid, className="small mb-1"),
            dbc.Select(id=cid, value=value, options=options, **kw),
        ],
        xs=6,
        md=3,
        xl="auto",
        className="filter",
    )


def period_options(periods: Sequence[dt.date], grain: str) -> list[dict[str, str]]:
    return [{"label": period_label(p, grain), "value": period_param(p, grain)} for p in reversed(periods)]


def group_value_options(settings: Settings, group: str | None) -> list[dict[str, str]]:
    options = [{"label": _("All groups"), "value": ids.ALL}]
    if group in settings.groups:
        options += [{"label": value_label(settings, group, v), "value": v} for v in settings.groups[group].values]
    return options


def _all(label: str) -> list[dict[str, str]]:
    return [{"label": label, "value": ids.ALL}]


def filter_bar(page: str, view: View, settings: Settings, periods: Periods, link: str,
               extra: Sequence[Any] = ()) -> html.Section:  # fmt: skip
    """The filter bar of `page` showing `view`; `extra` are the page's own controls (columns),
    `link` the address of the view."""
    known = list(periods(view.grain))
    cols = [
        _select(page, "grain", _("Period length"), view.grain,
                [{"label": _(GRAIN_NAMES[g]), "value": g} for g in grains(settings)]),
        _select(page, "from", _("From"), period_param(view.start, view.grain) if view.start else "",
                period_options(known, view.grain)),
        _select(page, "to", _("To"), period_param(view.end, view.grain) if view.end else "",
                period_options(known, view.grain)),
        _select(page, "region", _("Region"), view.region or ids.ALL,
                _all(_("All regions")) + [{"label": value_label(settings, "region", r.id), "value": r.id}
                                          for r in settings.regions]),
        _select(page, "group", _("Population group"), view.group or ids.ALL,
                _all(_("Everyone")) + [{"label": dim_label(settings, k), "value": k} for k in settings.groups]),
        _select(page, "value", _("Group"), view.group_value or ids.ALL, group_value_options(settings, view.group),
                disabled=view.group is None),
        _select(page, "channel", _("Channel"), view.channel or ids.ALL,
                _all(_("All channels")) + [{"label": value_label(settings, "channel", c), "value": c}
                                           for c in settings.channels]),
        _select(page, "service", _("Service"), view.service or ids.ALL,
                _all(_("All services")) + [{"label": value_label(settings, "service", s), "value": s}
                                           for s in settings.services]),
        *extra,
    ]  # fmt: skip
    return html.Section(
        [
            html.H2(_("Filters"), className="visually-hidden"),
            dbc.Row(cols, className="g-2 align-items-end"),
            html.P(
                html.A(_("Link to this view"), id=ids.filter_id(page, "link"), href=link, className="view-link"),
                className="mt-2 mb-0 small",
            ),
            dcc.Store(id=ids.filter_id(page, "sync")),
        ],
        className="filters mb-3 p-3",
        **{"aria-label": _("Filters")},
    )


def notices(view: View, more: Sequence[str] = ()) -> list[Any]:
    return [dbc.Alert(m, color="info", className="py-2 mb-2") for m in (*view.notices, *more)]


def inputs(page: str) -> list[Input]:
    """The filter controls of `page` as callback inputs, in the order `view_from_controls` takes."""
    return [Input(ids.filter_id(page, name), "value") for name in CONTROLS]


def register(page: str, base: str, periods: Callable[[], Periods], settings: Callable[[], Settings],
             extra: Sequence[tuple[str, str]] = ()) -> None:  # fmt: skip
    """The filter bar's callbacks for `page` (path `base`); `extra` are the page's own
    controls as (query parameter, component id), kept in the link too."""

    @callback(
        Output(ids.filter_id(page, "from"), "options"),
        Output(ids.filter_id(page, "from"), "value"),
        Output(ids.filter_id(page, "to"), "options"),
        Output(ids.filter_id(page, "to"), "value"),
        Input(ids.filter_id(page, "grain"), "value"),
        prevent_initial_call=True,
    )
    def _grain_changed(grain: str) -> tuple[Any, ...]:
        view = parse_view({"grain": grain}, settings(), periods())
        options = period_options(list(periods()(view.grain)), view.grain)
        start = period_param(view.start, view.grain) if view.start else ""
        end = period_param(view.end, view.grain) if view.end else ""
        return options, start, options, end

    @callback(
        Output(ids.filter_id(page, "value"), "options"),
        Output(ids.filter_id(page, "value"), "value"),
        Output(ids.filter_id(page, "value"), "disabled"),
        Input(ids.filter_id(page, "group"), "value"),
        prevent_initial_call=True,
    )
    def _group_changed(group: str) -> tuple[Any, ...]:
        chosen = _one(group)
        return group_value_options(settings(), chosen), ids.ALL, chosen is None

    @callback(
        Output(ids.filter_id(page, "link"), "href"),
        *inputs(page),
        *[Input(cid, "value") for _param, cid in extra],
        prevent_initial_call=True,
    )
    def _link(*values: Any) -> str:
        view = view_from_controls(settings(), periods(), *values[: len(CONTROLS)])
        own = {param: _one(v) for (param, _cid), v in zip(extra, values[len(CONTROLS):], strict=True)}
        return href(base, replace(view, notices=()), own)

    # The address bar follows the link, without reloading the page.
    clientside_callback(
        """
        function(href) {
            if (href && window.location.pathname + window.location.search !== href) {
                window.history.replaceState(window.history.state, "", href);
            }
            return href;
        }
        """,
        Output(ids.filter_id(page, "sync"), "data"),
        Input(ids.filter_id(page, "link"), "href"),
        prevent_initial_call=True,
    )
