"""Briefings written into the reports folder and recorded in the store (`briefings`).

A briefing's file is named by its month, language and format (`briefing-2026-10-en.pdf`),
written whole or not at all (a temporary file renamed into place), and recorded with the
as-of time and refresh run of its figures, its pages, size and SHA-256. Writing the same
month, language and format again replaces both. Only files inside `reports.folder` are
recorded, so the dashboard serves nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from dashboard.briefing import content, render
from dashboard.i18n import use
from metrics.config import Settings
from metrics.store.models import BriefingRow

FORMATS = ("pdf", "html")
NAME = re.compile(r"^briefing-\d{4}-\d{2}-(en|zh)\.(pdf|html)$")


@dataclass(frozen=True)
class Written:
    path: Path
    pages: int | None
    bytes: int
    recorded: bool


def file_name(period: dt.date, lang: str, fmt: str) -> str:
    return f"briefing-{period:%Y-%m}-{lang}.{fmt}"


def folder(settings: Settings) -> Path:
    return settings.resolve(settings.reports.folder)


def write(
    engine: Engine,
    settings: Settings,
    period: dt.date,
    lang: str,
    fmt: str = "pdf",
    out: Path | None = None,
    made_by: str = "cli",
) -> Written:
    """Build, render and write one briefing; record it when it lands in the reports folder.
    Raises `content.NoFigures` (nothing written) when the month has no figures."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    with use(lang):
        briefing = content.build(engine, settings, period)
        rendered = render.render(briefing, fmt)
    target = out if out is not None else folder(settings) / file_name(period, lang, fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".briefing-", suffix=f".{fmt}")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(rendered.content)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a briefing is for its readers
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    inside = target.resolve().parent == folder(settings).resolve() and NAME.match(target.name) is not None
    if inside:
        with engine.begin() as conn:
            conn.execute(delete(BriefingRow).where(BriefingRow.period == period, BriefingRow.lang == lang,
                                                   BriefingRow.format == fmt))  # fmt: skip
            conn.execute(
                insert(BriefingRow).values(
                    period=period, lang=lang, format=fmt, file_name=target.name,
                    created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), as_of=briefing.as_of_utc,
                    refresh_run_id=briefing.refresh_run_id, pages=rendered.pages, bytes=len(rendered.content),
                    sha256=hashlib.sha256(rendered.content).hexdigest(), made_by=made_by,
                )
            )  # fmt: skip
    return Written(target, rendered.pages, len(rendered.content), inside)


def recorded(engine: Engine) -> list[dict[str, Any]]:
    """Every recorded briefing, newest month first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(BriefingRow.__table__).order_by(BriefingRow.period.desc(), BriefingRow.lang, BriefingRow.format)
        ).mappings()
        return [dict(r) for r in rows]


def is_recorded(engine: Engine, period: dt.date, lang: str, fmt: str = "pdf") -> bool:
    with engine.connect() as conn:
        return conn.execute(
            select(BriefingRow.id).where(BriefingRow.period == period, BriefingRow.lang == lang,
                                         BriefingRow.format == fmt)
        ).first() is not None


def path_of(engine: Engine, settings: Settings, name: str) -> Path | None:
    """The file of a recorded briefing named `name`, inside the reports folder; None for any
    other name (a path, `..`, a file not recorded, or one since deleted)."""
    if NAME.match(name) is None:
        return None
    with engine.connect() as conn:
        known = conn.execute(select(BriefingRow.id).where(BriefingRow.file_name == name)).first()
    if known is None:
        return None
    base = folder(settings).resolve()
    path = (base / name).resolve()
    return path if path.parent == base and path.is_file() else None
