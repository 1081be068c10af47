"""Whether a figure really changed between two periods, for the sentences readers get.

A change is called real when the 95% interval of the difference between the two figures
excludes zero: MOVER (Newcombe) from the two figures' own intervals, the method the gaps
against reference groups use (`metrics.comparisons`). A figure without an interval (a
count of open cases, an index) has no verdict: it is described as a number, not as a change.
Used by the dashboard's overview sentences and the monthly briefing alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from metrics.comparisons import mover_difference


@dataclass(frozen=True)
class Change:
    difference: float
    ci_low: float | None
    ci_high: float | None
    real: bool | None  # None: no interval to judge by

    @property
    def direction(self) -> str:
        """ "up", "down" or "same" (the sign of the difference, whether real or not)."""
        return "up" if self.difference > 0 else "down" if self.difference < 0 else "same"


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


# Notes of cells whose low and high limits are bounds from a published range (take-up from
# the low and high estimates of eligible people, a publisher's own range), not a sampling
# interval: MOVER would treat them as independent errors, so such changes are not tested.
BOUNDS = ("range from the low and high estimates", "published rate")
# Figures still moving for a known reason (recent cohorts not yet past their deadline): a
# rise there is the known bias, not a change.
UNSETTLED = ("provisional",)


def _has(cell: dict[str, Any], prefixes: tuple[str, ...]) -> bool:
    note = cell.get("note")
    return isinstance(note, str) and any(part.strip().startswith(prefixes) for part in note.split(";"))


def has_bounds(cell: dict[str, Any] | None) -> bool:
    """Whether the cell's low and high limits are bounds of a published range, not a 95%
    interval (wording and tests must not treat them as one)."""
    return cell is not None and _has(cell, BOUNDS)


def change_between(now: dict[str, Any] | None, before: dict[str, Any] | None) -> Change | None:
    """The change from cell `before` to cell `now` (dicts with value, ci_low, ci_high,
    suppressed, note); None when either has no figure. A change between provisional figures,
    or between figures whose limits are bounds rather than a 95% interval, is not judged
    (`real` None)."""
    if now is None or before is None or now.get("suppressed") or before.get("suppressed"):
        return None
    v1, v2 = _num(now.get("value")), _num(before.get("value"))
    if v1 is None or v2 is None:
        return None
    if any(_has(c, UNSETTLED + BOUNDS) for c in (now, before)):
        return Change(v1 - v2, None, None, None)
    l1, u1, l2, u2 = (_num(c.get(k)) for c, k in ((now, "ci_low"), (now, "ci_high"), (before, "ci_low"),
                                                  (before, "ci_high")))  # fmt: skip
    if None in (l1, u1, l2, u2):
        return Change(v1 - v2, None, None, None)
    d, lo, hi = mover_difference(v1, l1, u1, v2, l2, u2)
    low, high = float(lo), float(hi)
    return Change(float(d), low, high, bool(low > 0 or high < 0))
