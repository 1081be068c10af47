"""What the low and high limits of a figure are called: a 95% interval, or a range.

Take-up figures carry the range from the low and high estimates of eligible people (or the
publisher's own range), not a sampling interval; every chart, caption and table says which
it shows, from the cells themselves (`metrics.changes.has_bounds`), in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dashboard.i18n import _
from metrics.changes import has_bounds

Rows = Iterable[Mapping[str, Any] | None]


def ranged(rows: Rows) -> bool:
    """Whether any of the cells' limits are a range rather than a 95% interval."""
    return any(r is not None and has_bounds(dict(r)) for r in rows)


def heading(rows: Rows) -> str:
    """The name of the limits, for a table column or a legend entry."""
    return _("Range") if ranged(rows) else _("95% interval")


def band_caption(rows: Rows) -> str:
    if ranged(rows):
        return _("The shaded band is the range from the low and high estimates, not a 95% interval.")
    return _("The shaded band is the 95% interval.")


def whiskers_caption(rows: Rows) -> str:
    if ranged(rows):
        return _("Whiskers show the range from the low and high estimates, not a 95% interval.")
    return _("Whiskers show the 95% interval.")
