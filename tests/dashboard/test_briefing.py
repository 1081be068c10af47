"""The monthly briefing, through the real CLI on the 5,000-case demo store.

Each language is rendered once (module fixture) by `civic-metrics report`; its text is taken
out of the PDF with poppler's pdftotext and every headline figure is checked against what
`civic-metrics metrics export` prints for the same month. The layout check compares which
page each section starts on with tests/dashboard/snapshots/briefing_layout.json
(`UPDATE_SNAPSHOTS=1` rewrites it after an intended change of layout).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dashboard.briefing import content, records, schedule
from dashboard.formatting import format_value
from dashboard.i18n import use
from metrics.catalogue import CATALOGUE
from metrics.config import Settings
from metrics.targets import status
from tests.support import run

SNAPSHOT = Path(__file__).parent / "snapshots" / "briefing_layout.json"
LANGS = ("en", "zh")


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: `make fonts` installs poppler-utils (Debian), as root")
    return path


def pdf_text(pdf: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run([poppler("pdftotext"), *pages, str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def page_count(pdf: Path) -> int:
    info = subprocess.run([poppler("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]


def squash(text: str) -> str:
    """Text without any whitespace: a table cell may wrap anywhere in the PDF."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def store(demo_store: tuple[Settings, Engine]) -> tuple[Path, Settings, Engine]:
    settings, engine = demo_store
    return settings.base_dir / "config.yaml", settings, engine


@pytest.fixture(scope="module")
def month(store: tuple[Path, Settings, Engine]) -> str:
    """The newest month of the store, as the export says."""
    config = store[0]
    records_ = json.loads(run(config, "metrics", "export", "--metric", "cases_opened").output)
    return max(r["period"] for r in records_)[:7]


@pytest.fixture(scope="module")
def briefings(store: tuple[Path, Settings, Engine], month: str) -> dict[str, Path]:
    config, settings, _engine = store
    out = {}
    for lang in LANGS:
        result = run(config, "report", "--period", month, "--lang", lang)
        assert "(recorded)" in result.output
        out[lang] = records.folder(settings) / f"briefing-{month}-{lang}.pdf"
    return out


def exported(config: Path, metric: str, month: str) -> dict:
    rows = json.loads(run(config, "metrics", "export", "--metric", metric, "--from", month, "--to", month).output)
    (whole,) = [r for r in rows if r["dims"] == {}]
    return whole


