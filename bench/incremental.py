"""How long a day's delta takes to load into a large store, beside a full load.

Generates N demo cases over three years, then splits off the last working day as it would arrive
the next morning: the cases opened that day, and the rows of older cases that changed that
day (closed, first answered). The store is loaded with everything before, then the day's
delta is loaded and the indicators refreshed (incrementally: only the periods the day
touched), each step timed as its own process (the CLI, as the worker would run it), with
its peak memory; a full refresh of the same store is timed last for comparison.

    python bench/incremental.py --cases 1000000 --workdir /tmp/civic-bench

Prints a table of the steps; `docs/performance.md` keeps the figures.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import refresh_summary, split_last_day, timed  # noqa: E402
from etl.demo_data import write_demo_data  # noqa: E402


def main() -> None:
    # The demo export maps citizen ids, which are stored only as keyed pseudonyms: every load
    # of one bench run (history and delta) must use the same key, so it is set once here.
    os.environ.setdefault("CIVIC_METRICS_PSEUDONYM_KEY", secrets.token_hex(32))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000, help="cases in the whole history")
    ap.add_argument("--workdir", type=Path, required=True, help="an empty folder for the files and the store")
    ap.add_argument("--refresh", action="store_true", help="also time a refresh after each load")
    args = ap.parse_args()
    work = args.workdir
    (work / "history").mkdir(parents=True, exist_ok=True)
    (work / "day").mkdir(exist_ok=True)
    started = time.perf_counter()
    paths = write_demo_data(work / "demo", cases=args.cases)
    generated = time.perf_counter() - started
    kept, opened, changed = split_last_day(paths["cases"], work / "history" / "cases.csv", work / "day" / "cases.csv")
    settings = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    settings["store"]["url"] = f"sqlite:///{work / 'store.db'}"
    srcs = settings["etl"]["sources"]
    for src in srcs.values():
        src["path"] = str(work / "demo" / Path(src["path"]).name)
    srcs["cases"]["path"] = str(work / "history" / "cases.csv")
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    cli = [sys.executable, "-m", "metrics.cli", "--config", str(config)]
    subprocess.run([*cli, "init"], check=True, capture_output=True)
    rows = [("generate demo files", generated, None, f"{args.cases:,} cases")]
    s, mb, _ = timed([*cli, "etl", "run", "--job", "population", "--job", "eligible", "--job", "cases"])
    rows.append(("full load (history)", s, mb, f"{kept:,} case rows"))
    if args.refresh:
        s, mb, out = timed([*cli, "metrics", "refresh"])
        rows.append(("full refresh", s, mb, refresh_summary(out)))
    # The day's file goes to the same source (same case keys): a new file, loaded once.
    srcs["cases"]["path"] = str(work / "day" / "cases.csv")
    config.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    s, mb, out = timed([*cli, "etl", "run", "--job", "cases"])
    summary = next(line for line in out.splitlines() if " read " in line and "loaded" in line)
    rows.append(("one-day delta load", s, mb, f"{opened:,} new + {changed:,} changed rows: {summary}"))
    if args.refresh:
        s, mb, out = timed([*cli, "metrics", "refresh"])
        rows.append(("refresh after the delta", s, mb, refresh_summary(out)))
        # The same figures recomputed from every case, for comparison.
        s, mb, out = timed([*cli, "metrics", "refresh", "--full"])
        rows.append(("full refresh, same store", s, mb, refresh_summary(out)))
    print(f"\n{'step':<26} {'seconds':>8} {'peak MB':>8}  notes")
    for name, s, mb, note in rows:
        print(f"{name:<26} {s:>8.1f} {'' if mb is None else f'{mb:>8.0f}'}  {note}")


if __name__ == "__main__":
    main()
