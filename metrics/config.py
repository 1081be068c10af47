"""Typed, frozen settings loaded from config.yaml.

Every problem in the file is reported at once, each naming the file, the line, the key path
and what was expected, so a ministry's analyst can fix the file in one pass. Secrets never
live in the file: they come from the environment (see `Secrets`).
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CONFIG_PATH = Path("config.yaml")
CONFIG_ENV_VAR = "CIVIC_METRICS_CONFIG"

# Canonical case fields a source may map. Group attributes come from `groups`.
CASE_FIELDS = (
    "source_id",
    "opened_at",
    "first_response_at",
    "closed_at",
    "due_at",
    "service",
    "department",
    "channel",
    "region",
    "outcome",
    "citizen_key",
    "handoffs",
    "reopened",
    "rating",
)
REQUIRED_CASE_FIELDS = ("source_id", "opened_at", "service")
OUTCOMES = ("resolved", "granted", "refused", "withdrawn", "referred")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Names(Frozen):
    en: str
    zh: str | None = None

    def get(self, lang: str) -> str:
        return (self.zh if lang == "zh" else None) or self.en


class StoreSettings(Frozen):
    url: str = Field("sqlite:///var/civic-metrics.db", description="SQLAlchemy URL of the store")


class CalendarSettings(Frozen):
    holiday_country: str | None = Field("GB", description="ISO country code for `holidays`")
    holiday_subdivision: str | None = None
    extra_holidays: tuple[dt.date, ...] = ()
    extra_working_days: tuple[dt.date, ...] = ()


class PrivacySettings(Frozen):
    min_cell_size: Annotated[int, Field(ge=1)] = 10


class Region(Frozen):
    id: str
    kind: Literal["urban", "rural", "mixed"] = "mixed"
    # The larger area the region lies in; when every region has one, Theil's index is also
    # split into its parts between and within areas.
    area: str | None = None
    name: Names | None = None


class GroupAttribute(Frozen):
    label: Names
    values: tuple[str, ...]
    reference: str
    not_stated: str = "Not stated"

    @model_validator(mode="after")
    def _reference_and_not_stated_are_values(self) -> GroupAttribute:
        problems = []
        if self.reference not in self.values:
            problems.append(f"reference {self.reference!r} is not one of values {list(self.values)}")
        if self.not_stated not in self.values:
            problems.append(
                f"values must include the not-stated value {self.not_stated!r}: "
                "people who did not say are a group of their own"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Service(Frozen):
    department: str
    deadline_working_days: Annotated[int, Field(ge=0)] | None = None
    entitlement: bool = False
    name: Names | None = None


class Target(Frozen):
    target: float
    threshold: float


class Annotation(Frozen):
    """An event that every long series is read against: a new minister, a CRM rollout, a
    reorganisation."""

    date: dt.date
    label: Names
    kind: Literal["minister", "system", "reorganisation", "policy", "other"] = "other"


class MetricsSettings(Frozen):
    grains: tuple[Literal["week", "month", "quarter", "year"], ...] = (
        "week",
        "month",
        "quarter",
        "year",
    )
    dimensions: tuple[Literal["region", "channel", "service", "department"], ...] = (
        "region",
        "channel",
        "service",
        "department",
    )
    # Pairs (or triples) of dimensions whose combined slices are computed too, e.g.
    # [region, age_band]: gaps within regions. Each adds one cell per combination of values.
    combinations: tuple[tuple[str, ...], ...] = ()

    @model_validator(mode="after")
    def _month_always(self) -> MetricsSettings:
        if "month" not in self.grains:
            raise ValueError("grains must include 'month': it is the default grain everywhere")
        return self


class CsvSourceBase(Frozen):
    path: str
    encoding: str = "utf-8"
    delimiter: str = ","
    values: dict[str, dict[str, str]] = {}


class CaseMapping(Frozen):
    """How a source's rows become cases; the same for files, databases and APIs."""

    timezone: str | None = None
    datetime_format: str | None = None
    strict_services: bool = True
    strict_regions: bool = False
    columns: dict[str, str]
    groups: dict[str, str] = {}
    # Fixed values for canonical fields the source does not carry (e.g. channel: unknown).
    constants: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    # Source columns holding personal data (names, addresses, phone numbers, national ids,
    # precise coordinates, free text): dropped as the source is read, so they are stored
    # nowhere, the quarantine included (etl.privacy). The column mapped to citizen_key may be
    # listed too; it is always stored as a keyed pseudonym, never as read.
    personal_columns: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _columns_known(self) -> CaseMapping:
        problems = []
        unknown = sorted(set(self.columns) - set(CASE_FIELDS))
        if unknown:
            problems.append(f"columns: unknown canonical fields {unknown}; expected some of {list(CASE_FIELDS)}")
        missing = [f for f in REQUIRED_CASE_FIELDS if f not in self.columns and f not in self.constants]
        if missing:
            problems.append(f"columns: required canonical fields missing: {missing}")
        problems += self._personal_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _personal_problems(self) -> list[str]:
        read = {col: f"columns.{field}" for field, col in self.columns.items() if field != "citizen_key"}
        read |= {col: f"groups.{attr}" for attr, col in self.groups.items()}
        problems = []
        for col in self.personal_columns:
            if not col.strip():
                problems.append("personal_columns: expected column names, got an empty one")
            elif col in read:
                problems.append(
                    f"personal_columns: {col!r} is also read as {read[col]}; a personal column is dropped "
                    "unread, so map another column there or leave it off personal_columns"
                )
        return problems


