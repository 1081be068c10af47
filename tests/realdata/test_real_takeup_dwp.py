"""UK DWP Pension Credit take-up (FYE 2010, 2013-2024), from the published workbook.

`dwp_pension_credit.yaml` reads sheets PC1 (by entitlement) and PC3 (by family type) of the
ODS as published, by config alone (report blocks, thousands, constants), into a store with
no case feed. Here the same cells are read again without product code, take-up is worked
out as recipients / (recipients + entitled non-recipients), and:

- every exported figure equals that computation (value, range, n, people missing out);
- it matches the percentages DWP publishes in the same sheets (and in the data team's tidy
  extract) to the published rounding: DWP rounds counts to 10,000 and rates to whole
  percent, so a figure recomputed from rounded counts agrees with the published one within
  the error those roundings allow, which the test works out for each cell.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.realdata.conftest import load_template
from tests.support import run

pytestmark = pytest.mark.realdata

WORKBOOK = "takeup/dwp_pension_credit_tables_fye_2324.ods"
TIDY = "takeup/dwp_pension_credit_caseload_takeup_fye2010_2024_tidy.csv"
RECIPIENTS = "Number of recipients"
NON_RECIPIENTS = "Estimated number of entitled non-recipients"
TAKE_UP = "Estimated caseload take-up"
# Sheet -> (the total column's label, the product's group attribute for the others).
SHEETS = {"PC1": ("Pension Credit Overall", "entitlement"), "PC3": ("All", "family_type")}
YEARS = [2010, *range(2013, 2025)]


@dataclass(frozen=True)
class Figure:
    recipients: int  # thousands, as published
    non_recipients: int | None
    low: int | None  # non-recipients range
    high: int | None
    pct: int | None  # published take-up, whole percent, and its range
    pct_low: int | None
    pct_high: int | None


def number(text: str) -> int | None:
    digits = re.sub(r"[(),\s]", "", str(text))
    return int(digits) if digits.isdigit() else None


def read_sheet(path: Path, sheet: str) -> dict[tuple[int, str], Figure]:
    """(year, category) -> the published figures, located by the sheet's own labels."""
    grid = pd.read_excel(path, sheet_name=sheet, header=None, dtype=str, engine="odf").fillna("")
    first = grid[0].str.strip()

    def block(title: str) -> dict[str, int]:
        start = int(first.index[first.str.startswith(title)][0])
        rows = {}
        for i in range(start + 1, start + 1 + len(YEARS)):
            rows[first[i]] = i
        assert list(rows) == [f"FYE {y}" for y in YEARS], f"{sheet}: {title} block is not the years expected"
        return rows

    header = grid.iloc[int(first.index[first.str.startswith(RECIPIENTS)][0]) - 1]
    columns = {str(v).strip(): j for j, v in header.items() if j > 0 and str(v).strip()}
    rec, non, pct = block(RECIPIENTS), block(NON_RECIPIENTS), block(TAKE_UP)
    out = {}
    for y in YEARS:
        label = f"FYE {y}"
        for cat, j in columns.items():
            out[(y, cat)] = Figure(
                number(grid.iat[rec[label], j]),  # type: ignore[arg-type]
                number(grid.iat[non[label], j]),
                number(grid.iat[non[label], j + 1]),
                number(grid.iat[non[label], j + 2]),
                number(grid.iat[pct[label], j]),
                number(grid.iat[pct[label], j + 1]),
                number(grid.iat[pct[label], j + 2]),
            )
    return out


@pytest.fixture(scope="module")
def published(real_data: Path) -> dict[str, dict[tuple[int, str], Figure]]:
    return {sheet: read_sheet(real_data / WORKBOOK, sheet) for sheet in SHEETS}


@dataclass
class Store:
    config: Path
    folder: Path
    etl_output: str

    def export(self, metric: str, *by: str) -> tuple[Path, dict[tuple[int, str], dict]]:
        out = self.folder / f"{metric}-{'-'.join(by) or 'all'}.json"
        args = [a for d in by for a in ("--by", d)]
        run(self.config, "metrics", "export", "--metric", metric, "--grain", "year", *args, "--out", str(out))
        records = json.loads(out.read_text(encoding="utf-8"))
        return out, {(int(r["period"][:4]), next(iter(r["dims"].values()), "")): r for r in records}


