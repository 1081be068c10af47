"""Joined-up government: how often cases pass between departments, and what it costs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.casedata import CaseData
from metrics.indicators.experience import share
from metrics.indicators.timeliness import km_indicator


def handoff_rate(data: CaseData) -> pd.DataFrame:
    c = data.cases
    return share(data, np.ones(len(c), dtype=bool), (c["handoffs"] > 0).to_numpy())


def handoff_resolution_days_median(data: CaseData) -> pd.DataFrame:
    c = data.cases
    return km_indicator(data, (c["handoffs"] > 0).to_numpy(), c["closed"].to_numpy())


def direct_resolution_days_median(data: CaseData) -> pd.DataFrame:
    """The same median for cases settled without a handoff, to set beside it."""
    c = data.cases
    return km_indicator(data, (c["handoffs"] == 0).to_numpy(), c["closed"].to_numpy())
