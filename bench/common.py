"""Helpers the benchmarks share: the demo history split into a day's delta, a config for a
bench folder, and each step timed as its own process with its peak memory."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
FMT = "%d/%m/%Y %H:%M"


class StepFailed(subprocess.CalledProcessError):
    """A timed step that exited non-zero; its message carries the step's own stderr, so a
    failing benchmark says why instead of only which command."""

    def __str__(self) -> str:
        return f"{super().__str__()}\n--- its stderr ---\n{(self.stderr or '').strip()}"


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
    the largest of all the steps so far. A step that fails raises StepFailed with its stderr."""
    wrapper = (
        "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(p.returncode)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    err_lines = out.stderr.strip().splitlines()
    if out.returncode != 0:
        # The wrapper's own last line is the peak, not the step's message.
        raise StepFailed(out.returncode, cmd, out.stdout, "\n".join(err_lines[:-1]))
    peak_kb = int(err_lines[-1])
    return seconds, peak_kb / 1024, out.stdout + "\n".join(err_lines[:-1])


def run_checked(cmd: list[str]) -> str:
    """Run an untimed step (e.g. `init`); its output, or StepFailed with its stderr."""
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise StepFailed(out.returncode, cmd, out.stdout, out.stderr)
    return out.stdout


def refresh_summary(out: str) -> str:
    """The refresh's own summary: full or incremental, periods, cells, cases."""
    line = next((x for x in out.splitlines() if x.startswith("refresh ")), "")
    return line.split(": ", 1)[0].removeprefix("refresh ").split(" ", 1)[-1] + ": " + line.split(": ", 1)[-1]


def bench_settings(work: Path, store_url: str, cases_csv: Path) -> dict[str, Any]:
    """The repository's config.yaml with its store and demo files moved into `work`, and the
    cases source read from `cases_csv` (the history, or later the day's file)."""
    settings = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    settings["store"]["url"] = store_url
    srcs = settings["etl"]["sources"]
    for src in srcs.values():
        src["path"] = str(work / "demo" / Path(src["path"]).name)
    srcs["cases"]["path"] = str(cases_csv)
    return settings


def write_settings(path: Path, settings: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
