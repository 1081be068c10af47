"""US IRS EITC participation by state (tax years 2014-2022): a published table of rates only.

`irs_eitc.yaml` loads the wide table by config alone (one column per tax year, unpivoted;
"National" read as the whole country's own figure). The IRS gives no counts, so take-up is
the published rate with no n, and the number of people missing out is missing, never 0.
Here the CSV is read again with the standard library and every figure compared.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.realdata.conftest import load_template
from tests.support import run

pytestmark = pytest.mark.realdata

TABLE = "takeup/irs_eitc_participation_rate_by_state_ty2014_2022.csv"


@pytest.fixture(scope="module")
def published(real_data: Path) -> dict[tuple[int, str], float]:
    """(tax year, state or '' for National) -> rate in percent, as printed."""
    with (real_data / TABLE).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 52  # National, 50 states and DC
    out = {}
    for r in rows:
        state = "" if r["state"] == "National" else r["state"]
        for col, text in r.items():
            if col.startswith("ty"):
                out[(int(col[2:6]), state)] = float(text)
    return out


@pytest.fixture(scope="module")
def config(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("irs")
    path, out = load_template("irs_eitc", real_data, folder)
    assert "irs_eitc_by_state: read 468 = loaded 468" in out and "quarantined 0" in out
    return path


def export(config: Path, metric: str, *args: str) -> tuple[Path, list[dict]]:
    out = config.parent / f"{metric}{''.join(args)}.json"
    run(config, "metrics", "export", "--metric", metric, "--grain", "year", *args, "--out", str(out))
    return out, json.loads(out.read_text(encoding="utf-8"))


def test_every_published_rate_is_exported_as_published(
    config: Path, published: dict[tuple[int, str], float], check_export_tool: Path
) -> None:
    got = {}
    for args in ((), ("--by", "region")):
        path, records = export(config, "uptake_rate", *args)
        checked = subprocess.run([sys.executable, str(check_export_tool), str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        for r in records:
            got[(int(r["period"][:4]), r["dims"].get("region", ""))] = r
    assert set(got) == set(published)
    for key, pct in published.items():
        r = got[key]
        # The published digits, not a float's approximation of pct / 100.
        assert r["value"] == round(pct / 100, 12), key
        assert r["n"] is None and r["numerator"] is None and r["suppressed"] is False
        assert r["note"] == "published rate; the publisher gives no counts"
    # The national figure is the IRS's own (ACS-based) one, not a sum or mean of states.
    assert got[(2022, "")]["value"] == 0.808


def test_no_count_of_people_missing_out_is_invented(config: Path) -> None:
    _, records = export(config, "unclaimed_estimate", "--by", "region")
    assert records and all(r["value"] is None for r in records)
    assert {r["note"] for r in records} == {"only a rate is published: no count of people"}


def test_the_range_of_rates_across_states_is_the_published_one(
    config: Path, published: dict[tuple[int, str], float]
) -> None:
    # TY2020's extremes per the data README (Oregon 67.9 %, West Virginia 86.8 %).
    _, records = export(config, "uptake_rate", "--by", "region", "--from", "2020-01-01", "--to", "2020-12-31")
    values = {r["dims"]["region"]: r["value"] for r in records}
    assert min(values, key=values.get) == "Oregon" and values["Oregon"] == 0.679
    assert max(values, key=values.get) == "West Virginia" and values["West Virginia"] == 0.868
    states = {k[1]: v for k, v in published.items() if k[0] == 2020 and k[1]}
    assert values == {s: round(v / 100, 12) for s, v in states.items()}
