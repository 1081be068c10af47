"""Cases read through Arrow (the ADBC drivers) are the cases SQLAlchemy reads.

`metrics.casedata.read_cases` reads a SQLite file with the ADBC SQLite driver in a child
process, PostgreSQL with the ADBC PostgreSQL driver, and a few rows (or a SQLite opened by
URI) through SQLAlchemy; each gives one Arrow table, made into the same frame. The stores
here are a real SQLite file and a real PostgreSQL database, each read both ways.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy.engine import make_url

from metrics.casedata import read_cases
from metrics.config import load_settings
from metrics.store import bulk
from metrics.store.arrow import ReadFailed, categories, postgres_driver, read_sqlite, sqlite_file, timestamps
from metrics.store.db import make_engine, upgrade
from metrics.store.models import Case, CaseGroup
from tests.support import REPO

# More rows with nulls first than the ADBC driver's default batch (1,024) looks at to
# decide a column's type: read in batches, the text after them would fail to load.
LEADING_NULLS = 1_500
ROWS = 2_000


def store_with_cases(url: str) -> pd.DataFrame:
    """Write the cases and their groups; return the groups written."""
    rng = np.random.default_rng(7)
    n = ROWS
    later = np.arange(n) >= LEADING_NULLS
    # In opening order, as SQLite reads them by its index on opened_at: the nulls come first.
    opened = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 400 * 86400, n)), unit="s")
    closed = opened + pd.to_timedelta(rng.integers(60, 40 * 86400, n), unit="s")
    cases = pd.DataFrame(
        {
            "case_key": [f"s:{i:05d}" for i in range(n)],
            "source": "s",
            "source_id": [f"{i:05d}" for i in range(n)],
            "service": rng.choice(["Noise", "Housing repair", "Pothole"], n),
            "department": rng.choice(["Env", "Housing"], n),
            "channel": rng.choice(["phone", "web"], n),
            # '%' (doubled by a pyformat dialect's quoting) and '\\' (quoted as the server
            # reads strings) in values a read's conditions name.
            "region": rng.choice(["North", "South", "Ünïcode — east", "50% west \\ coast"], n),
            # Microseconds on some, none on others: SQLite keeps both forms as text.
            "opened_at": opened + pd.to_timedelta(rng.integers(0, 2, n) * 123456, unit="us"),
            "first_response_at": pd.Series(opened + pd.Timedelta(hours=2)).where(later),
            "closed_at": pd.Series(closed).where(later | (rng.random(n) < 0.5)),
            "due_at": pd.Series(opened + pd.Timedelta(days=10)).where(later),
            "outcome": pd.Series(rng.choice(["granted", "refused"], n)).where(later),
            "citizen_key": pd.Series([f"{i % 97:064x}" for i in range(n)]).where(later),
            "handoffs": rng.integers(0, 3, n),
            "reopened": rng.integers(0, 2, n),
            "rating": pd.Series(rng.integers(1, 6, n), dtype="Int64").where(later),
            "row_hash": "0" * 32,
            "etl_run_id": 1,
        }
    )
    groups = pd.DataFrame(
        {
            "case_key": cases["case_key"].repeat(2).to_numpy(),
            "attribute": ["age_band", "sex"] * n,
            "value": np.column_stack([rng.choice(["Under 25", "25-44"], n), rng.choice(["Female", "Male"], n)]).ravel(),
        }
    )
    groups = groups[~((groups["attribute"] == "sex") & (np.arange(len(groups)) % 7 == 1))]  # some not stated
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        bulk.insert_frame(conn, Case.__table__, cases)
        bulk.insert_frame(conn, CaseGroup.__table__, groups)
    engine.dispose()
    return groups


def test_read_cases_is_the_same_through_arrow_and_through_sqlalchemy(store_url: str) -> None:
    groups = store_with_cases(store_url)
    settings = load_settings(REPO / "config.yaml")
    as_of = pd.Timestamp("2025-06-30 12:00:00")
    engine = make_engine(store_url)
    if engine.dialect.name == "sqlite":
        assert sqlite_file(engine) == make_url(store_url).database
    else:
        assert postgres_driver() is not None, "the test extra installs adbc-driver-postgresql"
    # `few` reads through SQLAlchemy (pandas.read_sql), as before the Arrow readers.
    fast, slow = (
        read_cases(engine, settings, as_of, few=few).sort_values("case_key", ignore_index=True) for few in (False, True)
    )
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == ROWS
    # What the rows say, against the table itself, not only one reader against the other.
    assert fast["region"].dtype == "category"
    assert list(fast["region"].cat.categories) == sorted(fast["region"].cat.categories)
    assert set(fast["region"]) == {"North", "South", "Ünïcode — east", "50% west \\ coast"}
    lead = (fast["case_key"].str[2:].astype(int) < LEADING_NULLS).to_numpy()
    for col in ("citizen_key", "due_at", "outcome", "rating", "first_response_at"):
        assert fast[col][lead].isna().all() and fast[col][~lead].notna().all(), col
    assert fast["outcome"][~lead].isin(["granted", "refused"]).all()
    assert fast["rating"][~lead].between(1, 5).all()
    stated = groups[groups["attribute"] == "sex"].set_index("case_key")["value"]
    assert 0 < len(stated) < ROWS
    expected_sex = fast["case_key"].map(stated).fillna("Not stated")
    assert (fast["sex"].astype(str) == expected_sex).all()
    assert fast["opened_at"].dt.microsecond.isin([0, 123456]).all()
    assert (fast["opened_at"].dt.microsecond == 123456).any()

    # A narrower read (as an incremental refresh makes) goes the same way.
    where = Case.__table__.c.case_key.in_(["s:00003", "s:01999", "s:00000"])
    narrow = [read_cases(engine, settings, as_of, where, few=few).sort_values("case_key", ignore_index=True)
              for few in (False, True)]  # fmt: skip
    pd.testing.assert_frame_equal(*narrow)
    assert list(narrow[0]["case_key"]) == ["s:00000", "s:00003", "s:01999"]
    by_region = Case.__table__.c.region.in_(["50% west \\ coast", "North"])
    quoted = [read_cases(engine, settings, as_of, by_region, few=few).sort_values("case_key", ignore_index=True)
              for few in (False, True)]  # fmt: skip
    pd.testing.assert_frame_equal(*quoted)
    assert set(quoted[0]["region"]) == {"50% west \\ coast", "North"}
    assert len(quoted[0]) == fast["region"].isin(["50% west \\ coast", "North"]).sum()
    engine.dispose()


def test_a_store_whose_path_needs_quoting_is_read_through_arrow(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A '#' or '%' in the path ends or changes a SQLite URI's path unless quoted (a '?'
    cannot be in a SQLAlchemy URL's path at all)."""
    folder = tmp_path / "civic #2 %41"
    folder.mkdir()
    url = f"sqlite:///{folder / 'store.db'}"
    store_with_cases(url)
    engine = make_engine(url)
    assert sqlite_file(engine) == str(folder / "store.db")
    settings = load_settings(REPO / "config.yaml")
    as_of = pd.Timestamp("2025-06-30 12:00:00")
    fast, slow = (read_cases(engine, settings, as_of, few=few).sort_values("case_key", ignore_index=True)
                  for few in (False, True))  # fmt: skip
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == ROWS
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no stray file made beside it
    engine.dispose()


