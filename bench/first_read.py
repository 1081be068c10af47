"""What the first dashboard read after a refresh costs, and what the start-up warm-up saves.

    python bench/first_read.py var/config.yaml   # any config whose store has been refreshed

The first read of a family of indicators works out its small-number suppression over all
its tables (then cached until the store changes); `civic-metrics serve` does that for the
headline indicators in a background thread at start (metrics.query.warm).
"""

from __future__ import annotations

import sys
import time

from metrics.config import load_settings
from metrics.query import _decision, read_cells, warm
from metrics.store.db import engine_for


def seconds(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    settings = load_settings(sys.argv[1] if len(sys.argv) > 1 else None)
    engine, headline = engine_for(settings), settings.dashboard.headline
    metric, limit = headline[0], settings.privacy.min_cell_size

    def read() -> None:
        read_cells(engine, metric, by=("region",), min_cell_size=limit)

    cold, again = seconds(read), seconds(read)
    _decision.cache_clear()
    warming = seconds(lambda: warm(engine, headline, limit))
    after = seconds(read)
    print(f"{metric}: first read {cold:.2f} s, second {again * 1000:.0f} ms; warm-up of {len(headline)} headline "
          f"indicators {warming:.2f} s, first read after it {after * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
