"""How fast the dashboard answers: every page's first full render and its callbacks.

    python bench/dashboard.py --config var/config.yaml            # a store already refreshed
    python bench/dashboard.py --cases 1000000 --workdir /tmp/civic-dash   # build one first

Starts `civic-metrics serve` on the store as a user would. `serve` reads every table of
cells into its cache in the background; the overview is timed once while it does, then the
bench waits for `serve` to say it is done (and prints how long that took), and

1. opens every page in headless Chromium and times the first full render: from navigation
   until the page's heading is there, no Dash component is loading and the number of drawn
   charts has stopped changing; as a page load (the browser parses Dash's and Plotly's
   scripts again), on the first visit and once more, and from a click on the menu (Dash
   routes in the browser, as a reader moving between pages does);
2. for every page's callbacks that redraw its content, sends the requests the browser sends
   when a filter changes (straight to Dash's callback endpoint, one at a time), cycling the
   region filter through every region and the period length through every grain, and
   reports p50 and p95 latency.

A store it builds has `auth.required: false` (the bench is its only reader, on 127.0.0.1);
with `--config`, give it a config with login off the same way.

Prints a table; `docs/performance.md` keeps the figures and the machine they came from.
"""

from __future__ import annotations

import argparse
import itertools
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLI = str(Path(sys.executable).with_name("civic-metrics"))


