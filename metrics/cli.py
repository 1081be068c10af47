"""The `civic-metrics` command: set up the store, load data, refresh and export indicators,
serve the dashboard, or do all of it on demo data with `civic-metrics demo`."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import click

from metrics.config import CONFIG_ENV_VAR, ConfigError, Settings, load_settings


class Ctx:
    def __init__(self, config: str | None):
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    def engine(self):  # type: ignore[no-untyped-def]
        from metrics.store.db import current_revision, engine_for, head_revision, is_initialised

        engine = engine_for(self.settings)
        if not is_initialised(engine):
            raise click.ClickException("the store is not set up yet: run `civic-metrics init` first")
        if (have := current_revision(engine)) != (want := head_revision()):
            raise click.ClickException(
                f"the store's schema is at {have}, this version needs {want}: run `civic-metrics init` to upgrade it"
            )
        return engine


pass_ctx = click.make_pass_decorator(Ctx)


def progress(msg: str) -> None:
    click.echo(msg, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    type=click.Path(dir_okay=False),
    default=None,
    envvar=CONFIG_ENV_VAR,
    help=f"Configuration file (default ./config.yaml, or ${CONFIG_ENV_VAR}).",
)
@click.version_option(package_name="civic-metrics")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """civic-metrics: public-service indicators (equal service, timeliness, rights uptake)."""
    ctx.obj = Ctx(config)


# --- config -------------------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("check")
@pass_ctx
def config_check(obj: Ctx) -> None:
    """Validate the configuration and report every problem at once."""
    try:
        s = load_settings(obj.config)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(
        f"{s.base_dir / 'config.yaml' if obj.config is None else obj.config}: OK "
        f"({len(s.services)} services, {len(s.regions)} regions, {len(s.groups)} group attributes, "
        f"{len(s.etl.sources)} ETL sources)"
    )


# --- store --------------------------------------------------------------------------------


@cli.command()
@pass_ctx
def init(obj: Ctx) -> None:
    """Create the store, or upgrade it to the newest schema (safe to run again)."""
    from metrics.store.db import engine_for, upgrade

    engine = engine_for(obj.settings)
    rev = upgrade(engine)
    click.echo(f"store ready at schema {rev}: {engine.url.render_as_string(hide_password=True)}")


# --- demo data ----------------------------------------------------------------------------


@cli.command("demo-data")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder to write cases.csv, population.csv and eligible.csv into.",
)
@click.option(
    "--cases", type=click.IntRange(min=100), default=200_000, show_default=True, help="Number of cases to generate."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; same seed, same files.")
@click.option(
    "--end",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-10-31",
    show_default=True,
    help="Last day of the three-year history.",
)
def demo_data(out: str, cases: int, seed: int, end: dt.datetime) -> None:
    """Write realistic, deterministic source files for a fictional ministry."""
    from etl.demo_data import write_demo_data

    t0 = time.perf_counter()
    files = write_demo_data(Path(out), cases=cases, seed=seed, end=end.date())
    for name, path in files.items():
        click.echo(f"{name}: {path}")
    click.echo(f"{cases:,} cases written in {time.perf_counter() - t0:.1f} s", err=True)


# --- etl ----------------------------------------------------------------------------------


@cli.group()
def etl() -> None:
    """Load source data into the store."""


@etl.command("run")
@click.option(
    "--job", "jobs", multiple=True, help="Source name from config.yaml etl.sources (repeatable; default: all)."
)
@click.option(
    "--reload", is_flag=True, help="Load files again even where the same name and content were loaded before."
)
@pass_ctx
def etl_run(obj: Ctx, jobs: tuple[str, ...], reload: bool) -> None:
    """Extract, map, validate and load; bad rows go to quarantine with their reasons.

    Each file, page window or database batch loads in one transaction with the source's
    position, so a failed run keeps what it loaded and the next run goes on from there."""
    from etl.errors import EtlError
    from etl.runner import run_jobs
    from metrics import audit

    engine = obj.engine()
    try:
        summaries = run_jobs(obj.settings, engine, list(jobs) or None, progress, reload)
    except EtlError as exc:
        audit.record(engine, "etl_run", actor=audit.cli_actor(), target=",".join(jobs) or "all", outcome="failed",
                     detail={"reload": reload, "error": str(exc)[:500]})  # fmt: skip
        kind = "transient (retrying later may succeed)" if exc.transient else "terminal (fix and run again)"
        raise click.ClickException(
            f"{exc}\nthe batch being loaded was not loaded (earlier batches are kept); error is {kind}"
        ) from None
    audit.record(engine, "etl_run", actor=audit.cli_actor(), target=",".join(jobs) or "all",
                 detail={"reload": reload, "runs": [s.line() for s in summaries]})  # fmt: skip
    for s in summaries:
        click.echo(s.line())


@etl.command("status")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs to show.")
@click.option("--job", default=None, help="Only this source's runs.")
@pass_ctx
def etl_status(obj: Ctx, limit: int, job: str | None) -> None:
    """The ETL run log, newest first: when, source, rows read/loaded/quarantined, outcome."""
    from etl.operations import run_log

    df = run_log(obj.engine(), limit, job)
    if df.empty:
        click.echo("no ETL run yet")
        return
    click.echo(f"{'run':>5}  {'job':<14} {'started (UTC)':<19} {'secs':>7} {'status':<9} "
               f"{'read':>10} {'loaded':>10} {'quarant.':>9}  error")  # fmt: skip
    for r in df.itertuples(index=False):
        secs = "" if pd_isna(r.seconds) else f"{r.seconds:.1f}"
        error = (r.error or "").splitlines()[0][:80] if isinstance(r.error, str) else ""
        click.echo(f"{r.id:>5}  {r.job:<14} {r.started_at:%Y-%m-%d %H:%M:%S} {secs:>7} {r.status:<9} "
                   f"{r.rows_read:>10,} {r.rows_loaded:>10,} {r.rows_quarantined:>9,}  {error}")  # fmt: skip


@etl.command("quarantine")
@click.option("--job", default=None, help="Only this source's rows.")
@click.option("--run", "run_id", type=int, default=None, help="Only rows of this ETL run.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="table: one line a row; csv: the rows as the source had them plus the reason, to fix and "
              "reload; json: everything.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@pass_ctx
def etl_quarantine(obj: Ctx, job: str | None, run_id: int | None, fmt: str, out: str | None) -> None:
    """List or export quarantined rows with their reasons, so they can be fixed and reloaded."""
    from etl.operations import fixable_frame, quarantined

    rows = quarantined(obj.engine(), job, run_id)
    if fmt == "table":
        text = "\n".join(f"run {r.etl_run_id} {r.job} row {r.row_number}: {r.reason}" for r in rows.itertuples())
        text = text or "no quarantined rows"
    elif fmt == "csv":
        text = fixable_frame(rows).to_csv(index=False).rstrip("\n")
    else:
        text = rows.to_json(orient="records", force_ascii=False, indent=1)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
        click.echo(f"{len(rows):,} quarantined rows written to {out}", err=True)
    else:
        click.echo(text)


# --- metrics ------------------------------------------------------------------------------


@cli.group()
def metrics() -> None:
    """Compute, check and export indicators."""


@metrics.command("refresh")
@click.option("--metric", "metric_ids", multiple=True, help="Only these indicators (repeatable; default: all).")
@click.option(
    "--full",
    is_flag=True,
    help="Recompute every period, even where only some were touched by cases loaded since the last refresh.",
)
@pass_ctx
def metrics_refresh(obj: Ctx, metric_ids: tuple[str, ...], full: bool) -> None:
    """Recompute indicators and store them with their lineage: only the periods touched by
    cases loaded since the last refresh, or every period when that is not possible."""
    from metrics.casedata import EmptyStore
    from metrics.catalogue import CATALOGUE
    from metrics.refresh import refresh

    unknown = [m for m in metric_ids if m not in CATALOGUE]
    if unknown:
        raise click.BadParameter(f"unknown indicator(s) {unknown}; expected some of {sorted(CATALOGUE)}")
    from metrics import audit

    engine = obj.engine()
    target = ",".join(metric_ids) or "all"
    try:
        s = refresh(obj.settings, engine, list(metric_ids) or None, progress, full=full)
    except Exception as exc:
        audit.record(engine, "metrics_refresh", actor=audit.cli_actor(), target=target, outcome="failed",
                     detail={"full": full, "error": str(exc)[:500]})  # fmt: skip
        if isinstance(exc, EmptyStore):
            raise click.ClickException(str(exc)) from None
        raise
    audit.record(engine, "metrics_refresh", actor=audit.cli_actor(), target=target,
                 detail={"full": full, "run": s.run_id, "mode": s.mode, "cells": s.cells})  # fmt: skip
    how = f"{s.periods:,} periods recomputed" if s.mode == "incremental" else f"full: {s.reason}"
    click.echo(
        f"refresh {s.run_id} ({how}): {s.cells:,} cells from {s.cases:,} cases, as of "
        f"{s.as_of:%Y-%m-%d %H:%M} UTC, in {s.seconds:.1f} s"
    )


@metrics.command("validate")
@pass_ctx
def metrics_validate(obj: Ctx) -> None:
    """Check the indicator catalogue and the configuration together."""
    from metrics.catalogue import validate_catalogue

    problems = list(validate_catalogue())
    try:
        obj.settings  # noqa: B018 - loading validates it
    except click.ClickException as exc:
        problems.append(exc.message)
    for p in problems:
        click.echo(p, err=True)
    if problems:
        sys.exit(1)
    click.echo("catalogue and configuration: OK")


@metrics.command("list")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True, help="Language of the names.")
def metrics_list(lang: str) -> None:
    """List the indicators in the catalogue."""
    from metrics.catalogue import CATALOGUE

    for m in CATALOGUE.values():
        click.echo(f"{m.id:32} v{m.version}  {m.unit:10} {m.direction:17} {m.name.get(lang)}")


@metrics.command("export")
@click.option("--metric", required=True, help="Indicator id (see `civic-metrics metrics list`).")
@click.option("--by", "by", multiple=True, help="Break down by this dimension (repeatable).")
@click.option(
    "--across",
    default=None,
    help="For indicators computed across the categories of a dimension (disparity, Gini, Theil, gaps): "
    "that dimension (default region).",
)
@click.option(
    "--grain",
    type=click.Choice(["week", "month", "quarter", "year"]),
    default="month",
    show_default=True,
    help="Period length.",
)
@click.option(
    "--from",
    "start",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m"]),
    default=None,
    help="First period start to include (YYYY-MM-DD or YYYY-MM).",
)
@click.option(
    "--to",
    "end",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m"]),
    default=None,
    help="Last period start to include (YYYY-MM-DD or YYYY-MM).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True, help="Output format."
)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@pass_ctx
def metrics_export(
    obj: Ctx,
    metric: str,
    by: tuple[str, ...],
    across: str | None,
    grain: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    fmt: str,
    out: str | None,
) -> None:
    """Export one indicator in the export contract of METRICS.md."""
    from metrics.query import QueryError, export_records, records_csv

    try:
        records = export_records(
            obj.engine(),
            metric,
            tuple(by),
            grain,
            start.date() if start else None,
            end.date() if end else None,
            min_cell_size=obj.settings.privacy.min_cell_size,
            across=across,
            references={name: g.reference for name, g in obj.settings.groups.items()},
        )
    except QueryError as exc:
        raise click.ClickException(str(exc)) from None
    text = json.dumps(records, ensure_ascii=False, indent=1) if fmt == "json" else records_csv(records)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
        click.echo(f"{len(records):,} records written to {out}", err=True)
    else:
        click.echo(text)


def _series_options(f):  # type: ignore[no-untyped-def]
    for option in reversed([
        click.option("--metric", required=True, help="Indicator id."),
        click.option("--grain", type=click.Choice(["week", "month", "quarter", "year"]), default="month",
                     show_default=True, help="Period length."),
        click.option("--by", "dim", default=None, help="A dimension, to follow one of its slices."),
        click.option("--value", default=None, help="With --by: the slice (e.g. a region's name)."),
    ]):  # fmt: skip
        f = option(f)
    return f


@metrics.command("control")
@_series_options
@click.option("--baseline", type=click.IntRange(min=2), default=12, show_default=True,
              help="Number of first known periods that set the centre line and limits.")  # fmt: skip
@pass_ctx
def metrics_control(obj: Ctx, metric: str, grain: str, dim: str | None, value: str | None, baseline: int) -> None:
    """XmR control chart of one series: limits and the points that signal real change."""
    from metrics.query import QueryError, control_chart

    try:
        df, limits = control_chart(obj.engine(), metric, grain, dim, value, baseline=baseline,
                                   min_cell_size=obj.settings.privacy.min_cell_size)  # fmt: skip
    except QueryError as exc:
        raise click.ClickException(str(exc)) from None
    if limits is None:
        raise click.ClickException(f"{metric}: fewer than 2 known values to set limits from")
    click.echo(
        f"centre {limits.centre:.6g}, limits {limits.lower:.6g} to {limits.upper:.6g} (mean moving range "
        f"{limits.mean_moving_range:.6g}, baseline of {limits.baseline_points} periods)"
    )
    for r in df.itertuples(index=False):
        shown = "suppressed" if r.suppressed else ("-" if pd_isna(r.value) else f"{r.value:.6g}")
        click.echo(f"{r.period}  {shown:>12}  {', '.join(r.signals)}")


@metrics.command("before-after")
@_series_options
@click.option("--event", required=True,
              help="A date (YYYY-MM-DD) or the English label of an event in config.yaml annotations.")  # fmt: skip
@click.option("--periods", type=click.IntRange(min=2), default=None,
              help="Periods on each side (default: as many as both sides have).")  # fmt: skip
@pass_ctx
def metrics_before_after(obj: Ctx, metric: str, grain: str, dim: str | None, value: str | None, event: str,
                         periods: int | None) -> None:  # fmt: skip
    """Compare an equal number of periods before and after an event."""
    from metrics.lookups import with_store_lookups
    from metrics.query import QueryError, compare_before_after

    labels = {a.label.en: a.date for a in with_store_lookups(obj.settings, obj.engine()).annotations}
    try:
        day = labels[event] if event in labels else dt.date.fromisoformat(event)
    except ValueError:
        raise click.BadParameter(
            f"{event!r} is neither a date nor an event in config.yaml ({sorted(labels)})"
        ) from None
    try:
        ba = compare_before_after(obj.engine(), metric, day, grain, dim, value, periods,
                                  min_cell_size=obj.settings.privacy.min_cell_size)  # fmt: skip
    except QueryError as exc:
        raise click.ClickException(str(exc)) from None
    if ba is None:
        raise click.ClickException("not enough known periods on both sides of the event")
    verdict = {True: "a real change", False: "no real change", None: "undetermined"}[ba.real_change]
    ci = "" if ba.ci_low is None else f", 95% interval {ba.ci_low:+.6g} to {ba.ci_high:+.6g}"
    click.echo(f"{metric}: {ba.periods} {grain}s before {ba.before_mean:.6g}, after {ba.after_mean:.6g}; "
               f"difference {ba.difference:+.6g}{ci}: {verdict}")  # fmt: skip


def pd_isna(x: object) -> bool:
    return x is None or (isinstance(x, float) and x != x)


# --- briefing -----------------------------------------------------------------------------


@cli.command()
@click.option("--period", required=True, help="The month to brief on, YYYY-MM (e.g. 2026-10).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Language of the briefing: English or Simplified Chinese.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True,
              help="pdf (A4, WeasyPrint) or one self-contained html file.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: reports.folder/briefing-YYYY-MM-LANG.FORMAT, recorded in the store "
              "and listed on the dashboard).")  # fmt: skip
@pass_ctx
def report(obj: Ctx, period: str, lang: str, fmt: str, out: str | None) -> None:
    """Write the monthly briefing: headline indicators against targets, real changes, equal-service
    gaps, rights uptake, backlog and a data note (see docs/briefing.md)."""
    from dashboard.briefing.charts import ChartError
    from dashboard.briefing.content import NoFigures, parse_period
    from dashboard.briefing.records import write

    try:
        month = parse_period(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    from metrics import audit

    engine = obj.engine()
    asked = {"lang": lang, "format": fmt, "out": out}
    try:
        w = write(engine, obj.settings, month, lang, fmt, Path(out) if out else None)
    except Exception as exc:
        audit.record(engine, "report", actor=audit.cli_actor(), target=f"{month:%Y-%m}", outcome="failed",
                     detail={**asked, "error": str(exc)[:500]})  # fmt: skip
        if isinstance(exc, (NoFigures, ChartError)):
            raise click.ClickException(f"no briefing written: {exc}") from None
        raise
    audit.record(engine, "report", actor=audit.cli_actor(), target=f"{month:%Y-%m}",
                 detail={**asked, "file": str(w.path), "recorded": w.recorded, "pages": w.pages})  # fmt: skip
    pages = f", {w.pages} pages" if w.pages else ""
    click.echo(f"briefing {month:%Y-%m} ({lang}, {fmt}{pages}): {w.path}" + (" (recorded)" if w.recorded else ""))


# --- worker -------------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run the scheduled jobs of config.yaml worker.jobs until stopped (SIGTERM or Ctrl-C).

    Jobs and their last run times live in the store, each firing is recorded (see `worker
    log`), and a job runs on one worker at a time even if two are started by mistake."""
    if ctx.invoked_subcommand is not None:
        return
    import logging

    from etl.worker import run_worker
    from metrics.config import config_path

    obj: Ctx = ctx.find_object(Ctx)
    obj.engine()  # the store must be set up
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    run_worker(config_path(obj.config), lambda msg: click.echo(msg, err=True))


