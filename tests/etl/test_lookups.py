"""Targets, holidays and events kept in spreadsheets: loaded by config, checked row by row,
and used beside config.yaml's (a make-up working day moves a deadline; a target from the
table overrides the config's; an event from the table is one `before-after` knows)."""

from __future__ import annotations

import json
from pathlib import Path

from metrics.config import load_settings
from metrics.lookups import with_store_lookups
from metrics.store.db import engine_for
from tests.support import run, write_config

TARGETS = (
    "indicator,goal,alert\non_time_rate,0.9,0.8\nresolution_days_median,5,8\nhappiness,1,0\non_time_rate,0.95,0.9\n"
    "uptake_rate,0.9,0.95\n"  # threshold above target where higher is better
)
HOLIDAYS = (
    "date,type,name\n2025-01-11,working_day,Spring Festival make-up day\n2025-01-13,holiday,\n2025-13-01,holiday,x\n"
)
EVENTS = "date,event,事件,kind\n2025-01-08,New minister,新部长,minister\n,No date,,other\n"


def setup(folder: Path) -> Path:
    (folder / "targets.csv").write_text(TARGETS, encoding="utf-8")
    (folder / "holidays.csv").write_text(HOLIDAYS, encoding="utf-8")
    (folder / "events.csv").write_text(EVENTS, encoding="utf-8")
    # Friday 10 January 2025, one working day to answer, answered on Monday the 13th.
    (folder / "cases.csv").write_text(
        "id,opened,closed,type\n" + "".join(f"{i},2025-01-10 09:00,2025-01-13 09:00,permit\n" for i in range(12)),
        encoding="utf-8",
    )
    config = write_config(folder, {
        "timezone": "Asia/Shanghai",
        "as_of": "2025-02-28T23:59:00",
        "calendar": {"holiday_country": "CN"},
        "services": {"permit": {"department": "Licensing", "deadline_working_days": 1}},
        "targets": {"on_time_rate": {"target": 0.5, "threshold": 0.4},
                    "first_contact_resolution_rate": {"target": 0.7, "threshold": 0.6}},
        "annotations": [{"date": "2025-01-02", "label": {"en": "CRM rollout"}, "kind": "system"}],
        "metrics": {"grains": ["month"], "dimensions": ["service"]},
        "etl": {"sources": {
            "targets": {"kind": "targets_csv", "path": "targets.csv",
                        "columns": {"metric": "indicator", "target": "goal", "threshold": "alert"}},
            "holidays": {"kind": "holidays_csv", "path": "holidays.csv",
                         "columns": {"date": "date", "kind": "type", "name": "name"}},
            "events": {"kind": "annotations_csv", "path": "events.csv",
                       "columns": {"date": "date", "label_en": "event", "label_zh": "事件", "kind": "kind"}},
            "cases": {"kind": "cases_csv", "path": "cases.csv", "datetime_format": "%Y-%m-%d %H:%M",
                      "columns": {"source_id": "id", "opened_at": "opened", "closed_at": "closed", "service": "type"}},
        }},
    })  # fmt: skip
    run(config, "init")
    return config


def test_bad_rows_are_quarantined_with_their_reasons(tmp_path: Path) -> None:
    config = setup(tmp_path)
    out = run(config, "etl", "run").output
    assert "targets: read 5 = loaded 2" in out and "quarantined 3" in out
    assert "holidays: read 3 = loaded 2" in out and "events: read 2 = loaded 1" in out
    # The same tables read again change nothing.
    again = run(config, "etl", "run", "--reload", "--job", "targets", "--job", "holidays", "--job", "events").output
    assert again.count("new 0, changed 0") == 3
    reasons = run(config, "etl", "quarantine").output
    assert "metric: unknown indicator 'happiness'" in reasons
    assert "duplicate of an earlier row for the same metric" in reasons
    assert "threshold: threshold 0.95 is above target 0.9" in reasons
    assert "date: expected YYYY-MM-DD, got '2025-13-01'" in reasons and "date: expected YYYY-MM-DD, got ''" in reasons


def test_tables_join_the_config_and_win_where_both_speak(tmp_path: Path) -> None:
    config = setup(tmp_path)
    run(config, "etl", "run")
    settings = with_store_lookups(load_settings(config), engine_for(load_settings(config)))
    assert settings.targets["on_time_rate"].target == 0.9  # the table's, not the config's 0.5
    assert settings.targets["first_contact_resolution_rate"].target == 0.7  # config only
    assert settings.targets["resolution_days_median"].threshold == 8
    assert [str(d) for d in settings.calendar.extra_working_days] == ["2025-01-11"]
    assert [str(d) for d in settings.calendar.extra_holidays] == ["2025-01-13"]
    assert [(str(a.date), a.label.en, a.label.zh, a.kind) for a in settings.annotations] == [
        ("2025-01-02", "CRM rollout", None, "system"),
        ("2025-01-08", "New minister", "新部长", "minister"),
    ]


def test_a_make_up_working_day_from_the_table_moves_the_deadline(tmp_path: Path) -> None:
    config = setup(tmp_path)
    run(config, "etl", "run", "--job", "cases")
    run(config, "metrics", "refresh")
    before = json.loads(run(config, "metrics", "export", "--metric", "on_time_rate").stdout)
    # Without the table: Friday + 1 working day is Monday the 13th; answered then, on time.
    assert [(r["period"], r["value"]) for r in before] == [("2025-01-01", 1.0)]
    run(config, "etl", "run", "--job", "holidays")
    run(config, "metrics", "refresh")
    after = json.loads(run(config, "metrics", "export", "--metric", "on_time_rate").stdout)
    # Saturday the 11th is a working day (make-up day): due then, so Monday is late.
    assert [(r["period"], r["value"]) for r in after] == [("2025-01-01", 0.0)]


def test_before_after_knows_events_from_the_table(tmp_path: Path) -> None:
    config = setup(tmp_path)
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    # The event is found (its date, 8 January, is used); the month of January starts before it.
    result = run(config, "metrics", "before-after", "--metric", "cases_opened", "--event", "New minister", ok=False)
    assert "no month of cases_opened on or after 2025-01-08" in result.output
    result = run(config, "metrics", "before-after", "--metric", "cases_opened", "--event", "Old minister", ok=False)
    assert "is neither a date nor an event" in result.output and "'CRM rollout', 'New minister'" in result.output
