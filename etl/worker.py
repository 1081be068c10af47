"""The worker: scheduled ETL and refresh jobs that an operations team can leave running.

APScheduler 3 runs the jobs of `worker.jobs` in config.yaml (cron or fixed interval, each
in its time zone) from a BlockingScheduler whose jobs live in the store (SQLAlchemyJobStore),
so a restarted worker knows when each job last ran. Runs that fire together while one is
still going are coalesced, at most one instance of a job runs at a time, and a run that
starts later than `misfire_grace_seconds` is recorded as missed instead of run.

Every firing is recorded in `job_runs`: succeeded, failed (transient or terminal, with the
error), missed, or skipped. A transient failure (a source down, a timeout, the database
unreachable) is tried again later, waiting longer each time; a terminal one (bad config,
bad credentials, a file that does not parse) is not, since only a person can fix it.

Locks. APScheduler 3 does not coordinate schedulers that share a job store, so two workers
started by mistake would both fire each job. Each run therefore first takes a lease on its
job in the store (`worker_locks`); the worker that does not get it records the run as
skipped, naming the holder, and says so. A lease is renewed while the job runs and expires
if its worker dies, so a killed worker does not block the job for ever.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from metrics.config import ScheduledJob, Settings, load_settings
from metrics.store.models import JobRun, WorkerLock

if TYPE_CHECKING:
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.base import BaseTrigger

log = logging.getLogger("civic_metrics.worker")
HOLDER = f"{socket.gethostname()}:{os.getpid()}"
WORKER_LOCK = "worker"
JOB_TABLE = "apscheduler_jobs"
# The scheduler of this process, for jobs that schedule their own retry.
_scheduler: BlockingScheduler | None = None
_engines: dict[str, Engine] = {}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# --- leases -------------------------------------------------------------------------------


def acquire(engine: Engine, name: str, holder: str, seconds: int) -> str | None:
    """Take the lease `name` for `seconds`; None if taken, else who holds it."""
    t = now()
    with engine.begin() as conn:
        conn.execute(delete(WorkerLock).where(WorkerLock.name == name, WorkerLock.expires_at < t))
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(WorkerLock).values(
                    name=name, holder=holder, acquired_at=t, expires_at=t + dt.timedelta(seconds=seconds)
                )
            )
        return None
    except IntegrityError:
        with engine.connect() as conn:
            other = conn.execute(select(WorkerLock.holder).where(WorkerLock.name == name)).scalar()
        if other == holder:  # our own lease (a worker restarted under the same pid is not us)
            renew(engine, name, holder, seconds)
            return None
        return other or "another worker"


def renew(engine: Engine, name: str, holder: str, seconds: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(WorkerLock)
            .where(WorkerLock.name == name, WorkerLock.holder == holder)
            .values(expires_at=now() + dt.timedelta(seconds=seconds))
        )


def release(engine: Engine, name: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(WorkerLock).where(WorkerLock.name == name, WorkerLock.holder == holder))


class Heartbeat:
    """Renews a lease while a job runs, every third of its length."""

    def __init__(self, engine: Engine, name: str, holder: str, seconds: int):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(engine, name, holder, seconds), daemon=True)

    def _run(self, engine: Engine, name: str, holder: str, seconds: int) -> None:
        while not self._stop.wait(seconds / 3):
            try:
                renew(engine, name, holder, seconds)
            except OperationalError:  # the store is briefly away: try again at the next beat
                log.warning("could not renew the lease %s", name)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# --- running one job ------------------------------------------------------------------------


def engine_of(settings: Settings) -> Engine:
    from metrics.store.db import engine_for, store_url

    url = store_url(settings)
    if url not in _engines:
        _engines[url] = engine_for(settings)
    return _engines[url]


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later can help: our own errors say so; a database that cannot
    be reached is transient; anything else (a bug, bad data) is not."""
    if hasattr(exc, "transient"):
        return bool(exc.transient)
    return isinstance(exc, OperationalError | TimeoutError | ConnectionError)


def backoff(settings: Settings, attempt: int) -> int:
    r = settings.worker.retry
    return min(r.first_seconds * 2 ** (attempt - 1), r.max_seconds)


