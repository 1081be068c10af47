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

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from etl.demo_data import write_demo_data  # noqa: E402

FMT = "%d/%m/%Y %H:%M"


def split_last_day(cases_csv: Path, history: Path, delta: Path) -> tuple[int, int, int]:
    """Write the history as known at the start of the last day, and that day's changes."""
    df = pd.read_csv(cases_csv, dtype=str, keep_default_na=False)
    # The demo has a few deliberately unreadable dates (they go to quarantine): coerce them.
    opened = pd.to_datetime(df["Logged"], format=FMT, errors="coerce")
    closed = pd.to_datetime(df["Closed On"].where(df["Closed On"] != ""), format=FMT, errors="coerce")
    # The last working day (the demo's history may end on a weekend, when nothing closes):
    # its export has the cases opened since and the older cases that changed.
    day = closed.max().normalize()
    new = opened >= day
    before = df[~new].copy()
    changed = pd.Series(False, index=before.index)
    for col in ("First Reply", "Closed On"):
        when = pd.to_datetime(before[col].where(before[col] != ""), format=FMT, errors="coerce")
        later = when >= day
        changed |= later
        before.loc[later, col] = ""
    # A case closed on the day was open the evening before.
    before.loc[changed & (before["Closed On"] == ""), ["Status", "Result"]] = ["OPEN", ""]
    before.to_csv(history, index=False, lineterminator="\n")
    day_rows = pd.concat([df[~new][changed.to_numpy()], df[new]])
    day_rows.to_csv(delta, index=False, lineterminator="\n")
    return len(before), int(new.sum()), int(changed.sum())


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS of the step's own process in MB, and its output. Each step
    runs in a fresh child whose peak is read by a wrapper, since RUSAGE_CHILDREN would give
    the largest of all the steps so far."""
    wrapper = (
        "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(p.returncode)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak_kb = int(out.stderr.strip().splitlines()[-1])
    return seconds, peak_kb / 1024, out.stdout + "\n".join(out.stderr.strip().splitlines()[:-1])


def _refresh_line(out: str) -> str:
    """The refresh's own summary: full or incremental, periods, cells, cases."""
    line = next((x for x in out.splitlines() if x.startswith("refresh ")), "")
    return line.split(": ", 1)[0].removeprefix("refresh ").split(" ", 1)[-1] + ": " + line.split(": ", 1)[-1]


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
        rows.append(("full refresh", s, mb, _refresh_line(out)))
    # The day's file goes to the same source (same case keys): a new file, loaded once.
    srcs["cases"]["path"] = str(work / "day" / "cases.csv")
    config.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    s, mb, out = timed([*cli, "etl", "run", "--job", "cases"])
    summary = next(line for line in out.splitlines() if " read " in line and "loaded" in line)
    rows.append(("one-day delta load", s, mb, f"{opened:,} new + {changed:,} changed rows: {summary}"))
    if args.refresh:
        s, mb, out = timed([*cli, "metrics", "refresh"])
        rows.append(("refresh after the delta", s, mb, _refresh_line(out)))
        # The same figures recomputed from every case, for comparison.
        s, mb, out = timed([*cli, "metrics", "refresh", "--full"])
        rows.append(("full refresh, same store", s, mb, _refresh_line(out)))
    print(f"\n{'step':<26} {'seconds':>8} {'peak MB':>8}  notes")
    for name, s, mb, note in rows:
        print(f"{name:<26} {s:>8.1f} {'' if mb is None else f'{mb:>8.0f}'}  {note}")


if __name__ == "__main__":
    main()
