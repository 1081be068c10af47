"""The store's tables, in three layers: canonical data, metric cells, operations.

All timestamps are UTC, stored without a zone so that SQLite and PostgreSQL hold the same
values. Bulk work goes through `Model.__table__` with Core statements, never row by row.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


# --- canonical data ---------------------------------------------------------------------


class Case(Base):
    __tablename__ = "cases"

    case_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[str] = mapped_column(String(150))
    service: Mapped[str] = mapped_column(String(150))
    department: Mapped[str] = mapped_column(String(150))
    channel: Mapped[str] = mapped_column(String(60))
    region: Mapped[str] = mapped_column(String(150))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # A due time given by the source system; when null, the service deadline applies.
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(40))
    citizen_key: Mapped[str | None] = mapped_column(String(128))
    handoffs: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    row_hash: Mapped[str] = mapped_column(String(32))
    etl_run_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_cases_opened_at", "opened_at"),
        Index("ix_cases_source", "source"),
        # Incremental refresh finds a changed case's other contacts (repeat contacts).
        Index("ix_cases_citizen_key", "citizen_key"),
    )


class CaseGroup(Base):
    """A case's population-group values, one row per attribute (attributes come from config)."""

    __tablename__ = "case_groups"

    case_key: Mapped[str] = mapped_column(
        String(200), ForeignKey("cases.case_key", ondelete="CASCADE"), primary_key=True
    )
    attribute: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(150))


class Population(Base):
    """Residents by year and region; attribute '' is the region's total."""

    __tablename__ = "populations"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    region: Mapped[str] = mapped_column(String(150), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(60), primary_key=True)
    group_value: Mapped[str] = mapped_column(String(150), primary_key=True)
    population: Mapped[int] = mapped_column(BigInteger)
    etl_run_id: Mapped[int] = mapped_column(Integer)


class EligiblePopulation(Base):
    """People eligible for an entitlement programme; attribute '' is the region's total and
    region '' the whole area's. A publisher may give only the take-up rate (no counts)."""

    __tablename__ = "eligible_populations"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme: Mapped[str] = mapped_column(String(150), primary_key=True)
    region: Mapped[str] = mapped_column(String(150), primary_key=True)
    attribute: Mapped[str] = mapped_column(String(60), primary_key=True)
    group_value: Mapped[str] = mapped_column(String(150), primary_key=True)
    eligible: Mapped[int | None] = mapped_column(BigInteger)
    eligible_low: Mapped[int | None] = mapped_column(BigInteger)
    eligible_high: Mapped[int | None] = mapped_column(BigInteger)
    recipients: Mapped[int | None] = mapped_column(BigInteger)
    rate: Mapped[float | None] = mapped_column(Float)
    rate_low: Mapped[float | None] = mapped_column(Float)
    rate_high: Mapped[float | None] = mapped_column(Float)
    etl_run_id: Mapped[int] = mapped_column(Integer)


# --- metric cells -------------------------------------------------------------------------


class MetricCell(Base):
    """One indicator value for one period and slice, with its lineage."""

    __tablename__ = "metric_cells"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    metric: Mapped[str] = mapped_column(String(80))
    definition_version: Mapped[int] = mapped_column(Integer)
    grain: Mapped[str] = mapped_column(String(10))
    period: Mapped[dt.date] = mapped_column(Date)
    # Sorted, comma-joined dimension names ('' for the whole population) and the
    # slice's values as 'dim=value|dim=value'.
    dim_names: Mapped[str] = mapped_column(String(200))
    dims_key: Mapped[str] = mapped_column(String(500))
    across: Mapped[str] = mapped_column(String(60), default="")
    value: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int | None] = mapped_column(BigInteger)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(200))
    as_of: Mapped[dt.datetime] = mapped_column(DateTime)
    refresh_run_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint(
            "metric",
            "definition_version",
            "grain",
            "period",
            "dim_names",
            "dims_key",
            "across",
            name="uq_metric_cells_slice",
        ),
        Index("ix_metric_cells_read", "metric", "grain", "dim_names", "period"),
    )