class CasesCsvSource(CaseMapping):
    kind: Literal["cases_csv"]
    # A file, a folder (every .csv and .xlsx in it) or a glob pattern (exports/*.csv);
    # each file is loaded once, remembered by name and checksum.
    path: str
    encoding: str = "utf-8"
    delimiter: str = ","
    sheet: str | None = None  # for .xlsx files: the sheet (default: the first)


class CasesSqlSource(CaseMapping):
    """A CRM database, read incrementally on its last-modified column."""

    kind: Literal["cases_sql"]
    # A SQLAlchemy URL without a password; the password comes from `password_env`.
    url: str
    password_env: str | None = None
    table: str | None = None
    query: str | None = None
    updated_at: str
    key: str
    batch_size: Annotated[int, Field(ge=1)] = 50_000

    @model_validator(mode="after")
    def _table_or_query(self) -> CasesSqlSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give either table or query")
        for role in ("key", "updated_at"):
            if getattr(self, role) in self.personal_columns:
                raise ValueError(
                    f"personal_columns: {getattr(self, role)!r} is the source's `{role}`, whose values the "
                    "source's position stores; it cannot be personal"
                )
        return self


class CasesOpen311Source(CaseMapping):
    """A public Open311 GeoReport v2 endpoint (requests.json), read in date windows."""

    kind: Literal["cases_open311"]
    endpoint: str
    start: dt.date
    window_days: Annotated[int, Field(ge=1)] = 7
    lookback_days: Annotated[int, Field(ge=0)] = 30
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    jurisdiction_id: str | None = None
    service_codes: tuple[str, ...] = ()
    timeout_seconds: Annotated[float, Field(gt=0)] = 30
    retries: Annotated[int, Field(ge=0)] = 3


CASE_SOURCE_KINDS = ("cases_csv", "cases_sql", "cases_open311")

# Fields of the small reference tables a programme office keeps in a spreadsheet.
LOOKUP_FIELDS = {
    "targets_csv": (("metric", "target", "threshold"), ()),
    "holidays_csv": (("date", "kind"), ("name",)),
    "annotations_csv": (("date", "label_en"), ("label_zh", "kind")),
}


