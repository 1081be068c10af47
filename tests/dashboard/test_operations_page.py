"""The data operations page, served by the app over a store the real CLI filled."""

from __future__ import annotations

import json

from dashboard import ids, operations
from dashboard.app import create_app
from tests.dashboard.test_dashboard_app import text_of


def test_the_page_lists_loads_sources_and_refused_rows(demo_store):
    settings, engine = demo_store
    client = create_app(settings, engine).server.test_client()
    assert client.get("/operations").status_code == 200
    page = text_of(operations.operations_layout(engine))
    for section in (ids.OPS_ETL_RUNS, ids.OPS_JOB_RUNS, ids.OPS_SOURCES, ids.OPS_QUARANTINE):
        assert section in page
    # The demo's three sources loaded, and its deliberately bad rows are counted by rule.
    for job in ("population", "eligible", "cases"):
        assert f'"{job}"' in page
    assert "succeeded" in page and "The worker has not run a job yet." in page
    assert "1 file(s); latest" in page
    counts = operations.quarantine_counts(engine)
    assert counts["rows"].sum() > 0 and not counts["rule"].str.contains("'").any()


def test_the_page_is_in_the_navigation(demo_store):
    settings, engine = demo_store
    layout = create_app(settings, engine).server.test_client().get("/_dash-layout").get_json()
    text = json.dumps(layout)
    assert '"children": "Data operations", "href": "/operations"' in text