def test_a_sqlite_store_opened_by_uri_is_read_through_sqlalchemy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only a plain file path is handed to the ADBC driver's child; a URI may carry options
    the driver would read otherwise."""
    path = tmp_path / "store.db"
    store_with_cases(f"sqlite:///{path}")
    by_uri = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert sqlite_file(by_uri) is None
    settings = load_settings(REPO / "config.yaml")
    assert len(read_cases(by_uri, settings, pd.Timestamp("2025-06-30 12:00:00"))) == ROWS
    by_uri.dispose()


def test_categories_are_sorted_filled_and_keep_nulls() -> None:
    col = pa.chunked_array([["b", None, "a"], ["c", "a"]])
    filled = categories(col, fill="Not stated")
    assert list(filled.categories) == ["Not stated", "a", "b", "c"]
    assert list(filled) == ["b", "Not stated", "a", "c", "a"]
    kept = categories(col)
    assert list(kept.categories) == ["a", "b", "c"]
    assert pd.isna(kept[1]) and list(kept.codes) == [1, -1, 0, 2, 0]
    # A sorted factorize orders the values as it orders the text (slicings rely on it).
    codes, labels = pd.factorize(pd.Series(kept), sort=True)
    assert list(labels) == ["a", "b", "c"] and list(codes) == [1, -1, 0, 2, 0]
    # A column the driver typed as integers because every value was null.
    assert list(categories(pa.chunked_array([pa.array([None, None], pa.int64())]), fill="x")) == ["x", "x"]
    assert len(categories(pa.chunked_array([], pa.string()))) == 0


@pytest.mark.parametrize(
    "column",
    [
        pa.chunked_array([["2024-02-29 23:59:59.123456", None, "2024-03-01 00:00:00.000000"]]),
        pa.chunked_array([["2024-02-29 23:59:59.123456", None, "2024-03-01T00:00:00"]]),
        pa.chunked_array([pa.array([pd.Timestamp("2024-02-29 23:59:59.123456"), None, pd.Timestamp("2024-03-01")])]),
    ],
)
def test_timestamps_read_every_stored_form(column: pa.ChunkedArray) -> None:
    got = timestamps(column)
    assert got.dtype == "datetime64[ns]"
    assert got.iloc[0] == pd.Timestamp("2024-02-29 23:59:59.123456")
    assert pd.isna(got.iloc[1])
    assert got.iloc[2] == pd.Timestamp("2024-03-01")


def test_timestamps_of_an_all_null_column_are_missing() -> None:
    got = timestamps(pa.chunked_array([pa.array([None, None, None], pa.int64())]))
    assert got.dtype == "datetime64[ns]" and got.isna().all() and len(got) == 3
    with pytest.raises(TypeError, match="expected timestamps"):  # numbers are not blanked
        timestamps(pa.chunked_array([pa.array([None, 1700000000], pa.int64())]))


def test_a_failed_read_says_why_and_whether_to_try_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "store.db"
    store_with_cases(f"sqlite:///{path}")
    table = read_sqlite(str(path), "SELECT count(*) AS n FROM cases")
    assert table.column("n").to_pylist() == [ROWS]
    with pytest.raises(ReadFailed, match="no such table: nowhere") as bad:
        read_sqlite(str(path), "SELECT * FROM nowhere")
    assert not bad.value.transient
    with pytest.raises(ReadFailed, match=r"missing\.db failed: no such file"):
        read_sqlite(str(tmp_path / "missing.db"), "SELECT 1")
    # A writer holding the file's exclusive lock (rollback journal, as a store not in WAL
    # mode has): the child cannot read, and trying again later can help.
    import sqlite3

    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=DELETE")
        writer.execute("BEGIN EXCLUSIVE")
        with pytest.raises(ReadFailed, match=r"locked|busy") as locked:
            read_sqlite(str(path), "SELECT count(*) FROM cases")
        assert locked.value.transient
    finally:
        writer.execute("ROLLBACK")
        writer.close()
