"""Every component id of the dashboard, in one place.

Pages, callbacks and browser tests all import from here, so an id changes in one line.
"""

from __future__ import annotations

# App shell
NAVBAR = "navbar"
NAV_AS_OF = "nav-as-of"

# Overview page: filters
OV_PERIOD = "overview-period"
OV_REGION = "overview-region"
OV_INDICATOR = "overview-indicator"
OV_LINK = "overview-link"
OV_URL_SYNC = "overview-url-sync"  # dcc.Store the clientside URL update writes to

# Overview page: content
OV_NOTICE = "overview-notice"
OV_AS_OF = "overview-as-of"
OV_TILES = "overview-tiles"
OV_TREND = "overview-trend"
OV_TREND_GRAPH = "overview-trend-graph"
OV_REGIONS = "overview-regions"
OV_REGIONS_GRAPH = "overview-regions-graph"

# Data operations page
OPS_ETL_RUNS = "ops-etl-runs"
OPS_JOB_RUNS = "ops-job-runs"
OPS_QUARANTINE = "ops-quarantine"
OPS_SOURCES = "ops-sources"

# "All regions" in the region filter.
ALL = "All"


def tile(metric: str) -> str:
    """The id of one headline tile."""
    return f"tile-{metric}"


def tile_value(metric: str) -> str:
    """The id of the value line of one headline tile."""
    return f"tile-{metric}-value"
