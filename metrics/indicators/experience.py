"""Citizen experience: satisfaction with the service."""

from __future__ import annotations

import pandas as pd

from metrics.casedata import CaseData
from metrics.cells import concat, keyed, opened_period, sum_cells
from metrics.indicators.timeliness import proportion


def satisfied_share(data: CaseData) -> pd.DataFrame:
    rating = data.cases["rating"]
    rated = rating.notna().to_numpy()
    satisfied = (rating >= 4).to_numpy()
    df = concat([sum_cells(k, rated, satisfied=satisfied) for k in keyed(data, opened_period(data))])
    return proportion(df, df["satisfied"], df["rows"])
