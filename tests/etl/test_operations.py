"""The quarantine's counts by rule: counted once per state of the quarantine, and counted
again as soon as a load adds a refused row."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import event, insert

from etl.operations import quarantine_counts
from metrics.store.db import make_engine, upgrade
from metrics.store.models import QuarantinedRow


def refuse(engine, *reasons: str) -> None:  # type: ignore[no-untyped-def]
    rows = [
        {"etl_run_id": 1, "job": "cases", "row_number": i, "reason": r, "raw": "{}", "batch": "x.csv"}
        for i, r in enumerate(reasons)
    ]
    with engine.begin() as conn:
        conn.execute(insert(QuarantinedRow), rows)


def brute_force(reasons: list[str]) -> dict[str, int]:
    """Each reason of a row, cut at its first quote."""
    return dict(Counter(part.split("'")[0].rstrip(" :") for r in reasons for part in r.split("; ")))


def test_counts_follow_every_new_refused_row_and_are_not_recounted_in_between(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    assert quarantine_counts(engine).empty
    first = [
        "service: no mapping for 'XX'",
        "opened_at: cannot read '31/02' as a date-time; service: no mapping for 'YY'",
    ]
    refuse(engine, *first)
    counts = quarantine_counts(engine)
    assert dict(zip(counts["rule"], counts["rows"], strict=True)) == brute_force(first)

    reads: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: reads.append(a[2]))
    again = quarantine_counts(engine)
    assert again.equals(counts)
    assert not any("reason" in sql for sql in reads), "the reasons were read again with nothing new"

    second = ["rating: expected 1 to 5, got '9'"]
    refuse(engine, *second)
    counts = quarantine_counts(engine)
    assert dict(zip(counts["rule"], counts["rows"], strict=True)) == brute_force(first + second)
    # A caller changing its copy changes no later answer.
    counts.loc[:, "rows"] = 0
    assert quarantine_counts(engine)["rows"].sum() == 4
    engine.dispose()