def run_scheduled(config_path: str, job: str, attempt: int = 1) -> str:
    """One firing of a job (called by APScheduler, or by `worker run`): take the job's lease,
    run its steps, record the outcome, schedule a retry after a transient failure.
    Returns the status recorded."""
    settings = load_settings(config_path)
    engine = engine_of(settings)
    spec = settings.worker.jobs.get(job)
    if spec is None:
        return _record(engine, job, now(), "failed", error=f"no job {job!r} in {config_path} worker.jobs")
    holder = acquire(engine, f"job:{job}", HOLDER, settings.worker.lease_seconds)
    # Once the lease is ours (taking it may wait for another writer): a run starts after the
    # run it follows has finished, in the log as in fact.
    started = now()
    if holder is not None:
        log.warning("job %s is already running on worker %s; this run is skipped", job, holder)
        return _record(engine, job, started, "skipped", error=f"already running on worker {holder}", attempt=attempt)
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(JobRun).values(job=job, started_at=started, status="running", worker=HOLDER, attempt=attempt)
        ).inserted_primary_key[0]
    log.info("job %s: started (attempt %d)", job, attempt)
    # The outcome is recorded before the lease is released: released first, another worker
    # could start the job while this run still showed as running.
    try:
        try:
            with Heartbeat(engine, f"job:{job}", HOLDER, settings.worker.lease_seconds):
                _steps(settings, engine, spec, lambda msg: log.info("job %s: %s", job, msg))
        except Exception as exc:
            transient = is_transient(exc)
            error = f"{type(exc).__name__}: {exc}"
            retry_at = None
            if transient and attempt <= settings.worker.retry.attempts:
                retry_at = _schedule_retry(config_path, settings, job, attempt)
            if retry_at is not None:
                error += f"; retry {attempt} of {settings.worker.retry.attempts} at {retry_at:%Y-%m-%d %H:%M:%S} UTC"
            log.error("job %s: %s error: %s", job, "transient" if transient else "terminal", error)
            _finish(engine, run_id, "failed", error=error, transient=transient)
            return "failed"
        _finish(engine, run_id, "succeeded")
    finally:
        release(engine, f"job:{job}", HOLDER)
    log.info("job %s: succeeded", job)
    return "succeeded"


def _steps(settings: Settings, engine: Engine, spec: ScheduledJob, say: Callable[[str], None]) -> None:
    for step in spec.steps:
        if step == "etl":
            from etl.runner import run_jobs

            for summary in run_jobs(settings, engine, list(spec.sources) or None, say):
                say(summary.line())
        elif step == "refresh":
            from metrics.refresh import refresh

            r = refresh(settings, engine, progress=say)
            how = f"{r.periods:,} periods recomputed" if r.mode == "incremental" else f"full: {r.reason}"
            say(f"refresh {r.run_id} ({how}): {r.cells:,} cells from {r.cases:,} cases in {r.seconds:.1f} s")
        elif step == "report":
            from dashboard.briefing.schedule import run_due

            run_due(engine, settings, say)


def _schedule_retry(config_path: str, settings: Settings, job: str, attempt: int) -> dt.datetime | None:
    if _scheduler is None:  # run by hand (`worker run`): the person sees the error
        return None
    wait = backoff(settings, attempt)
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
    _scheduler.add_job(
        run_scheduled,
        "date",
        run_date=at,
        id=f"{job}:retry",
        name=f"{job} (retry {attempt})",
        args=[config_path, job, attempt + 1],
        replace_existing=True,
        misfire_grace_time=settings.worker.misfire_grace_seconds,
    )
    return at.replace(tzinfo=None)


def _record(
    engine: Engine,
    job: str,
    started: dt.datetime,
    status: str,
    error: str | None = None,
    scheduled_for: dt.datetime | None = None,
    attempt: int = 1,
) -> str:
    with engine.begin() as conn:
        conn.execute(
            insert(JobRun).values(
                job=job,
                scheduled_for=scheduled_for,
                started_at=started,
                finished_at=now(),
                status=status,
                worker=HOLDER,
                attempt=attempt,
                error=error,
            )
        )
    return status


def _finish(engine: Engine, run_id: int, status: str, error: str | None = None, transient: bool | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(JobRun)
            .where(JobRun.id == run_id)
            .values(finished_at=now(), status=status, error=error, transient=transient)
        )


# --- the worker process -------------------------------------------------------------------


