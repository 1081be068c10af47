"""Take-up from published recipients and ranged eligible estimates, beside take-up counted
from cases: through the real ETL and refresh on a small store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.support import run, write_config


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("uptake")
    with (folder / "cases.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "opened", "closed", "service", "region", "citizen", "outcome"])
        # 2024: 30 people granted the counted benefit in North, 12 in South (one applies twice).
        for i in range(42):
            region = "North" if i < 30 else "South"
            w.writerow([f"A{i}", "2024-02-01 10:00", "2024-03-01 10:00", "benefit", region, f"P{i}", "granted"])
        w.writerow(["A99", "2024-05-01 10:00", "2024-06-01 10:00", "benefit", "South", "P31", "granted"])
        w.writerow(["B1", "2023-01-02 10:00", "2023-01-03 10:00", "benefit", "North", "Q1", "refused"])
    with (folder / "eligible.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["year", "programme", "region", "attribute", "group", "eligible", "low", "high", "recipients"])
        w.writerow([2024, "benefit", "North", "TOTAL", "TOTAL", 60, 50, 75, ""])
        w.writerow([2024, "benefit", "South", "TOTAL", "TOTAL", 20, "", "", ""])
        w.writerow([2024, "pension", "North", "TOTAL", "TOTAL", 1000, 900, 1100, 620])
        w.writerow([2024, "pension", "South", "TOTAL", "TOTAL", 400, 380, 420, 250])
    config = write_config(folder, {
        "timezone": "UTC",
        "as_of": "2024-12-31T23:59:59Z",
        "regions": [{"id": "North"}, {"id": "South"}],
        "services": {"benefit": {"department": "W", "deadline_working_days": 10, "entitlement": True},
                     "pension": {"department": "W", "deadline_working_days": 10, "entitlement": True}},
        "metrics": {"grains": ["month", "year"], "dimensions": ["region", "service"],
                    "combinations": [["service", "region"]]},
        "etl": {"sources": {
            "cases": {"kind": "cases_csv", "path": "cases.csv", "datetime_format": "%Y-%m-%d %H:%M",
                      "columns": {"source_id": "id", "opened_at": "opened", "closed_at": "closed", "service": "service",
                                  "region": "region", "citizen_key": "citizen", "outcome": "outcome"}},
            "eligible": {"kind": "eligible_csv", "path": "eligible.csv", "total_label": "TOTAL",
                         "columns": {"year": "year", "programme": "programme", "region": "region",
                                     "attribute": "attribute", "group": "group", "eligible": "eligible",
                                     "eligible_low": "low", "eligible_high": "high", "recipients": "recipients"}},
        }},
    })  # fmt: skip
    run(config, "init")
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    return config


def export(config: Path, metric: str, by: str, grain: str) -> dict[str, dict]:
    out = run(config, "metrics", "export", "--metric", metric, "--by", by, "--grain", grain, "--from", "2024-01")
    return {r["dims"][by]: r for r in json.loads(out.stdout) if r["period"].startswith("2024")}


def test_published_recipients_count_at_the_year_grain(store: Path) -> None:
    by_service = export(store, "uptake_rate", "service", "year")
    assert by_service["pension"]["value"] == pytest.approx((620 + 250) / 1400)
    assert by_service["pension"]["numerator"] == 870
    # The counted programme: distinct people granted in the year (P31 twice counts once).
    assert by_service["benefit"]["numerator"] == 42 and by_service["benefit"]["denominator"] == 80


def test_a_range_comes_from_low_and_high_eligible_estimates(store: Path) -> None:
    by_region = export(store, "uptake_rate", "region", "year")
    north = by_region["North"]  # benefit 30 + pension 620 over 60 + 1000
    assert north["value"] == pytest.approx(650 / 1060)
    assert north["ci_low"] == pytest.approx(650 / (75 + 1100)) and north["ci_high"] == pytest.approx(650 / (50 + 900))
    assert north["note"] == "range from the low and high estimates of eligible people"
    # South's counted benefit has no low/high estimate: the sum has none, so no range.
    south = by_region["South"]
    assert south["value"] == pytest.approx((12 + 250) / 420)
    assert "range" not in south.get("note", "")
    missing = export(store, "unclaimed_estimate", "region", "year")
    assert missing["North"]["value"] == 1060 - 650
    assert missing["North"]["ci_low"] == 950 - 650 and missing["North"]["ci_high"] == 1175 - 650


def test_monthly_take_up_leaves_published_programmes_out(store: Path) -> None:
    by_service = run(store, "metrics", "export", "--metric", "uptake_rate", "--by", "service", "--from", "2024-12")
    services = {r["dims"]["service"] for r in json.loads(by_service.stdout)}
    assert services == {"benefit"}


def test_combined_slices_of_region_and_programme(store: Path) -> None:
    out = run(store, "metrics", "export", "--metric", "uptake_rate", "--by", "region", "--by", "service",
              "--grain", "year", "--from", "2024-01")  # fmt: skip
    got = {(r["dims"]["region"], r["dims"]["service"]): (r["numerator"], r["denominator"])
           for r in json.loads(out.stdout)}  # fmt: skip
    # Counted from cases for the benefit (distinct people), published for the pension.
    assert got == {("North", "benefit"): (30, 60), ("South", "benefit"): (12, 20),
                   ("North", "pension"): (620, 1000), ("South", "pension"): (250, 400)}  # fmt: skip
    # Each programme's slices add up to its own figure (the counts are additive here).
    by_service = export(store, "uptake_rate", "service", "year")
    for programme in ("benefit", "pension"):
        parts = [v for k, v in got.items() if k[1] == programme]
        assert sum(n for n, _ in parts) == by_service[programme]["numerator"]
        assert sum(d for _, d in parts) == by_service[programme]["denominator"]


def test_slice_codes_of_a_combination_name_each_grants_slice() -> None:
    """Grants' codes under a combined slicing read back as the stored key of each grant's own
    values, and no grant at all (a store of published tables) gives no code and no key."""
    import pandas as pd

    from metrics.indicators.uptake import _slice_codes

    granted = pd.DataFrame({"region": ["N", "S", "N", "N"], "service": ["b", "a", "b", "a"]})
    codes, keys = _slice_codes(granted, "region,service")
    assert [keys[c] for c in codes] == ["region=N|service=b", "region=S|service=a", "region=N|service=b",
                                        "region=N|service=a"]  # fmt: skip
    assert len(set(keys)) == len(keys) == 3
    codes, keys = _slice_codes(granted.iloc[:0], "region,service")
    assert codes.size == 0 and keys.size == 0
