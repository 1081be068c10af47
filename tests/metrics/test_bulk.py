"""The bulk writer stores exactly what SQLAlchemy's own insert stores, on SQLite and PostgreSQL.

The same rows go into one table through `insert(table), [dicts]` and into a second, fresh
store through `metrics.store.bulk.insert_frame`; both are then read back raw (the driver's
values, no SQLAlchemy type processing: on SQLite the stored text itself) and compared.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert, select

from metrics.store import bulk
from metrics.store.db import make_engine, upgrade
from metrics.store.models import Case, MetricCell

CASES = pd.DataFrame(
    {
        "case_key": ["a:1", "a:2", "a:3"],
        "source": "a",
        "source_id": ["1", "2", "3"],
        "service": ["Noise", "Housing repair", "Noise"],
        "department": ["Env", "Housing", "Env"],
        "channel": ["phone", "web", "app"],
        "region": ["North", "South", "Not stated"],
        "opened_at": pd.to_datetime(
            ["2024-01-02 03:04:05", "2024-02-29 23:59:59.123456", "2025-03-30 01:00:00"], format="ISO8601"
        ),
        "first_response_at": pd.to_datetime(["2024-01-02 09:00:00", None, None]),
        "closed_at": pd.to_datetime([None, "2024-03-01 00:00:00", None]),
        "due_at": pd.to_datetime([None, None, "2025-04-01 17:30:00"]),
        "outcome": ["granted", None, None],
        "citizen_key": ["5f" * 32, None, "0a" * 32],
        "handoffs": np.array([0, 3, 1], dtype=np.int64),
        "reopened": np.array([0, 0, 2], dtype=np.int64),
        "rating": pd.array([5, pd.NA, 1], dtype="Int64"),
        "row_hash": ["0123456789abcdef", "fedcba9876543210", "00000000ffffffff"],
        "etl_run_id": 7,
    }
)

CELLS = pd.DataFrame(
    {
        "metric": ["cases_opened", "on_time_rate"],
        "definition_version": [1, 2],
        "grain": ["month", "week"],
        "period": [dt.date(2024, 1, 1), dt.date(2024, 12, 30)],
        "dim_names": ["", "region"],
        "dims_key": ["", "region=North"],
        "across": ["", "gap"],
        "suppressed": [False, True],
        "note": [None, "few cases"],
        "as_of": dt.datetime(2024, 12, 31, 23, 0, 0),
        "refresh_run_id": 3,
        "value": [12.0, np.nan],
        "n": [12.0, np.nan],
        "numerator": [np.nan, 0.0],
        "denominator": [np.nan, 4.0],
        "ci_low": [np.nan, 0.0],
        "ci_high": [np.nan, 0.6],
    }
)


def raw_rows(engine, model, order: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    cols = [c.name for c in model.__table__.columns if c.name != "id"]
    sql = f"SELECT {', '.join(cols)} FROM {model.__tablename__} ORDER BY {order}"
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@pytest.mark.parametrize(("model", "frame", "order"), [(Case, CASES, "case_key"), (MetricCell, CELLS, "metric")])
def test_bulk_insert_stores_what_sqlalchemy_stores(store_url: str, tmp_path, model, frame, order) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(store_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(model), records(frame))
    expected = raw_rows(engine, model, order)
    with engine.begin() as conn:
        conn.execute(model.__table__.delete())
        assert bulk.insert_frame(conn, model.__table__, frame) == len(frame)
    got = raw_rows(engine, model, order)
    assert got == expected
    assert len(got) == len(frame)
    # And SQLAlchemy reads the bulk rows back as the values written.
    with engine.connect() as conn:
        back = pd.read_sql(select(model.__table__).order_by(order), conn)
    if model is Case:
        assert back["closed_at"].isna().tolist() == [True, False, True]
        assert back["opened_at"].tolist() == CASES["opened_at"].tolist()
        assert back["rating"].tolist()[0] == 5 and pd.isna(back["rating"].tolist()[1])
    else:
        assert back["suppressed"].tolist() == [False, True]
        assert back["period"].astype(str).tolist() == ["2024-01-01", "2024-12-30"]
    engine.dispose()


def test_bulk_insert_is_part_of_the_callers_transaction(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        bulk.insert_frame(conn, Case.__table__, CASES)
        raise RuntimeError("crash after the write")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cases").scalar() == 0


def test_a_column_the_table_lacks_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    with pytest.raises(ValueError, match="no column"), engine.begin() as conn:
        bulk.insert_frame(conn, Case.__table__, CASES.assign(extra=1))


def test_a_refused_row_raises_sqlalchemys_error_on_both_databases(store_url: str) -> None:
    """COPY runs on the driver's own connection: its errors still come out as SQLAlchemy's,
    which the worker reads to tell a transient failure (a lost server) from a terminal one."""
    from sqlalchemy.exc import IntegrityError

    engine = make_engine(store_url)
    upgrade(engine)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        bulk.insert_frame(conn, Case.__table__, CASES.assign(service=None))
    engine.dispose()