def build_scheduler(settings: Settings, engine: Engine) -> BlockingScheduler:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler

    w = settings.worker
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE), "local": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max(2, len(w.jobs)))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": w.misfire_grace_seconds},
        timezone=settings.tz,
    )
    # The worker's own lease, renewed in memory (not a job of the store): tells a second
    # worker that this one is alive.
    scheduler.add_job(
        renew,
        "interval",
        seconds=max(w.lease_seconds // 3, 1),
        args=[engine, WORKER_LOCK, HOLDER, w.lease_seconds],
        id="worker-lease",
        jobstore="local",
    )

    def on_event(event: JobExecutionEvent) -> None:
        if event.job_id == "worker-lease":
            return
        job = event.job_id.removesuffix(":retry")
        scheduled = event.scheduled_run_time.astimezone(dt.UTC).replace(tzinfo=None)
        if event.code == EVENT_JOB_MISSED:
            late = (now() - scheduled).total_seconds()
            log.warning("job %s: run due at %s UTC missed (%.0f s late)", job, scheduled, late)
            _record(engine, job, now(), "missed", error=f"due at {scheduled:%Y-%m-%d %H:%M:%S} UTC, {late:.0f} s late",
                    scheduled_for=scheduled)  # fmt: skip
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            _record(engine, job, now(), "skipped", error="the previous run of this job is still going",
                    scheduled_for=scheduled)  # fmt: skip
        elif event.code == EVENT_JOB_ERROR:  # run_scheduled records its own failures; this is a bug
            log.error("job %s crashed: %r", job, event.exception)

    scheduler.add_listener(on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)
    return scheduler


def sync_jobs(scheduler: BlockingScheduler, config_path: Path, settings: Settings, say: Callable[[str], None]) -> None:
    """Make the store's jobs those of the config. A job whose schedule is unchanged keeps
    its stored next run time, so a run that fell due while the worker was down is run late
    (within the grace time) or recorded as missed, not silently moved to the next slot."""
    w = settings.worker
    for name, spec in w.jobs.items():
        new = trigger(settings, spec)
        old = scheduler.get_job(name, jobstore="default")
        if old is None:
            scheduler.add_job(run_scheduled, new, id=name, name=name, args=[str(config_path), name])
        elif not same_schedule(old.trigger, new) or list(old.args) != [str(config_path), name]:
            say(f"job {name}: schedule changed in {config_path}")
            old.modify(args=[str(config_path), name])
            old.reschedule(new)
    wanted = set(w.jobs) | {f"{j}:retry" for j in w.jobs}
    for job in scheduler.get_jobs(jobstore="default"):
        if job.id not in wanted:  # renamed or removed from the config: must not run
            say(f"removing job {job.id!r}: no longer in {config_path}")
            job.remove()


def same_schedule(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if hasattr(a, "interval"):  # an interval's start differs with each worker start
        return a.interval == b.interval and str(a.timezone) == str(b.timezone)  # type: ignore[attr-defined]
    return repr(a) == repr(b)


def trigger(settings: Settings, spec: ScheduledJob) -> BaseTrigger:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    tz = spec.timezone or settings.timezone
    if spec.cron is not None:
        return CronTrigger.from_crontab(spec.cron, timezone=tz)
    return IntervalTrigger(seconds=spec.every_seconds, timezone=tz)


def run_worker(config_path: Path, say: Callable[[str], None]) -> None:
    """Start the worker and block until SIGTERM or SIGINT, then stop after running jobs end."""
    global _scheduler
    settings = load_settings(config_path)
    engine = engine_of(settings)
    w = settings.worker
    if not w.jobs:
        raise SystemExit(f"{config_path}: worker.jobs is empty; nothing to schedule")
    other = acquire(engine, WORKER_LOCK, HOLDER, w.lease_seconds)
    if other is not None:
        say(
            f"warning: another worker ({other}) is running on this store; each job runs on one worker at a "
            "time, so runs this worker finds locked are recorded as skipped"
        )
    scheduler = build_scheduler(settings, engine)
    _scheduler = scheduler

    def stop(signum: int, _frame: object) -> None:
        say(f"worker {HOLDER}: {signal.Signals(signum).name} received, stopping after running jobs end")
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    from apscheduler.events import EVENT_SCHEDULER_STARTED

    def started(_event: object) -> None:
        sync_jobs(scheduler, config_path, settings, say)
        for job in scheduler.get_jobs(jobstore="default"):
            say(f"job {job.id}: next run {job.next_run_time:%Y-%m-%d %H:%M:%S %Z}")
        say(f"worker {HOLDER} started with {len(w.jobs)} job(s); SIGTERM or Ctrl-C stops it")

    scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
    try:
        scheduler.start()
    finally:
        _scheduler = None
        release(engine, WORKER_LOCK, HOLDER)
        say(f"worker {HOLDER} stopped")