def build_store(workdir: Path, cases: int) -> Path:
    """A refreshed store of `cases` demo cases under `workdir` (reused when already there)."""
    config = workdir / "config.yaml"
    if (workdir / "ready").exists():
        return config
    workdir.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    raw["store"]["url"] = f"sqlite:///{workdir / 'store.db'}"
    # The bench is its own reader on the loopback interface (serve allows no other with login
    # off); the figures it times are the pages and callbacks, not the login.
    raw.setdefault("auth", {})["required"] = False
    for source in raw["etl"]["sources"].values():
        if "path" in source:
            source["path"] = str(workdir / "demo" / Path(source["path"]).name)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    steps = [["demo-data", "--out", str(workdir / "demo"), "--cases", str(cases)], ["init"], ["etl", "run"],
             ["metrics", "refresh"]]  # fmt: skip
    for step in steps:
        print("·", " ".join(step), flush=True)
        subprocess.run([CLI, "--config", str(config), *step], check=True)
    (workdir / "ready").touch()
    return config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(config: Path, port: int) -> subprocess.Popen:
    # stderr carries the line that says the cell tables are all read (`wait_until_warm`).
    server = subprocess.Popen([CLI, "--config", str(config), "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=30).ok:
                return server
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the dashboard did not start within 120 s")


def wait_until_warm(server: subprocess.Popen, timeout: float = 600) -> str:
    """Block until `serve` says it has read every table of cells; return that line."""
    assert server.stderr is not None
    deadline = time.time() + timeout
    for line in server.stderr:
        if "tables of cells read" in line:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()  # type: ignore[union-attr]
            return line.strip()
        if time.time() > deadline:
            break
    raise SystemExit("the dashboard did not finish reading its tables")


def browser():  # type: ignore[no-untyped-def]
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(options=options)


RENDERED = """
const busy = document.querySelector('[data-dash-is-loading="true"]');
return {h1: !!document.querySelector('#main h1'), busy: !!busy,
        charts: document.querySelectorAll('#main .js-plotly-plot .main-svg').length};
"""


def settled(driver, started: float, what: str, timeout: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds from `started` until the page settled: heading shown, nothing loading, and the
    number of drawn charts unchanged for 0.3 s (the time of the last change is returned)."""
    last, stable_since = None, None
    while time.perf_counter() - started < timeout:
        state = driver.execute_script(RENDERED)
        now = time.perf_counter()
        if state["h1"] and not state["busy"]:
            if state["charts"] == last:
                if stable_since is not None and now - stable_since >= 0.3:
                    return stable_since - started
            else:
                last, stable_since = state["charts"], now
        time.sleep(0.02)
    raise TimeoutError(f"{what} did not settle within {timeout} s")


def render_seconds(driver, url: str, timeout: float = 60) -> float:  # type: ignore[no-untyped-def]
    """From navigation to a settled page: heading shown, nothing loading, charts all drawn."""
    driver.get("about:blank")
    started = time.perf_counter()
    driver.get(url)
    return settled(driver, started, url, timeout)


def menu_seconds(driver, base: str, path: str, start: str, timeout: float = 60) -> float:  # type: ignore[no-untyped-def]
    """From a click on the menu link to a settled page, as a reader moves between pages (Dash
    routes in the browser: no page load, the scripts are already parsed); from `start`."""
    render_seconds(driver, base + start)
    before = driver.execute_script("return document.querySelector('#main h1').textContent;")
    link = driver.execute_script("return document.querySelector(`header nav a.nav-link[href='${arguments[0]}']`);",
                                 path)  # fmt: skip
    started = time.perf_counter()
    link.click()
    while driver.execute_script("const h = document.querySelector('#main h1'); return h && h.textContent;") in (
            before, None):  # fmt: skip
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{path} did not open from the menu")
        time.sleep(0.01)
    return settled(driver, started, path, timeout)


def content_callbacks(base: str) -> list[dict]:
    deps = requests.get(f"{base}/_dash-dependencies", timeout=30).json()
    return [d for d in deps if d["output"].endswith("-content.children") and not d.get("clientside_function")]


def outputs_of(output: str) -> dict | list:
    if output.startswith(".."):
        parts = output[2:-2].split("...")
        return [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]
    return dict(zip(("id", "property"), output.rsplit(".", 1), strict=True))


def control_values(driver, ids: list[str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The current value of each control on the open page (None where it has none)."""
    script = "return arguments[0].map(id => {const e = document.getElementById(id); return e ? e.value : null;});"
    return dict(zip(ids, driver.execute_script(script, ids), strict=True))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> None:
    # The demo export maps citizen ids, which are stored only as keyed pseudonyms: every load
    # of one bench run (history and delta) must use the same key, so it is set once here.
    os.environ.setdefault("CIVIC_METRICS_PSEUDONYM_KEY", secrets.token_hex(32))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="config.yaml of a refreshed store")
    parser.add_argument("--cases", type=int, default=1_000_000, help="demo cases, when building a store")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/civic-dash"), help="where to build it")
    parser.add_argument("--requests", type=int, default=40, help="callback requests per page")
    args = parser.parse_args()
    config = args.config or build_store(args.workdir, args.cases)

    from metrics.config import load_settings

    settings = load_settings(config)
    regions = [r.id for r in settings.regions]
    grains = [g for g in ("month", "quarter", "week", "year") if g in settings.metrics.grains]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = start_server(config, port)
    print(f"server up in {time.perf_counter() - started:.1f} s on {base}", flush=True)
    driver = browser()
    rows = []
    try:
        # A reader who arrives while the server is still reading its tables.
        during = render_seconds(driver, base + "/")
        print(f"/ while the tables are read: {during:.2f} s", flush=True)
        print(wait_until_warm(server), f"(ready {time.perf_counter() - started:.1f} s after start)", flush=True)
        driver.get(base + "/")
        time.sleep(1)
        paths = driver.execute_script(
            "return Array.from(document.querySelectorAll('header nav a.nav-link')).map(a => a.getAttribute('href'));"
        )
        paths = [p for p in paths if not p.startswith("/lang/")]
        callbacks = content_callbacks(base)
        for path in paths:
            cold = render_seconds(driver, base + path)
            warm = render_seconds(driver, base + path)
            # From another light page of the menu (the first one that is not this).
            start = next(p for p in reversed(paths) if p != path)
            menu = menu_seconds(driver, base, path, start)
            page_callbacks = []
            for dep in callbacks:
                ids = [i["id"] for i in dep["inputs"] + dep.get("state", [])]
                if driver.execute_script("return document.getElementById(arguments[0]) !== null;", ids[0]):
                    page_callbacks.append((dep, control_values(driver, ids)))
            latencies: list[float] = []
            session = requests.Session()
            views = itertools.cycle(itertools.product(grains, [None, *regions]))
            for dep, values in page_callbacks:
                for _ in range(args.requests):
                    grain, region = next(views)
                    inputs = []
                    for spec in dep["inputs"]:
                        value = values[spec["id"]]
                        if spec["id"].endswith("-filter-region"):
                            value = region or "All"
                        elif spec["id"].endswith("-filter-grain"):
                            value = grain
                        elif spec["id"].endswith(("-filter-from", "-filter-to")):
                            value = None  # the newest periods of the grain
                        inputs.append({**spec, "value": value})
                    states = [{**spec, "value": values[spec["id"]]} for spec in dep.get("state", [])]
                    body = {"output": dep["output"], "outputs": outputs_of(dep["output"]), "inputs": inputs,
                            "changedPropIds": [f"{inputs[3]['id']}.value"], "state": states}  # fmt: skip
                    t0 = time.perf_counter()
                    response = session.post(f"{base}/_dash-update-component", json=body, timeout=60)
                    latencies.append(time.perf_counter() - t0)
                    if response.status_code not in (200, 204):
                        raise SystemExit(f"{path}: callback answered {response.status_code}: {response.text[:300]}")
            p50 = percentile(latencies, 0.5) * 1000 if latencies else float("nan")
            p95 = percentile(latencies, 0.95) * 1000 if latencies else float("nan")
            rows.append((path, cold, warm, menu, len(latencies), p50, p95))
            print(f"{path:<18} first render {cold:5.2f} s (again {warm:5.2f} s, from the menu {menu:5.2f} s); "
                  f"{len(latencies)} callbacks p50 {p50:6.1f} ms, p95 {p95:6.1f} ms", flush=True)  # fmt: skip
    finally:
        driver.quit()
        server.terminate()
        server.wait(10)
    print()
    print("| page | page load (first) | again | from the menu | callbacks | p50 | p95 |")
    print("|---|---|---|---|---|---|---|")
    for path, cold, warm, menu, n, p50, p95 in rows:
        print(f"| `{path}` | {cold:.2f} s | {warm:.2f} s | {menu:.2f} s | {n} | {p50:.0f} ms | {p95:.0f} ms |")
    print(f"\nmachine: {os.cpu_count()} cores; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