# --- operations ---------------------------------------------------------------------------


class EtlRun(Base):
    __tablename__ = "etl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))  # running, succeeded, failed
    file: Mapped[str | None] = mapped_column(String(500))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_new: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_changed: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class QuarantinedRow(Base):
    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    etl_run_id: Mapped[int] = mapped_column(Integer, index=True)
    job: Mapped[str] = mapped_column(String(100))
    row_number: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the source row as JSON, exactly as read
    # Which batch of the run the row came from (a file's name, an API window): row numbers
    # count within it.
    batch: Mapped[str | None] = mapped_column(String(500))


class SourceState(Base):
    """Where each source stands: its high-water mark, committed with the batch that moved it."""

    __tablename__ = "source_state"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(Text)  # JSON
    etl_run_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoadedFile(Base):
    """Files a source has loaded, by name and checksum: each is loaded once; a file whose
    content changed under the same name is loaded again (its cases upserted)."""

    __tablename__ = "loaded_files"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    etl_run_id: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    rows: Mapped[int] = mapped_column(BigInteger)


class WorkerLock(Base):
    """A lease that one worker holds on a job, so a second worker started by mistake does
    not run the same job at the same time; a lease not renewed expires (a killed worker)."""

    __tablename__ = "worker_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class JobRun(Base):
    """What the scheduler did with each firing of a job: ran it (and how it ended), found
    it missed, or skipped it because another worker held the job."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(100), index=True)
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # running, succeeded, failed, missed, skipped
    status: Mapped[str] = mapped_column(String(20))
    worker: Mapped[str] = mapped_column(String(200))
    transient: Mapped[bool | None] = mapped_column(Boolean)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)


class RefreshRun(Base):
    __tablename__ = "refresh_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cases: Mapped[int] = mapped_column(BigInteger, default=0)
    cells: Mapped[int] = mapped_column(BigInteger, default=0)
    # Lineage: the newest ETL run whose data this refresh saw.
    last_etl_run_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # 'full' or 'incremental' (only the periods touched by changed cases recomputed).
    mode: Mapped[str | None] = mapped_column(String(20))
    # A digest of everything besides the cases that the cells rest on (settings, reference
    # tables, definitions, first case): an incremental refresh needs the same as the last.
    basis: Mapped[str | None] = mapped_column(String(64))
    periods: Mapped[int | None] = mapped_column(Integer)


class CaseChange(Base):
    """A case written by the ETL since the last metric refresh, with what it was before, so
    the refresh can recompute only the periods it touched (old and new). A row with no
    case_key asks for a full refresh (cases deleted, or too many changes to list)."""

    __tablename__ = "case_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    etl_run_id: Mapped[int] = mapped_column(Integer)
    case_key: Mapped[str | None] = mapped_column(String(200))
    # The stored version before the change (null for a new case).
    old_opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    old_closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    old_first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    old_service: Mapped[str | None] = mapped_column(String(150))
    old_citizen_key: Mapped[str | None] = mapped_column(String(128))
    # What placed the old version in slices (dimensions, groups, due time), to compare.
    old_slice: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(200))


# --- reference tables kept by programme offices (loaded from files) ------------------------


class TargetRow(Base):
    """An indicator's target and alert threshold, from a targets table."""

    __tablename__ = "targets"

    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    target: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    job: Mapped[str] = mapped_column(String(100))
    etl_run_id: Mapped[int] = mapped_column(Integer)


