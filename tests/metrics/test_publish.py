"""Published figures through the real CLI on a store built from demo data (SQLite and a real
PostgreSQL server): a publication is the month's `metrics export`, frozen; publishing again
without a change adds nothing; after the data change, the next revision needs a correction
note, the first stays as it was, and `publish compare` lists exactly the figures whose export
changed (worked out here by comparing the exports themselves); the store refuses to rewrite a
publication; everything is in the audit log, as are refreshes, worker runs and briefings run
by hand."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine, text

from metrics import access, publish, query
from metrics.catalogue import CATALOGUE
from metrics.config import Settings, load_settings
from metrics.store.db import engine_for
from tests.support import REPO, run
from tests.support import query as sql

MONTH = "2026-06"
PERIOD = dt.date(2026, 6, 1)
FMT = "%d/%m/%Y %H:%M"
COMPARED = ("value", "n", "numerator", "denominator", "ci_low", "ci_high", "suppressed", "note", "definition_version")


def build(folder: Path, store_url: str | None = None, jobs: dict | None = None) -> Path:
    """config.yaml over `store_url` (default a SQLite file in `folder`), filled by the CLI
    from 2,500 demo cases."""
    settings = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    settings["store"]["url"] = store_url or f"sqlite:///{folder / 'store.db'}"
    for src in settings["etl"]["sources"].values():
        src["path"] = str(folder / "demo" / Path(src["path"]).name)
    settings["reports"] = {**settings.get("reports", {}), "folder": str(folder / "reports")}
    if jobs:
        settings["worker"] = {**(settings.get("worker") or {}), "jobs": jobs}
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    run(config, "demo-data", "--out", str(folder / "demo"), "--cases", "2500", "--seed", "11")
    run(config, "init")
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    return config


def key(record: dict) -> tuple:
    return record["metric"], tuple(sorted(record["dims"].items())), record.get("across", "")


def exports(config: Path, settings: Settings, engine: Engine) -> dict[tuple, dict]:
    """Every monthly table's export for MONTH, by figure: the tables as the store lists them."""
    rows = sql(config, "SELECT DISTINCT metric, definition_version, dim_names, across FROM metric_cells "
                       "WHERE grain = 'month'")  # fmt: skip
    out = {}
    for metric, version, names, across in rows:
        if CATALOGUE[metric].version != version:
            continue
        records = query.export_records(engine, metric, tuple(names.split(",")) if names else (), "month", PERIOD,
                                       PERIOD, min_cell_size=settings.privacy.min_cell_size, across=across or None,
                                       references={a: g.reference for a, g in settings.groups.items()})  # fmt: skip
        for r in records:
            r.pop("vs_reference", None)  # worked out from the figures at read time, not a figure of its own
            out[key(r)] = r
    return out


def published(engine: Engine, revision: int | None = None, scope: access.Scope | None = None) -> dict[tuple, dict]:
    df = query.published_cells(engine, PERIOD, revision, scope=scope or access.EVERYTHING)
    return {key(r): r for r in query.to_records(df)}


def same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)  # type: ignore[arg-type]
    return a == b


def changed_between(old: dict[tuple, dict], new: dict[tuple, dict]) -> set[tuple]:
    both = old.keys() & new.keys()
    changed = {k for k in both if not all(same(old[k].get(f), new[k].get(f)) for f in COMPARED)}
    return changed | (old.keys() ^ new.keys())


def edit_districts(cases_csv: Path, k: int = 12) -> int:
    """Move k cases opened in MONTH to another district, as a CRM correction would."""
    cases = pd.read_csv(cases_csv, dtype=str, keep_default_na=False)
    opened = pd.to_datetime(cases["Logged"], format=FMT, errors="coerce")
    rows = cases.index[(opened.dt.strftime("%Y-%m") == MONTH)][:k]
    districts = sorted(cases["District"].unique())
    for row in rows:
        cases.loc[row, "District"] = next(d for d in districts if d != cases.loc[row, "District"])
    cases.to_csv(cases_csv, index=False)
    return len(rows)


def audit_rows(config: Path, action: str) -> list[tuple[str, str, str, dict]]:
    rows = sql(config, "SELECT actor, target, outcome, detail FROM audit_log WHERE action = :a ORDER BY id", a=action)
    return [(actor, target, outcome, json.loads(detail) if detail else {}) for actor, target, outcome, detail in rows]


