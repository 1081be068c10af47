"""The briefing's charts as static PNG images: Plotly figures drawn by Kaleido in Chromium.

The figures are the dashboard's own (`content.trend_charts` calls `dashboard.figures`), so a
chart in the briefing is the chart on the overview; here they are only sized for paper and
drawn, all in one Chromium session (Kaleido starts the system Chromium: Debian `chromium`,
`make browser`). Chinese labels need a CJK font in the system (Debian `fonts-noto-cjk`,
`make fonts`).
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WIDTH, HEIGHT, SCALE = 760, 300, 2
FONT = "Noto Sans CJK SC, Noto Sans, DejaVu Sans, sans-serif"


class ChartError(RuntimeError):
    """Chromium could not draw the charts (not installed, or it failed to start)."""


def for_paper(figure: Any) -> dict[str, Any]:
    """A figure as a plain dict, laid out for a printed page: white, no hover, a CJK font."""
    fig = figure.to_dict() if hasattr(figure, "to_dict") else dict(figure)
    layout = dict(fig.get("layout") or {})
    layout.update(
        width=WIDTH,
        height=HEIGHT,
        paper_bgcolor="white",
        plot_bgcolor="white",
        font={**(layout.get("font") or {}), "family": FONT, "size": 12},
        margin={"l": 60, "r": 20, "t": 20, "b": 50},
    )
    layout.pop("template", None)
    return {"data": list(fig.get("data") or []), "layout": layout}


def draw(figures: Sequence[Any]) -> list[bytes]:
    """PNG images of `figures`, in order, drawn in one Chromium session."""
    if not figures:
        return []
    import plotly.io as pio

    with tempfile.TemporaryDirectory(prefix="civic-briefing-") as tmp:
        paths = [Path(tmp) / f"chart-{i}.png" for i in range(len(figures))]
        try:
            pio.write_images([for_paper(f) for f in figures], paths, format="png", width=WIDTH, height=HEIGHT,
                             scale=SCALE)  # fmt: skip
        except Exception as exc:  # Kaleido raises several kinds: name the fix either way
            raise ChartError(
                f"could not draw the briefing's charts with Chromium ({type(exc).__name__}: {exc}); "
                "install it with `make browser` (Debian package chromium)"
            ) from exc
        return [p.read_bytes() for p in paths]


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
