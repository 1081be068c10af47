"""Small-number suppression, applied in the query layer to every cell anyone reads.

Primary: a value resting on fewer than `min_cell_size` cases is suppressed. Secondary: if
exactly one category of a dimension is suppressed in a period, it could be recovered by
subtracting the other categories from the total, so the next smallest category is
suppressed too. A suppressed cell keeps no number at all: not its value, nor its n, nor its
numerator, denominator or interval, since any of them could give the small count away.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HIDDEN = ["value", "n", "numerator", "denominator", "ci_low", "ci_high"]


def suppress(cells: pd.DataFrame, min_cell_size: int, dim: str = "dim") -> pd.DataFrame:
    """Suppressed copy of `cells` (columns metric, grain, period, the dimension column `dim`,
    n, value...). A cell already marked suppressed stays so and counts as primary."""
    df = cells.copy()
    n = df["n"].to_numpy(dtype=float)
    already = df["suppressed"].fillna(False).to_numpy(dtype=bool) if "suppressed" in df else np.zeros(len(df), bool)
    primary = (~np.isnan(n) & (n < min_cell_size)) | already
    secondary = _secondary(df, primary, dim)
    hide = primary | secondary
    df["suppressed"] = hide
    df.loc[hide, HIDDEN] = np.nan
    df.loc[primary & ~already, "note"] = f"suppressed: fewer than {min_cell_size} cases"
    df.loc[secondary & ~primary, "note"] = "suppressed: would reveal a smaller suppressed figure"
    return df


def _secondary(df: pd.DataFrame, primary: np.ndarray, dim: str) -> np.ndarray:
    out = np.zeros(len(df), dtype=bool)
    sliced = (df[dim] != "").to_numpy()
    if not sliced.any():
        return out
    work = pd.DataFrame(
        {
            "grp": df.groupby(["metric", "grain", "period", dim], sort=False).ngroup().to_numpy(),
            "primary": primary,
            "n": df["n"].to_numpy(dtype=float),
        }
    )[sliced]
    count = work.groupby("grp")["primary"].transform("sum")
    size = work.groupby("grp")["primary"].transform("size")
    lonely = work[(count == 1) & (size > 1) & ~work["primary"]]
    # Within each such group, the smallest remaining category goes too.
    pick = lonely.sort_values(["grp", "n"], na_position="last").groupby("grp").head(1).index
    out[df.index.get_indexer(pick)] = True
    return out