def test_publish_freeze_revise_and_compare(tmp_path: Path, store_url: str) -> None:
    config = build(tmp_path, store_url)
    settings = load_settings(config)
    engine = engine_for(settings)
    try:
        before = exports(config, settings, engine)
        out = run(config, "publish", "--period", MONTH).output
        assert f"published {MONTH} revision 1" in out and f"{len(before):,} figures" in out
        first = published(engine, 1)
        assert first == before, "the publication is the month's export"
        assert sum(r["suppressed"] for r in first.values()) > 0, "suppressed figures are published as suppressed"
        # The CLI export of a breakdown and of an index across regions, record for record.
        for args in (["--metric", "on_time_rate", "--by", "region"], ["--metric", "coverage_gini"]):
            shown = json.loads(run(config, "metrics", "export", *args, "--from", MONTH, "--to", MONTH).output)
            assert shown and all(first[key(r)] == r for r in shown)

        again = run(config, "publish", "--period", MONTH).output
        assert "no figure changed since" in again and "nothing published" in again
        assert sql(config, "SELECT count(*) FROM publications")[0][0] == 1
        assert "all" in run(config, "publish", "compare", "--period", MONTH).output

        moved = edit_districts(Path(settings.etl.sources["cases"].path))
        assert moved == 12
        run(config, "etl", "run", "--job", "cases")
        run(config, "metrics", "refresh")
        after = exports(config, settings, engine)
        changed = changed_between(before, after)
        assert 0 < len(changed) < len(after)

        refused = run(config, "publish", "--period", MONTH, ok=False)
        assert refused.exit_code == 1 and "needs a correction note" in refused.output
        assert f"{len(changed):,} figures of {MONTH} differ from revision 1" in refused.output
        assert sql(config, "SELECT count(*) FROM publications")[0][0] == 1

        listed = json.loads(run(config, "publish", "compare", "--period", MONTH, "--format", "json").output)
        assert {key(r) for r in listed} == changed
        for r in listed:
            if r["change"] == "changed":
                was, now = before[key(r)], after[key(r)]
                for f in r["fields"]:
                    assert same(r["published"][f], was.get(f)) and same(r["current"][f], now.get(f)), (r, f)
        text_out = run(config, "publish", "compare", "--period", MONTH).output
        assert f"{len(changed):,} of its {len(before):,} figures differ" in text_out

        note = "Twelve cases of June were recorded in the wrong district; corrected by the CRM team."
        out = run(config, "publish", "--period", MONTH, "--note", note).output
        assert f"published {MONTH} revision 2" in out and f"{len(changed):,} figures changed since revision 1" in out
        assert published(engine, 1) == before, "revision 1 is kept as it was"
        assert published(engine) == published(engine, 2) == after
        assert "equal today's recomputation" in run(config, "publish", "compare", "--period", MONTH).output
        older = json.loads(run(config, "publish", "compare", "--period", MONTH, "--revision", "1",
                               "--format", "json").output)  # fmt: skip
        assert {key(r) for r in older} == changed
        listing = run(config, "publish", "list").output
        assert "revision 1" in listing and "revision 2" in listing and f"correction note: {note}" in listing
        for rev in (1, 2):
            pub = query.publication(engine, PERIOD, rev)
            assert pub is not None
            assert pub["digest"] == publish.digest(query.published_cells(engine, PERIOD, rev, scope=access.EVERYTHING))
            assert pub["figures"] == len(after if rev == 2 else before)
            assert json.loads(pub["definitions"])["on_time_rate"] == CATALOGUE["on_time_rate"].version

        # The store refuses to rewrite either table, whatever the statement.
        for statement in ("UPDATE publications SET note = 'nothing happened'", "DELETE FROM publications",
                          "UPDATE published_figures SET value = 0", "DELETE FROM published_figures"):  # fmt: skip
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        assert published(engine, 1) == before and sql(config, "SELECT count(*) FROM publications")[0][0] == 2

        entries = audit_rows(config, "publish")
        assert [(t, o) for _a, t, o, _d in entries] == [(MONTH, "ok"), (MONTH, "ok"), (MONTH, "refused"), (MONTH, "ok")]
        assert all(actor.startswith("cli") for actor, *_ in entries)
        assert entries[0][3]["revision"] == 1 and entries[1][3] == {"unchanged": True, "revision": 1}
        assert entries[2][3]["changed"] == len(changed)
        assert entries[3][3]["revision"] == 2 and entries[3][3]["note"] == note
        assert entries[3][3]["digest"] == query.publication(engine, PERIOD, 2)["digest"]  # type: ignore[index]
        refreshes = audit_rows(config, "metrics_refresh")
        runs = [r for (r,) in sql(config, "SELECT id FROM refresh_runs WHERE status = 'succeeded' ORDER BY id")]
        assert [d["run"] for *_x, d in refreshes] == runs and len(runs) == 2
        assert all(o == "ok" and t == "all" for _a, t, o, _d in refreshes)
    finally:
        engine.dispose()


# --- on one SQLite store: scope, the briefing, the CLI's answers, audits of runs by hand ----


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings, Engine]:
    folder = tmp_path_factory.mktemp("publish")
    config = build(folder, jobs={"recompute": {"every_seconds": 3600, "steps": ["refresh"]}})
    settings = load_settings(config)
    run(config, "publish", "--period", MONTH)
    engine = engine_for(settings)
    yield config, settings, engine
    engine.dispose()