@pytest.fixture(scope="module")
def store(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("dwp")
    config, etl = load_template("dwp_pension_credit", real_data, folder)
    return Store(config, folder, etl)


def test_every_figure_is_loaded_or_quarantined_with_its_reason(store: Store) -> None:
    # 13 years x 3 (PC1) or 4 (PC3) columns; FYE 2021 was not published ([x]).
    assert "dwp_pc_by_entitlement: read 39 = loaded 36" in store.etl_output
    assert "+ quarantined 3" in store.etl_output
    assert "dwp_pc_by_family_type: read 52 = loaded 48" in store.etl_output
    assert "+ quarantined 4" in store.etl_output
    listed = run(store.config, "etl", "quarantine", "--format", "csv").output
    assert listed.count("non_recipients: expected a whole number >= 0, got '[x]'") == 7


def expected_rows(published: dict[str, dict[tuple[int, str], Figure]]) -> list[tuple[str, str, int, str, Figure]]:
    """(sheet, dimension, year, category key, figure); the total column is the whole population."""
    rows = []
    for sheet, (total, attribute) in SHEETS.items():
        for (year, cat), f in published[sheet].items():
            rows.append((sheet, "" if cat == total else attribute, year, "" if cat == total else cat, f))
    return rows


@pytest.mark.parametrize("sheet", list(SHEETS))
def test_take_up_equals_recipients_over_recipients_plus_non_recipients(
    store: Store, published: dict[str, dict[tuple[int, str], Figure]], sheet: str, check_export_tool: Path
) -> None:
    attribute = SHEETS[sheet][1]
    for by in ((), (attribute,)):
        path, got = store.export("uptake_rate", *by)
        _, missing = store.export("unclaimed_estimate", *by)
        checked = subprocess.run([sys.executable, str(check_export_tool), str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        compared = 0
        for s, dim, year, cat, f in expected_rows(published):
            if s != sheet or (dim != "") != bool(by):
                continue
            if f.non_recipients is None:  # FYE 2021: not published -> missing, never 0
                if not by:  # the whole population's series shows the gap; groups have no cell
                    r = got[(year, cat)]
                    assert r["value"] is None and r["n"] is None and "no eligible population" in r["note"]
                    assert missing[(year, cat)]["value"] is None
                else:
                    assert (year, cat) not in got
                continue
            r = got[(year, cat)]
            eligible = (f.recipients + f.non_recipients) * 1000
            assert r["n"] == eligible and r["numerator"] == f.recipients * 1000
            assert r["value"] == pytest.approx(f.recipients / (f.recipients + f.non_recipients), rel=1e-12)
            assert r["ci_low"] == pytest.approx(f.recipients / (f.recipients + f.high), rel=1e-12)
            assert r["ci_high"] == pytest.approx(f.recipients / (f.recipients + f.low), rel=1e-12)
            m = missing[(year, cat)]
            assert (m["value"], m["ci_low"], m["ci_high"]) == (
                f.non_recipients * 1000,
                f.low * 1000,
                f.high * 1000,
            )
            compared += 1
        assert compared == (12 if not by else 12 * (len(published[sheet]) // len(YEARS) - 1))
        if not by:  # years DWP does not publish (FYE 2011, 2012) are shown as missing too
            assert got[(2011, "")]["value"] is None and got[(2012, "")]["numerator"] is None


def rounding_bounds(rec: int, non: int) -> tuple[float, float]:
    """Take-up in percent from counts each rounded to the nearest 10 thousand: the least
    and most it can be (the published counts are in thousands, rounded to tens)."""
    return 100 * (rec - 5) / (rec - 5 + non + 5), 100 * (rec + 5) / (rec + 5 + non - 5)


def test_computed_take_up_matches_the_published_percentages_to_their_rounding(
    store: Store, published: dict[str, dict[tuple[int, str], Figure]], real_data: Path
) -> None:
    tidy = pd.read_csv(real_data / TIDY)
    tidy = tidy[tidy["caseload_takeup_pct"].notna()]
    exports = {by: store.export("uptake_rate", *by)[1] for by in ((), ("entitlement",), ("family_type",))}
    checked = exact = 0
    for sheet, dim, year, cat, f in expected_rows(published):
        if f.non_recipients is None:
            continue
        r = exports[(dim,) if dim else ()][(year, cat)]
        # The sheet's own percentage equals the data team's tidy extract of it.
        row = tidy[(tidy["table"] == sheet) & (tidy["financial_year"] == f"FYE {year}")]
        row = row[row["group"] == (cat or SHEETS[sheet][0])]
        assert row["caseload_takeup_pct"].tolist() == [f.pct]
        assert row[["ci95_low_pct", "ci95_high_pct"]].values.tolist() == [[f.pct_low, f.pct_high]]
        for value, published_pct, non in ((r["value"], f.pct, f.non_recipients), (r["ci_low"], f.pct_low, f.high),
                                          (r["ci_high"], f.pct_high, f.low)):  # fmt: skip
            lo, hi = rounding_bounds(f.recipients, non)
            assert lo <= 100 * value <= hi
            # The published percentage lies within what the rounded counts allow.
            assert lo - 0.5 <= published_pct <= hi + 0.5, (sheet, year, cat)
            # To whole percent, most agree outright and none is more than a point away.
            assert abs(round(100 * value) - published_pct) <= 1
            exact += round(100 * value) == published_pct
            checked += 1
    assert checked == 3 * (12 * 3 + 12 * 4)
    assert exact / checked > 0.8, f"{exact}/{checked}"  # 207 of 252 on the FYE 2024 edition
