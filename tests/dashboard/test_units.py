"""Every unit in the catalogue can be shown: a new indicator never breaks a page."""

from __future__ import annotations

import pytest

from dashboard.formatting import NOT_AVAILABLE, format_change, format_value
from metrics.catalogue import CATALOGUE


@pytest.mark.parametrize("unit", sorted({m.unit for m in CATALOGUE.values()}))
def test_every_catalogue_unit_formats(unit: str) -> None:
    assert format_value(None, unit) == NOT_AVAILABLE
    shown = format_value(12.5, unit)
    assert shown and shown != NOT_AVAILABLE and "12" in shown.replace(",", "")
    assert format_change(2.0, unit) is not None


@pytest.mark.parametrize("unit", sorted({m.unit for m in CATALOGUE.values()}))
def test_every_catalogue_unit_can_be_charted(unit: str) -> None:
    """A trend of any indicator (an index, a ratio...) gets an axis format and title."""
    from dashboard.formatting import unit_format

    f = unit_format(unit)
    assert f.axis_format and f.hover_format and f.axis_title