@worker.command("run")
@click.argument("job")
@pass_ctx
def worker_run(obj: Ctx, job: str) -> None:
    """Run one job now, as the worker would: under its lock, recorded in the job log."""
    import logging

    from etl.worker import run_scheduled
    from metrics import audit
    from metrics.config import config_path

    engine = obj.engine()
    if job not in obj.settings.worker.jobs:
        raise click.ClickException(f"no job {job!r}; config.yaml worker.jobs has {sorted(obj.settings.worker.jobs)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    status = run_scheduled(str(config_path(obj.config)), job)
    audit.record(engine, "worker_run", actor=audit.cli_actor(), target=job,
                 outcome="ok" if status == "succeeded" else "failed", detail={"status": status})  # fmt: skip
    click.echo(f"job {job}: {status}")
    if status != "succeeded":
        raise SystemExit(1)


@worker.command("log")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs to show.")
@click.option("--job", default=None, help="Only this job's runs.")
@pass_ctx
def worker_log(obj: Ctx, limit: int, job: str | None) -> None:
    """Scheduled job runs, newest first: when, outcome (succeeded, failed, missed, skipped),
    worker, attempt, error; and each job's next run."""
    from etl.operations import job_log, next_runs

    engine = obj.engine()
    for name, spec in obj.settings.worker.jobs.items():
        when = next_runs(engine).get(name)
        schedule = spec.cron or f"every {spec.every_seconds} s"
        click.echo(f"{name}: {schedule}; next run {when or 'when the worker starts'}")
    rows = job_log(engine, limit, job)
    if rows.empty:
        click.echo("no job has run yet")
    for r in rows.itertuples():
        kind = "" if r.transient is None else (" (transient)" if r.transient else " (terminal)")
        error = f"  {r.error}" if isinstance(r.error, str) else ""
        click.echo(f"{r.started_at:%Y-%m-%d %H:%M:%S} {r.job:<16} {r.status}{kind:<12} attempt {r.attempt} "
                   f"on {r.worker}{error}")  # fmt: skip


# --- dashboard ----------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8050, show_default=True, help="Port to listen on.")
@pass_ctx
def serve(obj: Ctx, host: str, port: int) -> None:
    """Serve the dashboard (reads metric cells only)."""
    from dashboard.app import create_app

    if not obj.settings.auth.required and host not in LOOPBACK:
        raise click.ClickException(
            f"auth.required is false: the dashboard would be open to anyone who reaches {host}; "
            "serve it on 127.0.0.1 only, or require a login"
        )
    engine = obj.engine()
    try:
        app = create_app(obj.settings, engine)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    _warm_in_background(obj.settings, engine)
    click.echo(f"civic-metrics dashboard: http://{host}:{port}/")
    app.run(host=host, port=port, debug=False)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _warm_in_background(settings: Settings, engine: object) -> None:
    """While the server starts: the suppression of the headline indicators, then every
    table of cells the pages read, so no reader waits for a first read."""
    import threading

    from dashboard import data
    from metrics.catalogue import CATALOGUE
    from metrics.query import warm

    def run() -> None:
        started = time.perf_counter()
        metrics = settings.dashboard.headline or tuple(CATALOGUE)
        warm(engine, metrics, settings.privacy.min_cell_size)  # type: ignore[arg-type]
        tables = data.warm(engine, settings.privacy.min_cell_size)  # type: ignore[arg-type]
        click.echo(f"civic-metrics dashboard: {tables} tables of cells read in {time.perf_counter() - started:.1f} s",
                   err=True)  # fmt: skip

    threading.Thread(target=run, daemon=True).start()


@cli.command()
@click.option("--port", type=int, default=8050, show_default=True, help="Port for the dashboard.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--cases", type=click.IntRange(min=100), default=200_000, show_default=True, help="Number of demo cases.")
@click.option("--no-serve", is_flag=True, help="Prepare everything but do not start the dashboard.")
@pass_ctx
def demo(obj: Ctx, port: int, host: str, cases: int, no_serve: bool) -> None:
    """Set up the store, write demo data, load it, compute indicators and serve the dashboard."""
    from etl.demo_data import write_demo_data
    from etl.runner import forget_source, run_jobs
    from metrics.refresh import refresh
    from metrics.store.db import engine_for, upgrade

    t0 = time.perf_counter()
    s = obj.settings
    engine = engine_for(s)
    upgrade(engine)
    cases_src = s.etl.sources.get("cases")
    folder = s.resolve(cases_src.path).parent if cases_src else s.resolve("var/demo")
    progress(f"writing {cases:,} demo cases to {folder}")
    write_demo_data(folder, cases=cases)
    # Another --cases or seed makes other cases under the same references: start afresh.
    for job, src in s.etl.sources.items():
        if src.kind == "cases_csv" and (gone := forget_source(engine, job)):
            progress(f"{job}: removed {gone:,} cases of an earlier demo")
    from etl.privacy import demo_key

    if demo_key():  # the demo loads its cases afresh each run: a key of this run is enough
        progress("CIVIC_METRICS_PSEUDONYM_KEY is not set: a key for this run only makes the citizen pseudonyms")
    for summary in run_jobs(s, engine, None, progress):
        click.echo(summary.line())
    r = refresh(s, engine, None, progress)
    click.echo(f"refresh: {r.cells:,} cells in {r.seconds:.1f} s")
    click.echo(f"demo ready in {time.perf_counter() - t0:.0f} s")
    if no_serve:
        return
    import secrets

    from dashboard.app import create_app
    from metrics.config import Secrets

    key = Secrets().secret_key
    if s.auth.required:
        password = _demo_account(engine, s)
        click.echo(f"sign in as {DEMO_USER} (admin) with the password {password} (a new one each run)")
        if key is None:
            # Sessions of this run only: a restart logs everyone out, which a demo can afford.
            progress("CIVIC_METRICS_SECRET_KEY is not set: a key for this run only signs the session cookies")
    app = create_app(s, engine, (key.get_secret_value() if key else None) or secrets.token_hex(32))
    _warm_in_background(s, engine)
    click.echo(f"civic-metrics dashboard: http://{host}:{port}/")
    app.run(host=host, port=port, debug=False)


DEMO_USER = "demo"


def _demo_account(engine: object, settings: Settings) -> str:
    """The demo's admin account with a new random password (printed once, never stored)."""
    import secrets

    from metrics import audit, users

    password = secrets.token_urlsafe(12)
    actor = audit.cli_actor()
    if users.get(engine, DEMO_USER) is None:  # type: ignore[arg-type]
        users.add(engine, DEMO_USER, password, "admin", actor=actor,  # type: ignore[arg-type]
                  min_password_length=settings.auth.min_password_length)  # fmt: skip
    else:
        users.set_password(engine, DEMO_USER, password, actor=actor,  # type: ignore[arg-type]
                           min_password_length=settings.auth.min_password_length)  # fmt: skip
        users.set_role(engine, DEMO_USER, "admin", actor=actor)  # type: ignore[arg-type]
        users.set_active(engine, DEMO_USER, True, actor=actor)  # type: ignore[arg-type]
    return password


def main() -> None:
    cli()


if __name__ == "__main__":
    main()


# The accounts and publication groups live in their own modules (they need Ctx, defined above).
from metrics.cli_publish import publish_group  # noqa: E402
from metrics.cli_users import users_group  # noqa: E402

cli.add_command(users_group)
cli.add_command(publish_group)