class LookupCsvSource(CsvSourceBase):
    """Targets, holidays (and make-up working days) or annotated events from a file, beside
    (and over) those written in config.yaml: a table replaces what this source loaded
    before."""

    kind: Literal["targets_csv", "holidays_csv", "annotations_csv"]
    columns: dict[str, str]
    sheet: str | None = None

    @model_validator(mode="after")
    def _columns_known(self) -> LookupCsvSource:
        required, optional = LOOKUP_FIELDS[self.kind]
        problems = []
        if missing := [f for f in required if f not in self.columns]:
            problems.append(f"columns: missing {missing}")
        if unknown := sorted(set(self.columns) - set(required) - set(optional)):
            problems.append(f"columns: unknown fields {unknown}; expected some of {[*required, *optional]}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class SheetBlocks(Frozen):
    """A report-style sheet: titled blocks of rows under one row of column headings, as
    statistics offices publish them (e.g. DWP take-up tables)."""

    # 1-based row of the sheet whose cells name the categories of the columns below it.
    header_row: Annotated[int, Field(ge=1)]
    # Block title, exactly as in the first column -> the name of its column in the tidy table.
    titles: dict[str, str]


class Unpivot(Frozen):
    """A wide table with one column per period or category, read as one row per cell."""

    columns: tuple[str, ...]
    # Names of the two new columns: the header each value came from, and the value itself.
    name: str = "column"
    value: str = "value"


ELIGIBLE_FIELDS = (
    "eligible",
    "eligible_low",
    "eligible_high",
    "recipients",
    "non_recipients",
    "non_recipients_low",
    "non_recipients_high",
    "rate",
    "rate_low",
    "rate_high",
)


class ReferenceCsvSource(CsvSourceBase):
    kind: Literal["population_csv", "eligible_csv"]
    columns: dict[str, str]
    total_label: str = "All residents"
    # A region value meaning the whole area (a "National" row): its figures are the total,
    # not a region of their own.
    all_regions_label: str | None = None
    # Fixed values for fields the table does not carry (e.g. region: Great Britain).
    constants: dict[str, str] = {}
    # Spreadsheets (.xlsx, .ods): the sheet to read; `blocks` for report-style layouts.
    sheet: str | None = None
    blocks: SheetBlocks | None = None
    unpivot: Unpivot | None = None
    # Counts published in thousands are read with scale 1000.
    scale: Annotated[float, Field(gt=0)] = 1
    rate_unit: Literal["percent", "fraction"] = "percent"

    @model_validator(mode="after")
    def _columns_known(self) -> ReferenceCsvSource:
        given = set(self.columns) | set(self.constants)
        needed = {"year", "region", "attribute", "group"}
        needed |= {"population"} if self.kind == "population_csv" else {"programme"}
        allowed = needed | (set(ELIGIBLE_FIELDS) if self.kind == "eligible_csv" else set())
        problems = []
        if missing := sorted(needed - given):
            problems.append(f"columns: missing {missing}")
        if unknown := sorted(given - allowed):
            problems.append(f"columns: unknown fields {unknown}; expected some of {sorted(allowed)}")
        if self.kind == "eligible_csv" and not (
            "eligible" in given or {"recipients", "non_recipients"} <= given or "rate" in given
        ):
            problems.append("columns: expected eligible, or recipients and non_recipients, or a published rate")
        if "eligible" in given and "non_recipients" in given:
            problems.append("columns: give eligible or non_recipients, not both")
        if problems:
            raise ValueError("; ".join(problems))
        return self


Source = Annotated[
    CasesCsvSource | CasesSqlSource | CasesOpen311Source | ReferenceCsvSource | LookupCsvSource,
    Field(discriminator="kind"),
]


class EtlSettings(Frozen):
    sources: dict[str, Source] = {}


class ScheduledJob(Frozen):
    """One job of the worker: when it runs and what it does."""

    # Crontab (minute hour day month weekday), e.g. "30 2 * * *" for 02:30 every night.
    cron: str | None = None
    # Or a fixed interval, for feeds polled often (an Open311 endpoint every 900 s).
    every_seconds: Annotated[int, Field(ge=1)] | None = None
    timezone: str | None = None  # default: the top-level timezone
    steps: tuple[Literal["etl", "refresh", "report"], ...] = ("etl", "refresh")
    sources: tuple[str, ...] = ()  # default: every source

    @model_validator(mode="after")
    def _one_schedule(self) -> ScheduledJob:
        if (self.cron is None) == (self.every_seconds is None):
            raise ValueError("give either cron or every_seconds")
        return self


class RetrySettings(Frozen):
    """After a transient failure (a source down, a timeout) the job is tried again, waiting
    first_seconds, then twice as long each time up to max_seconds, at most `attempts` times."""

    first_seconds: Annotated[int, Field(ge=1)] = 300
    max_seconds: Annotated[int, Field(ge=1)] = 21_600
    attempts: Annotated[int, Field(ge=0)] = 5


class WorkerSettings(Frozen):
    jobs: dict[str, ScheduledJob] = {}
    # A run that could not start on time (the worker was down) still runs this late; later
    # than that it is recorded as missed, and runs missed in a row are run once (coalesced).
    misfire_grace_seconds: Annotated[int, Field(ge=1)] = 3600
    # A worker holds a job's lock for this long and renews it while the job runs; a worker
    # that was killed loses its locks when they expire.
    lease_seconds: Annotated[int, Field(ge=5)] = 300
    retry: RetrySettings = RetrySettings()


class ReportSettings(Frozen):
    """The monthly briefing (`civic-metrics report`, and the worker's `report` step)."""

    # Briefings are written into this folder (relative to the config file); the dashboard
    # serves them from it.
    folder: Path = Path("var/reports")
    # The languages the worker writes each month's briefing in.
    languages: tuple[Literal["en", "zh"], ...] = ("en",)
    # The worker's `report` step writes last month's briefing from this working day of the
    # month on (the working-day calendar of `calendar`), once.
    working_day: Annotated[int, Field(ge=1, le=20)] = 3


class DashboardSettings(Frozen):
    default_language: Literal["en", "zh"] = "en"
    headline: tuple[str, ...] = ()
    # Names of dimension values in each language (group values, channels, departments);
    # regions and services have `name` of their own. A value without one is shown as stored.
    value_names: dict[str, Names] = {}
    # Region boundaries (GeoJSON FeatureCollection) for the equal-service map, and the
    # feature property holding the region id; without a file the page shows ranked bars.
    boundaries: Path | None = None
    boundary_id_property: str = "id"


class OidcSettings(Frozen):
    """Single sign-on through an OpenID Connect provider (the ministry's identity service).

    The provider says who someone is; the account, with its role and scope, is still made by
    an administrator with `civic-metrics users add`: a sign-in whose name has no active account
    here is refused, so nobody gets figures by merely existing in the directory."""

    # The provider's issuer URL; its discovery document is read from
    # `<issuer>/.well-known/openid-configuration` at the first sign-in.
    issuer: str
    client_id: str
    # The claim of the ID token matched against the account's username.
    username_claim: str = "preferred_username"
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    # The name on the sign-in button ("Sign in with ..."), in each language.
    name: Names = Names(en="single sign-on", zh="统一身份认证")
    # The address the provider sends the browser back to, as registered with it; by default
    # built from the request (`<site>/login/sso/callback`), which behind a proxy may not be right.
    redirect_uri: str | None = None
    # Whether the username and password form stays on the sign-in page beside the button.
    password_login: bool = True

    @model_validator(mode="after")
    def _secure_issuer(self) -> OidcSettings:
        from urllib.parse import urlsplit

        parts = urlsplit(self.issuer)
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError(f"issuer: expected an https:// URL, got {self.issuer!r} (plain http only on loopback)")
        if "openid" not in self.scopes:
            raise ValueError(f"scopes: expected 'openid' among them, got {list(self.scopes)}")
        return self


class AuthSettings(Frozen):
    """Who may open the dashboard (accounts are managed with `civic-metrics users`)."""

    # Off only for a dashboard nobody else can reach: `serve` refuses it on any interface
    # but the loopback one, so a copy of a test config cannot open the figures to a network.
    required: bool = True
    # A session ends after this long without a request (the cookie is re-signed on each)...
    idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    # ...and this long after the login, however busy.
    max_hours: Annotated[int, Field(ge=1, le=24 * 7)] = 12
    # Failed logins for one account (or from one address, four times as many) within
    # `lockout_minutes` after which further attempts are refused without checking the password.
    max_failed_logins: Annotated[int, Field(ge=1)] = 5
    lockout_minutes: Annotated[int, Field(ge=1)] = 15
    # Session cookie only over HTTPS. Browsers treat http://localhost as secure, so the demo
    # and the tests work with it on; turn it off only behind a proxy that cannot speak HTTPS.
    secure_cookies: bool = True
    min_password_length: Annotated[int, Field(ge=8)] = 12
    # Single sign-on; off when not set. Its client secret is CIVIC_METRICS_OIDC_CLIENT_SECRET.
    oidc: OidcSettings | None = None


class Settings(Frozen):
    store: StoreSettings = StoreSettings()
    timezone: str = "UTC"
    as_of: dt.datetime | None = None
    calendar: CalendarSettings = CalendarSettings()
    privacy: PrivacySettings = PrivacySettings()
    regions: tuple[Region, ...] = ()
    groups: dict[str, GroupAttribute] = {}
    channels: tuple[str, ...] = ()
    services: dict[str, Service] = {}
    targets: dict[str, Target] = {}
    annotations: tuple[Annotation, ...] = ()
    metrics: MetricsSettings = MetricsSettings()
    etl: EtlSettings = EtlSettings()
    worker: WorkerSettings = WorkerSettings()
    dashboard: DashboardSettings = DashboardSettings()
    reports: ReportSettings = ReportSettings()
    auth: AuthSettings = AuthSettings()

    # Where the file was read from: relative paths resolve against its folder.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Every dimension an indicator is broken down by: configured ones, then groups."""
        return tuple(self.metrics.dimensions) + tuple(self.groups)

    def service_department(self) -> dict[str, str]:
        return {k: s.department for k, s in self.services.items()}


class Secrets(BaseSettings):
    """Secrets, from the environment only (never from config.yaml)."""

    model_config = SettingsConfigDict(env_prefix="CIVIC_METRICS_", frozen=True, extra="ignore")

    store_url: SecretStr | None = Field(None, description="Whole store URL, overrides store.url")
    db_password: SecretStr | None = Field(None, description="Password added to store.url")
    # Signs the dashboard's session cookies; every web process of one deployment shares it.
    secret_key: SecretStr | None = Field(None, description="Key signing the dashboard's session cookies")
    # `civic-metrics users add` / `set-password` read the new password here when set, so a
    # script never puts it on a command line (shell history, `ps`).
    user_password: SecretStr | None = Field(None, description="Password for `civic-metrics users`, instead of a prompt")
    # The HMAC key turning citizen ids into pseudonyms (etl.privacy); loading cases that map
    # citizen_key needs it. Changing it changes every pseudonym.
    pseudonym_key: SecretStr | None = Field(None, description="HMAC key of the citizen_key pseudonyms")
    # The dashboard's client secret at the OpenID Connect provider (`auth.oidc`).
    oidc_client_secret: SecretStr | None = Field(None, description="Client secret for single sign-on (auth.oidc)")


class ConfigError(Exception):
    """A config file that cannot be used; `problems` lists every one found."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the configuration:\n{lines}")


def config_path(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH))


def load_settings(path: str | Path | None = None) -> Settings:
    """Read, validate and cross-check a config file; raise ConfigError listing every problem."""
    path = config_path(path)
    if not path.exists():
        raise ConfigError(path, [f"file not found (set --config or {CONFIG_ENV_VAR})"])
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [f"not valid YAML: {exc}"]) from exc
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(path, ["top level: expected a mapping of settings"])
    lines = dict(_key_lines(node)) if node is not None else {}
    problems = [_where(path, lines, loc) + msg for loc, msg in raw_checks(raw)]
    try:
        settings = Settings.model_validate({**raw, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        schema = [_describe(err, path, lines) for err in exc.errors()]
        raise ConfigError(path, schema + problems) from None
    problems += [_where(path, lines, loc) + msg for loc, msg in cross_check(settings)]
    if problems:
        raise ConfigError(path, problems)
    return settings


Problem = tuple[tuple[str | int, ...], str]


def raw_checks(raw: dict[str, Any]) -> Iterator[Problem]:
    """Checks of single values that need no valid model, so they are reported together
    with the schema's problems rather than after them."""
    tz = raw.get("timezone")
    if isinstance(tz, str):
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            yield ("timezone",), f"unknown time zone {tz!r}; expected an IANA name like Europe/London"
    cal = raw.get("calendar")
    if isinstance(cal, dict) and isinstance(cal.get("holiday_country"), str):
        import holidays

        country, subdiv = cal["holiday_country"], cal.get("holiday_subdivision")
        try:
            holidays.country_holidays(country, subdiv=subdiv if isinstance(subdiv, str) else None)
        except NotImplementedError:
            yield ("calendar", "holiday_country"), f"{country!r} is not a country the holidays package knows"
        except Exception as exc:  # the package raises plain exceptions for bad subdivisions
            yield ("calendar", "holiday_subdivision"), str(exc)
    store = raw.get("store")
    if _has_password(store.get("url") if isinstance(store, dict) else None):
        yield (
            ("store", "url"),
            "contains a password; put it in the environment variable CIVIC_METRICS_DB_PASSWORD "
            "instead, never in the file",
        )
    etl = raw.get("etl")
    sources = etl.get("sources") if isinstance(etl, dict) else None
    for name, src in sources.items() if isinstance(sources, dict) else ():
        if isinstance(src, dict) and _has_password(src.get("url")):
            yield (
                ("etl", "sources", name, "url"),
                "contains a password; name an environment variable in password_env instead, never in the file",
            )
    from metrics.catalogue import CATALOGUE

    known = sorted(CATALOGUE)
    targets = raw.get("targets")
    for metric in targets if isinstance(targets, dict) else ():
        if metric not in CATALOGUE:
            yield ("targets", metric), f"unknown indicator; expected one of {known}"
    dash = raw.get("dashboard")
    headline = dash.get("headline") if isinstance(dash, dict) else None
    for i, metric in enumerate(headline if isinstance(headline, list) else ()):
        if metric not in CATALOGUE:
            yield ("dashboard", "headline", i), f"unknown indicator {metric!r}; expected one of {known}"


def _has_password(url: object) -> bool:
    userinfo = url.split("://", 1)[1].rpartition("@")[0] if isinstance(url, str) and "://" in url else ""
    return ":" in userinfo


def cross_check(s: Settings) -> Iterator[Problem]:
    """Checks that span several sections of a valid model: yields (key path, problem)."""
    from metrics.catalogue import CATALOGUE
    from metrics.targets import status

    for name, job in s.worker.jobs.items():
        for src in job.sources:
            if src not in s.etl.sources:
                known = sorted(s.etl.sources)
                yield ("worker", "jobs", name, "sources"), f"unknown source {src!r}; expected one of {known}"
        if job.cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(job.cron, timezone=job.timezone or s.timezone)
            except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
                expected = "expected minute hour day month weekday, e.g. '30 2 * * *'"
                yield ("worker", "jobs", name, "cron"), f"{exc}; {expected}"
        if job.timezone is not None:
            try:
                zoneinfo.ZoneInfo(job.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                yield ("worker", "jobs", name, "timezone"), f"unknown time zone {job.timezone!r}"
    # The store keys combined slices as "a=x|b=y": a configured value with a '|' in it would
    # be read back as two slices.
    named = [(("regions", str(i), "id"), r.id) for i, r in enumerate(s.regions)]
    named += [(("channels", str(i)), c) for i, c in enumerate(s.channels)]
    named += [(("services", k), k) for k in s.services]
    named += [(("services", k, "department"), v.department) for k, v in s.services.items()]
    named += [(("groups", a, "values"), v) for a, g in s.groups.items() for v in g.values]
    for loc, value in named:
        if "|" in value:
            why = "which separates the parts of a slice in the store; use another character"
            yield loc, f"{value!r} contains '|', {why}"
    for i, combo in enumerate(s.metrics.combinations):
        unknown = [d for d in combo if d not in s.dimensions]
        if unknown or len(combo) < 2 or len(set(combo)) != len(combo):
            yield (
                ("metrics", "combinations", str(i)),
                f"expected two or more different dimensions of {list(s.dimensions)}, got {list(combo)}",
            )
    for metric, t in s.targets.items():
        if metric in CATALOGUE:
            try:
                status(None, t.target, t.threshold, CATALOGUE[metric].direction)
            except ValueError as exc:
                yield ("targets", metric), str(exc)
    for name, src in s.etl.sources.items():
        if not isinstance(src, CaseMapping):
            continue
        for attr in src.groups:
            if attr not in s.groups:
                yield (
                    ("etl", "sources", name, "groups", attr),
                    (f"unknown group attribute; expected one of {sorted(s.groups)}"),
                )
        for field, mapping in src.values.items():
            if field not in CASE_FIELDS and field not in s.groups:
                yield (
                    ("etl", "sources", name, "values", field),
                    "maps values of a field that is neither a case field nor a group attribute",
                )
                continue
            allowed: tuple[str, ...] | None = None
            if field == "channel" and s.channels:
                allowed = s.channels
            elif field == "outcome":
                allowed = OUTCOMES
            elif field == "service" and src.strict_services:
                allowed = tuple(s.services)
            elif field in s.groups:
                allowed = s.groups[field].values
            if allowed is not None:
                for code, value in mapping.items():
                    if value not in allowed:
                        yield (
                            ("etl", "sources", name, "values", field, code),
                            (f"maps to {value!r}, which is not one of {list(allowed)}"),
                        )


def _describe(err: Mapping[str, Any], path: Path, lines: dict[tuple, int]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _DISCRIMINATED))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling against docs/settings.md)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif "input" in err and err["type"] not in ("value_error", "assertion_error"):
        msg = f"{msg}, got {err['input']!r}"
    return _where(path, lines, loc) + msg


# Pydantic adds the discriminator tag to locations of tagged unions; users never wrote it.
_DISCRIMINATED = {*CASE_SOURCE_KINDS, "population_csv", "eligible_csv", *LOOKUP_FIELDS}


def _where(path: Path, lines: dict[tuple, int], loc: tuple) -> str:
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = None
    for n in range(len(loc), 0, -1):
        line = lines.get(tuple(str(p) for p in loc[:n]))
        if line:
            break
    return f"{path.name}:{line}: {key}: " if line else f"{path.name}: {key}: "


def _key_lines(node: yaml.Node, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], int]]:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = (*prefix, str(k.value))
            yield key, k.start_mark.line + 1
            yield from _key_lines(v, key)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            key = (*prefix, str(i))
            yield key, v.start_mark.line + 1
            yield from _key_lines(v, key)
