"""`dashboard.data`: the dashboard's cached reads of the query layer."""

from __future__ import annotations

import dash

from dashboard import data
from dashboard.app import create_app
from metrics import query


def test_records_are_what_pandas_gives(demo_store):
    _settings, engine = demo_store
    df = data.cells(engine, "on_time_rate", ("region",), "month", data.data_version(engine), 10)
    assert len(df) > 10
    mine, pandas = data.records(df), df.to_dict("records")
    assert len(mine) == len(pandas) and any(r["suppressed"] for r in mine)
    for a, b in zip(mine, pandas, strict=True):
        assert a.keys() == b.keys()
        for k in a:  # the same values of the same Python types (NaN stays NaN)
            assert type(a[k]) is type(b[k]) and (a[k] == b[k] or (a[k] != a[k] and b[k] != b[k])), k
    assert data.records(df.iloc[:0]) == [] and data.records(None) == []


def test_warm_reads_every_table_so_no_page_reads_the_store_again(demo_store):
    settings, engine = demo_store
    data.cells.cache_clear()
    read = data.warm(engine, settings.privacy.min_cell_size)
    assert read == len(query.tables(engine)) and read > 100
    assert data.cells.cache_info().currsize == read
    misses = data.cells.cache_info().misses
    app = create_app(settings, engine)
    with app.server.test_request_context("/"):
        for page in dash.page_registry.values():
            for params in ({}, {"grain": "quarter", "region": settings.regions[0].id}):
                page["layout"](**params)
    # Every table a page read was already in the cache, under the key the page asked for.
    assert data.cells.cache_info().misses == misses
    assert data.cells.cache_info().hits > 0