class CalendarDay(Base):
    """A public holiday or a working day on a weekend (make-up day), from a holidays table."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # holiday, working_day
    name: Mapped[str | None] = mapped_column(String(200))
    job: Mapped[str] = mapped_column(String(100))
    etl_run_id: Mapped[int] = mapped_column(Integer)


class AnnotationRow(Base):
    """An event long series are read against (a new minister, a reorganisation)."""

    __tablename__ = "annotations"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    label_en: Mapped[str] = mapped_column(String(300), primary_key=True)
    label_zh: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    job: Mapped[str] = mapped_column(String(100))
    etl_run_id: Mapped[int] = mapped_column(Integer)


# --- briefings ----------------------------------------------------------------------------


class BriefingRow(Base):
    """A monthly briefing written into the reports folder (one per period, language and
    format; writing it again replaces the record)."""

    __tablename__ = "briefings"
    __table_args__ = (UniqueConstraint("period", "lang", "format", name="uq_briefings_period_lang_format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[dt.date] = mapped_column(Date)
    lang: Mapped[str] = mapped_column(String(5))
    format: Mapped[str] = mapped_column(String(5))
    # The file's name inside `reports.folder`: never a path, so it cannot point elsewhere.
    file_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    as_of: Mapped[dt.datetime | None] = mapped_column(DateTime)
    refresh_run_id: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    made_by: Mapped[str] = mapped_column(String(20))  # cli, worker


# --- published figures --------------------------------------------------------------------


class Publication(Base):
    """One revision of a month's published figure set: who published it, when, what it rests
    on, and (from revision 2) the correction note saying why the figures changed. Append-only
    like the audit log: a trigger in the store refuses UPDATE and DELETE, so what a minister
    announced stays on record beside every correction."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("period", "revision", name="uq_publications_period_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[dt.date] = mapped_column(Date)  # the month's first day
    revision: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the period
    published_at: Mapped[dt.datetime] = mapped_column(DateTime)
    published_by: Mapped[str] = mapped_column(String(150))  # `cli:<os user>`
    # Revision 1: an optional remark; later revisions: the required correction note.
    note: Mapped[str | None] = mapped_column(Text)
    as_of: Mapped[dt.datetime | None] = mapped_column(DateTime)  # the newest as_of among its figures
    refresh_run_id: Mapped[int | None] = mapped_column(Integer)  # the newest refresh run behind them
    min_cell_size: Mapped[int] = mapped_column(Integer)  # the suppression threshold applied
    figures: Mapped[int] = mapped_column(Integer)  # how many figures it holds
    definitions: Mapped[str] = mapped_column(Text)  # JSON {indicator: definition version}
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the figures, canonically written


class PublishedFigure(Base):
    """A figure of a publication exactly as `metrics export` gave it then (suppression
    applied: a suppressed figure is null with `suppressed` set). Append-only."""

    __tablename__ = "published_figures"
    __table_args__ = (
        UniqueConstraint("publication_id", "metric", "dim_names", "dims_key", "across",
                         name="uq_published_figures_slice"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    publication_id: Mapped[int] = mapped_column(Integer, ForeignKey("publications.id"))
    metric: Mapped[str] = mapped_column(String(80))
    definition_version: Mapped[int] = mapped_column(Integer)
    dim_names: Mapped[str] = mapped_column(String(200))
    dims_key: Mapped[str] = mapped_column(String(500))
    across: Mapped[str] = mapped_column(String(60))
    value: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int | None] = mapped_column(BigInteger)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    suppressed: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)  # the cell's own note, then the suppression's
    as_of: Mapped[dt.datetime] = mapped_column(DateTime)
    refresh_run_id: Mapped[int] = mapped_column(Integer)


# --- access control -------------------------------------------------------------------------


class User(Base):
    """A person who may open the dashboard, with their role and (programme managers) scope.

    Scope lists are JSON arrays of service ids and department names. `session_key` is part of
    every session cookie's user id: changing the password or disabling the account draws a
    new one, which ends every session already open."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(30))  # minister_office, programme_manager, auditor, admin
    services: Mapped[str] = mapped_column(Text, default="[]")
    departments: Mapped[str] = mapped_column(Text, default="[]")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """One accountable act: a login or failed login, an export, a report download, a change
    of an account, a manual ETL run. Append-only: the product only inserts, and a trigger in
    the store (SQLite and PostgreSQL) refuses UPDATE and DELETE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    # Who did it: a username, `cli:<os user>` for the command line, None when not known (a
    # failed login names the account tried in `target`).
    actor: Mapped[str | None] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(20))  # ok, refused, failed
    detail: Mapped[str | None] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        # Login throttling counts an account's recent failures.
        Index("ix_audit_log_action_target", "action", "target"),
    )
