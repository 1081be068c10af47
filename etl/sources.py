"""Sources beyond files: a CRM database and an Open311 endpoint, from their config.

Secrets never come from config.yaml: a database password comes from the environment
variable the source names in `password_env`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.engine import make_url

from etl.batches import Batch
from etl.csv_source import case_columns, require_columns
from etl.errors import TerminalError
from etl.privacy import PSEUDONYM_KEY_ENV, drop_personal, sql_omitted
from metrics.config import CaseMapping, CasesOpen311Source, CasesSqlSource, Settings


def remote_batches(
    settings: Settings,
    job: str,
    src: object,
    state: dict[str, Any],
    say: Callable[[str], None],
    pseudonyms: str | None = None,
) -> Iterator[Batch]:
    """The source's batches after `state`, with its personal columns dropped (etl.privacy).
    `pseudonyms` is the fingerprint of the key the citizen ids are pseudonymised with."""
    # A position means something only for the settings that produced it (another table or
    # updated_at column would be read from a wrong mark): if they changed, start over. Cases
    # are upserted, so reading again from the start loads nothing twice.
    fingerprint = source_fingerprint(src)
    if state and state.get("source") != fingerprint:
        say(f"{job}: the source's settings changed since its last load; reading it again from the start")
        state = {}
    # Cases loaded under another pseudonym key (or before ids were pseudonymised) would not
    # match those read now: every case is read again and gets the pseudonym of this key.
    if state and state.get("pseudonyms") != pseudonyms:
        changed = f"the pseudonym key ({PSEUDONYM_KEY_ENV}) changed since its last load"
        say(f"{job}: {changed}; reading it again from the start")
        state = {}
    if isinstance(src, CasesSqlSource):
        from etl.sql_source import sql_batches

        say(f"{job}: reading {make_url(src.url).render_as_string(hide_password=True)}")
        found = sql_batches(
            database_url(src),
            state,
            table=src.table,
            query=src.query,
            updated_at=src.updated_at,
            key=src.key,
            batch_size=src.batch_size,
            omit=sql_omitted(src),
        )
    elif isinstance(src, CasesOpen311Source):
        from etl.open311 import redact, request_batches

        say(f"{job}: reading {redact(src.endpoint)}")
        found = request_batches(
            src.endpoint,
            state,
            start=dt.datetime.combine(src.start, dt.time(), tzinfo=settings.tz),
            now=dt.datetime.now(dt.UTC),
            window=dt.timedelta(days=src.window_days),
            lookback=dt.timedelta(days=src.lookback_days),
            page_size=src.page_size,
            jurisdiction_id=src.jurisdiction_id,
            service_codes=src.service_codes,
            timeout=src.timeout_seconds,
            retries=src.retries,
        )
    else:
        raise TerminalError(f"{job}: no reader for sources of kind {getattr(src, 'kind', '?')}")
    for batch in found:
        check_columns(job, src, batch)  # type: ignore[arg-type]
        rows = batch.rows
        if not isinstance(src, CasesSqlSource):  # a database source does not select them
            rows = drop_personal(rows, src, f"{job}: {batch.label}")  # type: ignore[arg-type]
        state = {**batch.state, "source": fingerprint, "pseudonyms": pseudonyms}
        yield Batch(batch.label, rows, state, batch.sha256)


def source_fingerprint(src: object) -> str:
    """What decides where a source's position points: the place read and how it is ordered."""
    if isinstance(src, CasesSqlSource):
        parts = [make_url(src.url).render_as_string(hide_password=True), src.table, src.query, src.updated_at, src.key]
    elif isinstance(src, CasesOpen311Source):
        parts = [src.endpoint, src.jurisdiction_id, ",".join(src.service_codes)]
    else:
        parts = []
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def database_url(src: CasesSqlSource) -> str:
    url = make_url(src.url)
    if src.password_env:
        password = os.environ.get(src.password_env)
        if password is None:
            raise TerminalError(f"the environment variable {src.password_env} (password_env) is not set")
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def check_columns(job: str, src: CaseMapping, batch: Batch) -> None:
    require_columns(batch.rows.columns, case_columns(src), f"{job}: {batch.label}", "the source gives")