@pytest.mark.parametrize("lang", LANGS)
def test_headline_figures_equal_the_export(
    lang: str, store: tuple[Path, Settings, Engine], month: str, briefings: dict[str, Path]
) -> None:
    config, settings, _engine = store
    text = squash(pdf_text(briefings[lang]))
    statuses = set()
    for metric in settings.dashboard.headline:
        record = exported(config, metric, month)
        definition = CATALOGUE[metric]
        with use(lang):
            if record["suppressed"]:
                continue  # checked by the suppression test of the tiles; nothing to compare here
            shown = format_value(record["value"], definition.unit)
        assert squash(shown) in text, f"{metric}: export says {record['value']} ({shown}), not in the {lang} PDF"
        target = settings.targets.get(metric)
        if target is not None and definition.direction != "neutral":
            statuses.add(status(record["value"], target.target, target.threshold, definition.direction))
    words = {"en": {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track"},
             "zh": {"on_track": "达标", "at_risk": "有风险", "off_track": "未达标"}}[lang]  # fmt: skip
    marks = {"on_track": "✔", "at_risk": "▲", "off_track": "✖"}
    for s in statuses - {None}:
        assert squash(marks[s] + words[s]) in text, f"status {s} is not given as mark and word in the {lang} PDF"
    assert statuses, "no headline indicator had a status to check"


@pytest.mark.parametrize("lang", LANGS)
def test_two_to_four_pages_and_the_layout_snapshot(
    lang: str, store: tuple[Path, Settings, Engine], briefings: dict[str, Path]
) -> None:
    pdf = briefings[lang]
    pages = page_count(pdf)
    assert 2 <= pages <= 4, f"{lang}: {pages} pages"
    with use(lang):
        headings = content.texts()
    layout: dict[str, int] = {}
    for page in range(1, pages + 1):
        lines = {squash(line) for line in pdf_text(pdf, page).splitlines()}  # a heading is a line of its own
        for key in ("headline", "changes", "trends", "equal", "uptake", "backlog", "data_note"):
            if key not in layout and squash(headings[key]) in lines:
                layout[key] = page
    assert list(layout) == ["headline", "changes", "trends", "equal", "uptake", "backlog", "data_note"], layout
    got = {"pages": pages, "sections": layout}
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8")) if SNAPSHOT.exists() else {}
    if os.environ.get("UPDATE_SNAPSHOTS") or lang not in snapshot:
        snapshot[lang] = got
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(snapshot, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    assert got == snapshot[lang], f"the {lang} layout moved; if intended, rerun with UPDATE_SNAPSHOTS=1"


def test_the_briefing_is_recorded_and_served_by_the_dashboard(
    store: tuple[Path, Settings, Engine], month: str, briefings: dict[str, Path]
) -> None:
    from dashboard.app import create_app
    from dashboard.briefings_view import briefings_layout

    _config, settings, engine = store
    listed = {(r["period"].strftime("%Y-%m"), r["lang"]): r for r in records.recorded(engine)}
    for lang, pdf in briefings.items():
        row = listed[(month, lang)]
        assert row["file_name"] == pdf.name and row["bytes"] == pdf.stat().st_size and row["pages"] == page_count(pdf)
    client = create_app(settings, engine).server.test_client()
    answer = client.get(f"/briefings/file/{briefings['en'].name}")
    assert answer.status_code == 200 and answer.data == briefings["en"].read_bytes()
    assert answer.mimetype == "application/pdf"
    (settings.base_dir / "var" / "reports" / "briefing-1999-01-en.pdf").write_bytes(b"%PDF not recorded")
    for bad in ("../config.yaml", "..%2Fconfig.yaml", "briefing-1999-01-en.pdf", "store.db"):
        assert client.get(f"/briefings/file/{bad}").status_code == 404, bad
    # An absolute path never reaches the route (Dash answers with its page shell); nor the file.
    shell = client.get("/briefings/file/%2Fetc%2Fpasswd")
    assert shell.mimetype == "text/html" and b"root:" not in shell.data
    for bad in ("/etc/passwd", "../config.yaml", "briefing-1999-01-en.pdf", f"./{briefings['en'].name}"):
        assert records.path_of(engine, settings, bad) is None, bad
    page = str(briefings_layout(engine, settings))
    assert f"/briefings/file/{briefings['zh'].name}" in page and "中文" in page


def test_html_format_elsewhere_is_written_but_not_recorded(
    store: tuple[Path, Settings, Engine], month: str, tmp_path: Path
) -> None:
    config, _settings, engine = store
    before = len(records.recorded(engine))
    out = tmp_path / "briefing.html"
    result = run(config, "report", "--period", month, "--lang", "zh", "--format", "html", "--out", str(out))
    assert "(recorded)" not in result.output
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'lang="zh-Hans"' in html and "data:image/png;base64," in html
    assert len(records.recorded(engine)) == before


def test_a_month_without_figures_gets_a_clear_message_and_no_file(
    store: tuple[Path, Settings, Engine], tmp_path: Path
) -> None:
    config, _settings, _engine = store
    out = tmp_path / "none.pdf"
    result = run(config, "report", "--period", "2031-01", "--out", str(out), ok=False)
    assert result.exit_code == 1
    assert "no briefing written: no figures for 2031-01: the store has monthly figures from" in result.output
    assert not out.exists() and not list(tmp_path.iterdir())
    wrong = run(config, "report", "--period", "2026-13", ok=False)
    assert wrong.exit_code == 2 and "expected YYYY-MM, e.g. 2026-10" in wrong.output


def test_the_worker_step_writes_last_month_from_the_configured_working_day(
    store: tuple[Path, Settings, Engine], month: str
) -> None:
    _config, settings, engine = store
    this = dt.datetime.strptime(month, "%Y-%m").date()
    nxt = (this + dt.timedelta(days=32)).replace(day=1)
    day = schedule.nth_working_day(settings, nxt, settings.reports.working_day)
    assert settings.calendar.holiday_country == "GB" and day.weekday() < 5
    said: list[str] = []
    assert schedule.run_due(engine, settings, said.append, today=day - dt.timedelta(days=1)) == []
    n = settings.reports.working_day
    assert said[-1] == f"briefing: not due until {day:%Y-%m-%d} (working day {n} of the month)"
    en = settings.model_copy(update={"reports": settings.reports.model_copy(update={"languages": ("en",)})})
    previous = (this - dt.timedelta(days=1)).replace(day=1)
    earlier_day = schedule.nth_working_day(settings, this, settings.reports.working_day)
    written = schedule.run_due(engine, en, said.append, today=earlier_day)
    assert written == [str(records.folder(settings) / f"briefing-{previous:%Y-%m}-en.pdf")]
    assert records.is_recorded(engine, previous, "en")
    assert schedule.run_due(engine, en, said.append, today=earlier_day + dt.timedelta(days=3)) == []
    assert f"briefing {previous:%Y-%m} (en): already written" in said


def test_nth_working_day_follows_the_holiday_calendar(store: tuple[Path, Settings, Engine]) -> None:
    """January 2026 in England: the 1st is New Year's Day, the 3rd and 4th a weekend."""
    settings = store[1]
    days = [schedule.nth_working_day(settings, dt.date(2026, 1, 1), n) for n in (1, 2, 3)]
    assert days == [dt.date(2026, 1, 2), dt.date(2026, 1, 5), dt.date(2026, 1, 6)]
    assert schedule.due_period(settings, dt.date(2026, 1, 5)) is None
    assert schedule.due_period(settings, dt.date(2026, 1, 6)) == dt.date(2025, 12, 1)
    with pytest.raises(ValueError, match=r"fewer than reports\.working_day"):
        schedule.nth_working_day(settings, dt.date(2026, 2, 1), 25)


def test_a_report_step_is_a_valid_worker_job() -> None:
    s = Settings.model_validate({"worker": {"jobs": {"briefing": {"cron": "0 7 * * 1-5", "steps": ["report"]}}}})
    assert s.worker.jobs["briefing"].steps == ("report",)
