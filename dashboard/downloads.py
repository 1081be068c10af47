"""CSV downloads of the figures behind every chart: the same records as `metrics export`.

`/download/figures.csv?metric=on_time_rate&by=region&grain=month&from=2024-01&to=2026-10`
answers with exactly what `civic-metrics metrics export --metric on_time_rate --by region
--grain month --from 2024-01 --to 2026-10 --format csv` prints (one function makes both),
keeping only the rows of the slice the page was filtered to (`region=Northgate`...).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import dash
from flask import Flask, Response, abort, request

from dashboard import state
from dashboard.formatting import parse_day, period_param
from metrics.query import QueryError, export_records, records_csv

PATH = "/download/figures.csv"
RESERVED = ("metric", "by", "grain", "from", "to", "across")


def csv_href(metric: str, view: object, breakdown: tuple[str, ...] = (), across: str = "",
             latest: bool = False) -> str:  # fmt: skip
    """The download address of one chart's figures: `view`'s periods and slice, broken down
    further by `breakdown`; only its last period when `latest` (a chart of one period
    downloads what it draws, not the whole range)."""
    by = view.by(*breakdown)  # type: ignore[attr-defined]
    params: list[tuple[str, str]] = [("metric", metric), *[("by", d) for d in by]]
    params.append(("grain", view.grain))  # type: ignore[attr-defined]
    start = view.end if latest else view.start  # type: ignore[attr-defined]
    for key, day in (("from", start), ("to", view.end)):  # type: ignore[attr-defined]
        if day is not None:
            params.append((key, period_param(day, view.grain)))  # type: ignore[attr-defined]
    if across:
        params.append(("across", across))
    params += sorted(view.slice().items())  # type: ignore[attr-defined]
    return _relative(PATH) + "?" + urlencode(params)


def _relative(path: str) -> str:
    """`path` under the app's prefix; as it is when no app is running (pure tests)."""
    try:
        return dash.get_relative_path(path)
    except AttributeError:
        return path


def _day(name: str) -> dt.date | None:
    text = request.args.get(name)
    if not text:
        return None
    day = parse_day(text)
    if day is None:
        abort(400, f"{name}={text!r} is not a date (YYYY-MM-DD or YYYY-MM)")
    return day


def figures_csv() -> Response:
    settings, engine = state.settings(), state.engine()
    metric = request.args.get("metric", "")
    by = tuple(request.args.getlist("by"))
    grain = request.args.get("grain", "month")
    across = request.args.get("across") or None
    chosen = {k: v for k, v in request.args.items() if k not in RESERVED}
    unknown = sorted(set(chosen) - set(by))
    if unknown:
        abort(400, f"filters {unknown} are not dimensions of the breakdown {list(by)}")
    try:
        records = export_records(
            engine, metric, by, grain, _day("from"), _day("to"),
            min_cell_size=settings.privacy.min_cell_size, across=across,
            references={name: g.reference for name, g in settings.groups.items()},
        )  # fmt: skip
    except QueryError as exc:
        abort(400, str(exc))
    records = [r for r in records if all(r["dims"].get(k) == v for k, v in chosen.items())]
    name = "-".join([metric, *by, grain]) + ".csv"
    return Response(
        records_csv(records) + "\n",
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def register(server: Flask) -> None:
    server.add_url_rule(PATH, "figures_csv", figures_csv)
