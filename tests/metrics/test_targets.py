import math

import pytest

from metrics.targets import LABELS, STATUSES, status

# on_time_rate in config.yaml: target 0.90, threshold 0.80, higher is better.
HIGHER = {"target": 0.90, "threshold": 0.80, "direction": "higher_is_better"}
# resolution_days_median in config.yaml: target 5 days, threshold 8 days, lower is better.
LOWER = {"target": 5.0, "threshold": 8.0, "direction": "lower_is_better"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.99, "on_track"),
        (0.90, "on_track"),  # exactly at target
        (0.8999, "at_risk"),
        (0.85, "at_risk"),
        (0.80, "at_risk"),  # exactly at threshold: not yet beyond it
        (0.7999, "off_track"),
        (0.0, "off_track"),
    ],
)
def test_higher_is_better(value, expected):
    assert status(value, **HIGHER) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "on_track"),
        (5.0, "on_track"),  # exactly at target
        (5.01, "at_risk"),
        (8.0, "at_risk"),  # exactly at threshold
        (8.01, "off_track"),
        (40.0, "off_track"),
    ],
)
def test_lower_is_better(value, expected):
    assert status(value, **LOWER) == expected


@pytest.mark.parametrize("params", [HIGHER, LOWER])
@pytest.mark.parametrize("missing", [None, math.nan])
def test_missing_value_has_no_status(params, missing):
    assert status(missing, **params) is None


def test_counts_work_like_any_other_value():
    # backlog_open: target 2500, threshold 3500, lower is better.
    assert status(2500, 2500, 3500, "lower_is_better") == "on_track"
    assert status(2501, 2500, 3500, "lower_is_better") == "at_risk"
    assert status(3501, 2500, 3500, "lower_is_better") == "off_track"


def test_no_at_risk_band_when_threshold_equals_target():
    assert status(0.9, 0.9, 0.9, "higher_is_better") == "on_track"
    assert status(0.89, 0.9, 0.9, "higher_is_better") == "off_track"
    assert status(5.1, 5.0, 5.0, "lower_is_better") == "off_track"


@pytest.mark.parametrize(
    ("target", "threshold", "direction", "message"),
    [
        (0.8, 0.9, "higher_is_better", "threshold 0.9 is above target 0.8"),
        (8.0, 5.0, "lower_is_better", "threshold 5.0 is below target 8.0"),
        (10, 20, "neutral", "'neutral' has no on-track side"),
    ],
)
def test_configuration_errors_are_named(target, threshold, direction, message):
    with pytest.raises(ValueError, match=message):
        status(1.0, target, threshold, direction)


def test_a_misconfigured_target_raises_even_without_a_value():
    # A bad target must not hide behind a suppressed month.
    with pytest.raises(ValueError):
        status(None, 0.8, 0.9, "higher_is_better")


def test_every_status_has_a_label():
    assert [LABELS[s] for s in STATUSES] == ["On track", "At risk", "Off track"]
