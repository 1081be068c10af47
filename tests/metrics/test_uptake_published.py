"""Take-up from published tables beside cases: a whole-area row, a programme published as
a rate only, and years before the case history; through the real ETL, refresh and export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.support import run, write_config


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("uptake_published")
    with (folder / "cases.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "opened", "closed", "service", "region", "citizen", "outcome"])
        for i in range(40):
            w.writerow([f"A{i}", "2024-02-01 10:00", "2024-03-01 10:00", "benefit", "North", f"P{i}", "granted"])
        w.writerow(["B1", "2023-01-02 10:00", "2023-01-03 10:00", "benefit", "North", "Q1", "refused"])
    with (folder / "eligible.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["year", "programme", "region", "eligible", "recipients", "rate"])
        # Pension: regions and the country's own figure, which is not their sum (the
        # publisher estimates it separately); 2021 published, 2022 not, 2023-2024 published.
        for year in (2021, 2023, 2024):
            w.writerow([year, "pension", "North", 1000, 600, ""])
            w.writerow([year, "pension", "South", 500, 250, ""])
            w.writerow([year, "pension", "Country", 1600, 900, ""])
        # Credit: published as rates only.
        w.writerow([2024, "credit", "North", "", "", "81.5"])
        w.writerow([2024, "credit", "Country", "", "", "80"])
    config = write_config(folder, {
        "timezone": "UTC",
        "as_of": "2024-12-31T23:59:59Z",
        "regions": [{"id": "North"}, {"id": "South"}],
        "services": {"benefit": {"department": "W", "entitlement": True},
                     "pension": {"department": "W", "entitlement": True},
                     "credit": {"department": "W", "entitlement": True}},
        "metrics": {"grains": ["month", "year"], "dimensions": ["region", "service"]},
        "etl": {"sources": {
            "cases": {"kind": "cases_csv", "path": "cases.csv", "datetime_format": "%Y-%m-%d %H:%M",
                      "columns": {"source_id": "id", "opened_at": "opened", "closed_at": "closed", "service": "service",
                                  "region": "region", "citizen_key": "citizen", "outcome": "outcome"}},
            "eligible": {"kind": "eligible_csv", "path": "eligible.csv", "all_regions_label": "Country",
                         "total_label": "ALL", "constants": {"attribute": "ALL", "group": "ALL"},
                         "columns": {"year": "year", "programme": "programme", "region": "region",
                                     "eligible": "eligible", "recipients": "recipients", "rate": "rate"}},
        }},
    })  # fmt: skip
    run(config, "init")
    run(config, "etl", "run")
    run(config, "metrics", "refresh")
    return config


def export(config: Path, metric: str, *by: str) -> dict[tuple[str, str], dict]:
    args = [a for d in by for a in ("--by", d)]
    out = run(config, "metrics", "export", "--metric", metric, "--grain", "year", *args)
    return {(r["period"][:4], next(iter(r["dims"].values()), "")): r for r in json.loads(out.stdout)}


def test_the_whole_area_row_is_the_total_and_never_a_region(store: Path) -> None:
    by_service = export(store, "uptake_rate", "service")
    # The country's own figure (900 / 1600), not North + South (850 / 1500).
    assert by_service[("2024", "pension")]["value"] == pytest.approx(900 / 1600)
    by_region = export(store, "uptake_rate", "region")
    assert {k[1] for k in by_region} == {"North", "South"}
    # North in 2024: pension 600 / 1000. The 40 people granted the counted benefit stay out:
    # its eligible people are unknown, so they would inflate the rate; the credit's rate
    # cannot be added to counts.
    assert by_region[("2024", "North")]["numerator"] == 600
    assert by_region[("2024", "North")]["denominator"] == 1000
    whole = export(store, "uptake_rate")
    assert (whole[("2024", "")]["numerator"], whole[("2024", "")]["denominator"]) == (900, 1600)
    # The benefit's own slice has no rate without eligible people, and its recipients are not
    # shown either: with no n, nothing shows that such counts, and what subtracting them from
    # one another would give, rest on enough people (metrics/suppression.py, `uncounted`).
    benefit = export(store, "uptake_rate", "service")[("2024", "benefit")]
    assert benefit["value"] is None and benefit["numerator"] is None and benefit["suppressed"]
    assert benefit["note"].endswith("suppressed: counts resting on an unknown number of cases")


def test_a_rate_only_programme_shows_the_published_rate(store: Path) -> None:
    by_service = export(store, "uptake_rate", "service")
    credit = by_service[("2024", "credit")]
    assert credit["value"] == 0.8 and credit["n"] is None
    assert credit["note"] == "published rate; the publisher gives no counts"
    missing = export(store, "unclaimed_estimate", "service")
    assert missing[("2024", "credit")]["value"] is None
    assert missing[("2024", "pension")]["value"] == 1600 - 900


def test_published_years_before_the_cases_are_shown_and_gaps_are_missing(store: Path) -> None:
    whole = export(store, "uptake_rate", "service")
    assert whole[("2021", "pension")]["value"] == pytest.approx(900 / 1600)
    total = export(store, "uptake_rate")
    # 2022: nothing published: a missing figure with its reason, not 0 and not left out.
    assert total[("2022", "")]["value"] is None and total[("2022", "")]["numerator"] is None
    assert total[("2022", "")]["note"] == "no eligible population known for this slice"