def test_a_programme_manager_reads_only_their_published_figures(store: tuple[Path, Settings, Engine]) -> None:
    _config, settings, engine = store
    everything = published(engine)
    scope = access.scope_for("programme_manager", ["housing_benefit"], [], settings.service_department())
    theirs = published(engine, scope=scope)
    assert theirs and len(theirs) < len(everything)
    assert all(dict(k[1]).get("service") == "housing_benefit" for k in theirs)
    assert theirs == {k: r for k, r in everything.items() if dict(k[1]).get("service") == "housing_benefit"}
    with access.scoped(scope):  # the reader's scope in force, as in a dashboard request
        assert {key(r) for r in query.to_records(query.published_cells(engine, PERIOD))} == set(theirs)
    assert not published(engine, scope=access.NOTHING)


def test_the_briefing_of_a_published_month_says_so(store: tuple[Path, Settings, Engine], tmp_path: Path) -> None:
    from dashboard.briefing import content
    from dashboard.i18n import use

    config, settings, engine = store
    with use("en"):
        lines = content.publication_lines(engine, settings, PERIOD)
        assert len(lines) == 1 and lines[0].startswith("Published on ") and lines[0].endswith("(revision 1).")
        assert content.publication_lines(engine, settings, dt.date(2026, 5, 1)) == []
    # A revision made under another suppression threshold: its note shows, and so does how many
    # of its figures today's (threshold 10) differ from.
    note = "Published again with cells of 5 or more shown."
    out = publish.publish(engine, PERIOD, actor="cli:test", note=note, min_cell_size=5)
    assert out.created and out.publication["revision"] == 2
    _pub, diff = publish.compare(engine, PERIOD, min_cell_size=settings.privacy.min_cell_size)
    assert len(diff) == len(out.differences) > 0
    html_file = tmp_path / "briefing.html"
    result = run(config, "report", "--period", MONTH, "--format", "html", "--out", str(html_file))
    page = html_file.read_text(encoding="utf-8")
    assert "(revision 2)." in page and f"Correction note: {note}" in page
    assert f"Since then {len(diff):,} figures of this month have changed" in page
    with use("zh"):
        assert "（第2版）" in content.publication_lines(engine, settings, PERIOD)[0]
    assert "briefing" in result.output
    wrong = run(config, "report", "--period", "2031-01", ok=False)
    assert wrong.exit_code == 1
    reports = audit_rows(config, "report")
    assert [(t, o) for _a, t, o, _d in reports] == [(MONTH, "ok"), ("2031-01", "failed")]
    assert reports[0][3]["file"] == str(html_file) and reports[0][3]["format"] == "html"
    assert "no figures for 2031-01" in reports[1][3]["error"]


def test_the_publish_commands_say_what_is_wrong(store: tuple[Path, Settings, Engine]) -> None:
    config = store[0]
    assert run(config, "publish", ok=False).exit_code == 2
    assert "expected YYYY-MM" in run(config, "publish", "--period", "2026-13", ok=False).output
    assert "go after `list`" in run(config, "publish", "--period", MONTH, "list", ok=False).output
    out = run(config, "publish", "compare", "--period", "2026-05", ok=False).output
    assert "2026-05 is not published" in out
    out = run(config, "publish", "--period", "2031-01", ok=False).output
    assert "nothing published: no monthly figures for 2031-01" in out
    assert "2031-01" not in run(config, "publish", "list").output
    for sub in ([], ["list"], ["compare"]):
        assert "--period" in run(config, "publish", *sub, "--help").output


def test_worker_runs_by_hand_are_audited(store: tuple[Path, Settings, Engine]) -> None:
    from etl.worker import acquire, release

    config, _settings, engine = store
    assert "job recompute: succeeded" in run(config, "worker", "run", "recompute").output
    # Another worker holds the job: this run is skipped, and the log says it did not run.
    assert acquire(engine, "job:recompute", "another-worker", 600) is None
    try:
        assert run(config, "worker", "run", "recompute", ok=False).exit_code == 1
    finally:
        release(engine, "job:recompute", "another-worker")
    entries = audit_rows(config, "worker_run")
    assert [(t, o, d) for _a, t, o, d in entries] == [
        ("recompute", "ok", {"status": "succeeded"}),
        ("recompute", "failed", {"status": "skipped"}),
    ]


def test_the_audit_page_lists_the_publications(store: tuple[Path, Settings, Engine]) -> None:
    from dashboard.audit_view import audit_layout
    from dashboard.i18n import use

    _config, _settings, engine = store
    pubs = query.publications(engine)
    assert len(pubs) >= 1
    with use("en"):
        page = str(audit_layout(engine))
    assert "Published figures, newest first" in page and MONTH in page
    for r in pubs.to_dict("records"):
        assert f"{r['figures']:,}" in page and r["published_by"] in page
        if r["note"]:
            assert r["note"] in page
