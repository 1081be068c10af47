"""The audit log: every accountable act, appended to the store's `audit_log` table.

The product only ever inserts here (and the store refuses UPDATE and DELETE, see migration
0007). Auditors and admins read it on the dashboard's Audit page and download it as CSV.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, insert, select

from metrics.store.models import AuditEntry

COLUMNS = ("id", "at", "actor", "action", "target", "outcome", "detail", "remote_addr")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def cli_actor() -> str:
    """The command line acts as the operating-system user running it."""
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:  # no user name in a bare container
        return "cli"


def record(
    engine: Engine, action: str, *, actor: str | None, target: str | None = None, outcome: str = "ok",
    detail: dict[str, Any] | None = None, remote_addr: str | None = None,
) -> None:  # fmt: skip
    """Append one entry (its own transaction, so it stays even if what follows fails)."""
    with engine.begin() as conn:
        conn.execute(
            insert(AuditEntry).values(
                at=now(), actor=actor, action=action, target=None if target is None else target[:500],
                outcome=outcome, detail=None if detail is None else json.dumps(detail, ensure_ascii=False,
                                                                                sort_keys=True),
                remote_addr=remote_addr,
            )
        )  # fmt: skip


def count_since(engine: Engine, action: str, since: dt.datetime, *, target: str | None = None,
                remote_addr: str | None = None) -> int:  # fmt: skip
    q = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action, AuditEntry.at >= since)
    if target is not None:
        q = q.where(AuditEntry.target == target)
    if remote_addr is not None:
        q = q.where(AuditEntry.remote_addr == remote_addr)
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def entries(engine: Engine, limit: int | None = None, action: str | None = None) -> pd.DataFrame:
    """The log, newest first."""
    t = AuditEntry.__table__
    q = select(*(t.c[c] for c in COLUMNS)).order_by(t.c.id.desc())
    if action:
        q = q.where(t.c.action == action)
    if limit:
        q = q.limit(limit)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).all(), columns=list(COLUMNS))


def csv_text(engine: Engine) -> str:
    df = entries(engine)
    df["at"] = pd.to_datetime(df["at"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return df.to_csv(index=False)
