"""Where an indicator stands against its target: on track, at risk or off track.

One rule for every reader (dashboard tiles, the PDF briefing, alerts), so a figure never
shows as on track in one place and at risk in another.

For an indicator where higher is better, a value at or above the target is on track, a
value below the target but at or above the threshold is at risk, and a value below the
threshold is off track. Where lower is better the comparisons are mirrored. A value that is
missing or suppressed has no status.
"""

from __future__ import annotations

import math
from typing import Literal

Status = Literal["on_track", "at_risk", "off_track"]
STATUSES: tuple[Status, ...] = ("on_track", "at_risk", "off_track")

LABELS: dict[Status, str] = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track"}


def status(
    value: float | None,
    target: float,
    threshold: float,
    direction: str,
) -> Status | None:
    """The status of `value` against `target` and `threshold`.

    `direction` is the catalogue's: "higher_is_better" or "lower_is_better". The threshold
    must lie on the wrong side of the target (below it when higher is better, above it when
    lower is better, or equal to it when there is no at-risk band); anything else is a
    configuration error and raises ValueError naming what is wrong.
    """
    if direction == "higher_is_better":
        if threshold > target:
            raise ValueError(
                f"threshold {threshold} is above target {target}; where higher is better "
                "the threshold must be at or below the target"
            )
    elif direction == "lower_is_better":
        if threshold < target:
            raise ValueError(
                f"threshold {threshold} is below target {target}; where lower is better "
                "the threshold must be at or above the target"
            )
    else:
        raise ValueError(
            f"direction {direction!r} has no on-track side; expected 'higher_is_better' or 'lower_is_better'"
        )
    if value is None or math.isnan(value):
        return None
    if direction == "higher_is_better":
        if value >= target:
            return "on_track"
        return "at_risk" if value >= threshold else "off_track"
    if value <= target:
        return "on_track"
    return "at_risk" if value <= threshold else "off_track"
