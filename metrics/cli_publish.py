"""`civic-metrics publish`: freeze a month's figures as published, list the publications, and
compare a publication with today's recomputation (see `metrics.publish`).

Publishing is an administrator's act done from the command line, like managing accounts:
it is recorded in the audit log as done by `cli:<os user>`.
"""

from __future__ import annotations

import datetime as dt
import json

import click
import pandas as pd

from metrics.cli import Ctx, pass_ctx

PERIOD_HELP = "The month, YYYY-MM (e.g. 2026-10)."


def _month(text: str | None, param: str = "--period") -> dt.date:
    try:
        return dt.datetime.strptime(text or "", "%Y-%m").date()
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a month: expected YYYY-MM, e.g. 2026-10", param_hint=param) from None


def _when(value: object) -> str:
    return "" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"


def _label(pub: dict) -> str:
    return (f"{pub['period']:%Y-%m} revision {pub['revision']} (published {_when(pub['published_at'])} by "
            f"{pub['published_by']})")  # fmt: skip


@click.group("publish", invoke_without_command=True)
@click.option("--period", default=None, help=f"{PERIOD_HELP} Publish this month's figures.")
@click.option("--note", default=None,
              help="Why the figures changed since the latest revision: required for revision 2 and later (the "
              "correction note readers see); on revision 1, an optional remark.")  # fmt: skip
@click.pass_context
def publish_group(ctx: click.Context, period: str | None, note: str | None) -> None:
    """Freeze a month's figures as published: every monthly figure of the month, as `metrics
    export` gives it (suppression applied), with who, when, as-of time and definition versions.

    Publishing again changes nothing when no figure changed; when figures changed it makes the
    next revision, which needs --note, and earlier revisions stay as they were. `publish list`
    lists the publications, `publish compare` what differs from today's figures."""
    if ctx.invoked_subcommand is not None:
        if period or note:
            raise click.UsageError(f"--period and --note go after `{ctx.invoked_subcommand}`")
        return
    if period is None:
        raise click.UsageError("Missing option '--period' (the month to publish, YYYY-MM)")
    from metrics import audit, publish

    obj: Ctx = ctx.find_object(Ctx)
    month = _month(period)
    engine = obj.engine()
    try:
        out = publish.publish(engine, month, actor=audit.cli_actor(), note=note,
                              min_cell_size=obj.settings.privacy.min_cell_size)  # fmt: skip
    except publish.PublishError as exc:
        raise click.ClickException(f"nothing published: {exc}") from None
    pub = out.publication
    if not out.created:
        click.echo(f"{month:%Y-%m}: no figure changed since {_label(pub)}; nothing published")
        return
    changed = ""
    if pub["revision"] > 1:
        changed = f", {len(out.differences):,} figures changed since revision {pub['revision'] - 1}"
    click.echo(f"published {_label(pub)}: {pub['figures']:,} figures as of {_when(pub['as_of'])}{changed}")
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    if pub["as_of"] is not None and pd.Timestamp(pub["as_of"]) < pd.Timestamp(end):
        click.echo(f"note: the data end on {pd.Timestamp(pub['as_of']):%Y-%m-%d}, before {month:%Y-%m} is over",
                   err=True)  # fmt: skip


@publish_group.command("list")
@click.option("--period", default=None, help=f"{PERIOD_HELP} Only this month's revisions (default: every month).")
@pass_ctx
def publish_list(obj: Ctx, period: str | None) -> None:
    """Every publication and revision: month, revision, when, by whom, figures, as-of time, note."""
    from metrics import query

    df = query.publications(obj.engine(), _month(period) if period else None)
    if df.empty:
        click.echo("nothing published yet: `civic-metrics publish --period YYYY-MM`")
        return
    for r in df.to_dict("records"):
        note = f"\n    correction note: {r['note']}" if r["note"] and r["revision"] > 1 else (
            f"\n    note: {r['note']}" if r["note"] else "")  # fmt: skip
        click.echo(f"{r['period']:%Y-%m}  revision {r['revision']:<3} {_when(r['published_at'])}  {r['published_by']}  "
                   f"{r['figures']:,} figures as of {_when(r['as_of'])}, suppression below {r['min_cell_size']}, "
                   f"sha256 {r['digest'][:12]}{note}")  # fmt: skip


@publish_group.command("compare")
@click.option("--period", required=True, help=PERIOD_HELP)
@click.option("--revision", type=click.IntRange(min=1), default=None,
              help="Compare this revision (default: the latest).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line a figure; json: every compared field of both sides.")  # fmt: skip
@pass_ctx
def publish_compare(obj: Ctx, period: str, revision: int | None, fmt: str) -> None:
    """The published figures of a month that differ from today's recomputation (value, n,
    interval, suppression, note or definition version), or that one side lacks."""
    from metrics import publish

    try:
        pub, diff = publish.compare(obj.engine(), _month(period), revision,
                                    min_cell_size=obj.settings.privacy.min_cell_size)  # fmt: skip
    except publish.PublishError as exc:
        raise click.ClickException(str(exc)) from None
    records = publish.difference_records(diff)
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    if not records:
        click.echo(f"{_label(pub)}: all {pub['figures']:,} figures equal today's recomputation")
        return
    click.echo(f"{_label(pub)}: {len(records):,} of its {pub['figures']:,} figures differ from today's recomputation")
    for r in records:
        where = "|".join(f"{k}={v}" for k, v in r["dims"].items()) or "everyone"
        if "across" in r:
            where += f" across {r['across']}"
        click.echo(f"{r['metric']}  {where}  {r['change']} ({', '.join(r['fields'])}): "
                   f"{_figure(r['published'])} -> {_figure(r['current'])}")  # fmt: skip


def _figure(side: dict) -> str:
    if side["definition_version"] is None:
        return "none"
    if side["suppressed"]:
        return f"suppressed (v{side['definition_version']})"
    ci = "" if side["ci_low"] is None or side["ci_high"] is None else f" [{side['ci_low']:.6g}, {side['ci_high']:.6g}]"
    value = "null" if side["value"] is None else f"{side['value']:.6g}"
    return f"{value}{ci} n={side['n']} (v{side['definition_version']})"
