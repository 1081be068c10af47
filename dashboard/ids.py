"""Every component id of the dashboard, in one place.

Pages, callbacks and browser tests all import from here, so an id changes in one line.
"""

from __future__ import annotations

# App shell
NAVBAR = "navbar"
NAV_AS_OF = "nav-as-of"

# Overview page (its filters are filter_id("overview", ...))
OV_INDICATOR = "overview-control-indicator"
OV_NOTICE = "overview-notice"
OV_AS_OF = "overview-as-of"
OV_TILES = "overview-tiles"
OV_CHANGES = "overview-changes"
OV_DETAIL = "overview-detail"
OV_TREND = "overview-trend"  # block(OVERVIEW, "trend")
OV_TREND_GRAPH = "overview-trend-graph"
OV_REGIONS = "overview-regions"
OV_REGIONS_GRAPH = "overview-regions-graph"

# Data operations page
OPS_ETL_RUNS = "ops-etl-runs"
OPS_JOB_RUNS = "ops-job-runs"
OPS_QUARANTINE = "ops-quarantine"
OPS_SOURCES = "ops-sources"

# "All regions" in the region filter (and "everyone", "all channels"... in the others).
ALL = "All"

# Pages: the prefix of each page's component ids.
OVERVIEW = "overview"
EQUAL = "equal"
TIMELY = "timely"
UPTAKE = "uptake"
EXPERIENCE = "experience"
KPI = "kpi"
TRENDS = "trends"
METHOD = "method"

# The language switch in the navigation bar.
NAV_LANG = "nav-lang"


def filter_id(page: str, name: str) -> str:
    """A control of a page's filter bar: grain, from, to, region, group, value, channel,
    service; and its link and the store the address bar follows."""
    return f"{page}-filter-{name}"


def block(page: str, name: str) -> str:
    """A block of a page (a chart with its summary, table and download), by name."""
    return f"{page}-{name}"


def graph(page: str, name: str) -> str:
    """The chart of a block."""
    return f"{page}-{name}-graph"


def table(page: str, name: str) -> str:
    """The table alternative of a block."""
    return f"{page}-{name}-table"


def download(page: str, name: str) -> str:
    """The CSV download link of a block."""
    return f"{page}-{name}-csv"


def control(page: str, name: str) -> str:
    """A page's own control beside the shared filters (an indicator, a programme...)."""
    return f"{page}-control-{name}"


def content(page: str) -> str:
    """The part of a page its filters redraw."""
    return f"{page}-content"


def tile(metric: str) -> str:
    """The id of one headline tile."""
    return f"tile-{metric}"


def tile_value(metric: str) -> str:
    """The id of the value line of one headline tile."""
    return f"tile-{metric}-value"
