"""The dashboard under many readers at once: N simulated users for S seconds (issue 8).

    python bench/load.py --config /tmp/civic-dash/config.yaml --users 20 --seconds 60
    python bench/load.py --cases 5000 --workdir /tmp/civic-load --users 3 --seconds 10
    python bench/load.py --url http://127.0.0.1:8050 --users 5 --seconds 30   # a server already running

Starts `civic-metrics serve` on a free loopback port (on `--config`'s store, or on one it
builds the way bench/dashboard.py does) and waits until it has read every table of cells;
with `--url` it uses that server as it is (login off, like the one it starts). Then it
reads what the browser reads (`/_dash-layout`, `/_dash-dependencies`, each menu page's
layout once) to learn every page's controls and callbacks, so no user needs Chromium, and
runs the users, each a thread with its own HTTP session, until the time is up. A user's
visit is what a browser sends when a reader opens a page and changes filters:

1. GET the page's address (the HTML), then `/_dash-layout` and `/_dash-dependencies`;
2. the page's layout: the callback of Dash's page router, which builds the page on the
   server with its first figures (the heaviest request of a visit);
3. one to three filter changes, each a control of the page's content callback set to its
   next option (region, period length, population group, channel, service, the page's
   own choices), and the callbacks the browser sends for it, in Dash's order: the filter
   bar's own first where their outputs feed others (a new period length gives the periods
   the content callback then asks for), then the content callback and the link's.

Between steps the user thinks for a random time (`--think`, default 0.5-1 s, seeded).
Not sent: the scripts and style sheets (fingerprinted, which a browser keeps after its
first visit), CSV downloads and the language switch; and where a browser sends two
independent callbacks at once, a user sends them one after the other.

Every request's latency, status and error is kept: an exception, a status other than
200 (or 204, Dash's "nothing to update"), or a 200 that is not Dash's answer (JSON with
the outputs it was asked for) is an error. Prints a table (all requests, each kind,
each page's layout and content callbacks: p50, p95, p99 and max), the throughput and the
errors; `--json PATH` writes the results with every request. Exits 1 when a request failed.

Threads, not processes: a user spends its time waiting for the server, and the client's
own work (building a small JSON body, reading the answer) is a few milliseconds of CPU per
request, printed as "client CPU" so a run shows it; processes would not give the server
more of the machine's cores, which it shares with the client either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import random
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dashboard import (  # noqa: E402
    build_store,
    content_callbacks,
    free_port,
    outputs_of,
    percentile,
    start_server,
    wait_until_warm,
)

# Bounds, so a typo cannot turn the bench into a flood or a run without end.
MAX_USERS = 100
MAX_SECONDS = 600
UPDATE = "/_dash-update-component"
KINDS = ("page", "dash-layout", "render", "content", "filter")
KIND_NAMES = {
    "page": "page HTML (GET)",
    "dash-layout": "Dash layout and dependencies (GET)",
    "render": "page layout (router callback)",
    "content": "content callbacks",
    "filter": "filter bar callbacks",
}
CHANGES_PER_VISIT = (1, 3)
# Not changed by hand: the period range follows the period length (the filter bar's own
# callback sets it to the newest periods), as bench/dashboard.py leaves it to the newest.
FOLLOWERS = ("-filter-from", "-filter-to")


@dataclass
class Page:
    """What a reader's browser knows of one page after its layout arrived."""

    path: str
    props: dict[str, dict[str, Any]]  # component id -> its props, children left out
    callbacks: list[dict[str, Any]]  # the server callbacks whose inputs are on the page
    content: list[dict[str, Any]]  # of those, the ones that redraw the page's content

    def choices(self, props: dict[str, dict[str, Any]]) -> list[str]:
        """The controls a reader can change now (`props`: the page as the user's browser has
        it): inputs of a content callback that are enabled and offer another option."""
        out = []
        for dep in self.content:
            for spec in dep["inputs"]:
                cid = spec["id"]
                if (spec["property"] == "value" and not cid.endswith(FOLLOWERS) and len(options(props, cid)) > 1
                        and not props[cid].get("disabled")):  # fmt: skip
                    out.append(cid)
        return list(dict.fromkeys(out))


@dataclass
class Sample:
    """One request: who sent it, for which page, what kind, when (seconds from the start),
    how long it took and how it ended."""

    user: int
    page: str
    kind: str
    name: str
    start: float
    seconds: float
    status: int | None
    error: str | None = None
    no_update: bool = False
    detail: str = ""  # for a callback: the filter change that set it off ("timely-filter-region=Riverside")


@dataclass
class User:
    index: int
    rng: random.Random
    samples: list[Sample] = field(default_factory=list)
    visits: int = 0
    changes: int = 0
    cursor: dict[str, int] = field(default_factory=dict)  # control id -> the option last picked
    failure: str | None = None  # the bench's own error, which ended this user


# --- what the browser learns once ------------------------------------------------------------


def components(tree: Any) -> Iterator[dict[str, Any]]:
    """Every component of a serialised Dash layout, children and component-valued props too."""
    if isinstance(tree, dict):
        if "props" in tree and "type" in tree:
            yield tree
            for value in tree["props"].values():
                yield from components(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from components(item)


def nav_paths(layout: Any) -> list[str]:
    """The pages of the menu, in its order (the language switch is not a page)."""
    paths = [c["props"]["href"] for c in components(layout) if c["type"] == "NavLink" and c["props"].get("href")]
    return list(dict.fromkeys(p for p in paths if not p.startswith("/lang/")))


def props_by_id(tree: Any) -> dict[str, dict[str, Any]]:
    return {c["props"]["id"]: {k: v for k, v in c["props"].items() if k != "children"}
            for c in components(tree) if isinstance(c["props"].get("id"), str)}  # fmt: skip


def options(props: dict[str, dict[str, Any]], cid: str) -> list[Any]:
    """The values a control offers (dbc.Select and dcc.Dropdown: dicts or plain values)."""
    out = []
    for o in props.get(cid, {}).get("options") or []:
        if isinstance(o, dict):
            if not o.get("disabled"):
                out.append(o.get("value"))
        else:
            out.append(o)
    return out


def prop_ids(specs: list[dict[str, Any]]) -> list[str]:
    return [f"{s['id']}.{s['property']}" for s in specs]


def output_ids(dep: dict[str, Any]) -> list[str]:
    outs = outputs_of(dep["output"])
    return prop_ids(outs if isinstance(outs, list) else [outs])


def callback_body(dep: dict[str, Any], props: dict[str, dict[str, Any]], changed: set[str]) -> dict[str, Any]:
    """The request the browser sends for `dep` with the page's controls as they are now."""

    def filled(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**s, "value": props.get(s["id"], {}).get(s["property"])} for s in specs]

    return {"output": dep["output"], "outputs": outputs_of(dep["output"]), "inputs": filled(dep["inputs"]),
            "changedPropIds": [p for p in prop_ids(dep["inputs"]) if p in changed],
            "state": filled(dep.get("state", []))}  # fmt: skip


def router_body(router: dict[str, Any], path: str) -> dict[str, Any]:
    """The page router's request when the browser opens `path`: its location is all it sends."""
    location = {"_pages_location": {"pathname": path, "search": ""}}
    return callback_body(router, location, set(prop_ids(router["inputs"])))


def discover(base: str, timeout: float) -> tuple[dict[str, Any], list[Page]]:
    """The router callback and every menu page with its controls and server callbacks, read
    once as a browser reads them (this also touches each page once before the timing)."""
    session = requests.Session()
    layout = session.get(f"{base}/_dash-layout", timeout=timeout)
    deps = session.get(f"{base}/_dash-dependencies", timeout=timeout)
    if not (layout.ok and deps.ok):
        raise SystemExit(f"{base} does not answer as a Dash app ({layout.status_code}, {deps.status_code})")
    callbacks = deps.json()
    router = next((d for d in callbacks if "_pages_content.children" in d["output"]), None)
    if router is None:
        raise SystemExit(f"{base} has no page router (a multi-page Dash app was expected)")
    content = {d["output"] for d in content_callbacks(base)}
    server = [d for d in callbacks if not d.get("clientside_function") and d is not router
              and all(isinstance(s["id"], str) for s in d["inputs"] + d.get("state", []))]  # fmt: skip
    pages = []
    for path in nav_paths(layout.json()):
        answer = session.post(base + UPDATE, json=router_body(router, path), timeout=timeout)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: the page's layout answered {answer.status_code}: {answer.text[:300]}")
        props = props_by_id(answer.json()["response"]["_pages_content"]["children"])
        on_page = [d for d in server if any(s["id"] in props for s in d["inputs"])]
        pages.append(Page(path, props, on_page, [d for d in on_page if d["output"] in content]))
    if not pages:
        raise SystemExit(f"{base} offers no page in its menu")
    return router, pages


# --- one request -----------------------------------------------------------------------------


@dataclass
class Run:
    """What every user of a run shares: the server, its pages, the clock and the stop."""

    base: str
    router: dict[str, Any]
    pages: list[Page]
    seconds: float
    think: tuple[float, float]
    timeout: float
    stop: threading.Event = field(default_factory=threading.Event)
    t0: float = field(default_factory=time.perf_counter)

    def over(self) -> bool:
        return self.stop.is_set() or time.perf_counter() - self.t0 >= self.seconds

    def pause(self, rng: random.Random, low: float | None = None) -> bool:
        """Think for a while (no longer than the run has left); True when it ended meanwhile."""
        think = rng.uniform(self.think[0] if low is None else low, self.think[1])
        left = self.seconds - (time.perf_counter() - self.t0)
        return self.stop.wait(max(0.0, min(think, left))) or self.over()


def title_of(text: str) -> str:
    """The gist of an error body: an HTML page's title, or the first characters."""
    found = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
    return (found.group(1) if found else text[:200]).strip()


def send(session: requests.Session, run: Run, user: User, page: str, kind: str, name: str, path: str,
         body: dict[str, Any] | None = None, detail: str = "") -> Any:  # fmt: skip
    """GET `path` (POST `body` to it) and keep the request's Sample; return the answer's JSON
    when it is a good one (None otherwise). The clock stops when the whole body has arrived;
    checking it comes after, so it does not count."""
    started = time.perf_counter()
    try:
        if body is None:
            response = session.get(run.base + path, timeout=run.timeout)
        else:
            response = session.post(run.base + path, json=body, timeout=run.timeout)
    except requests.RequestException as exc:
        user.samples.append(Sample(user.index, page, kind, name, started - run.t0, time.perf_counter() - started,
                                   None, f"{type(exc).__name__}: {exc}", detail=detail))  # fmt: skip
        return None
    seconds = time.perf_counter() - started
    sample = Sample(user.index, page, kind, name, started - run.t0, seconds, response.status_code, detail=detail)
    user.samples.append(sample)
    data = None
    if response.status_code == 204 and body is not None:
        sample.no_update = True  # Dash had nothing to change: not an error, but counted
    elif response.status_code != 200:
        gist = title_of(response.text)  # Werkzeug's own pages are titled "500 Internal Server Error"
        sample.error = gist if gist.startswith(str(response.status_code)) else f"{response.status_code} {gist}"
    elif kind == "page":
        if "text/html" not in response.headers.get("Content-Type", ""):
            sample.error = f"not HTML: {response.headers.get('Content-Type')}"
    else:
        try:
            data = response.json()
        except ValueError:
            sample.error = f"not JSON: {response.text[:120]!r}"
        if body is not None and data is not None:
            sample.error = callback_error(data, body)
    return None if sample.error else data


def callback_error(data: Any, body: dict[str, Any]) -> str | None:
    """What is wrong with a callback's 200 answer: Dash answers {"multi": true, "response":
    {id: {property: value}}} with the outputs it was asked for."""
    if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
        return f"not a Dash callback answer: {json.dumps(data)[:120]}"
    outs = body["outputs"] if isinstance(body["outputs"], list) else [body["outputs"]]
    missing = [f"{o['id']}.{o['property']}" for o in outs if o["property"] not in data["response"].get(o["id"], {})]
    # A multi-output callback may leave some outputs alone (no_update): only none at all is wrong.
    if len(missing) == len(outs):
        return f"the answer has none of its outputs: {', '.join(missing)}"
    return None


# --- a user ----------------------------------------------------------------------------------


def triggered(dep: dict[str, Any], changed: set[str]) -> bool:
    return any(p in changed for p in prop_ids(dep["inputs"]))


def next_option(user: User, cid: str, offered: list[Any], current: Any) -> Any:
    """The control's next option after the one this user last picked (from a random start),
    so a run walks through every region, period length... and not the same few."""
    at = user.cursor.setdefault(cid, user.rng.randrange(len(offered)))
    ring = [offered[(at + k) % len(offered)] for k in range(1, len(offered) + 1)]
    value = next((v for v in ring if v != current), ring[0])
    user.cursor[cid] = offered.index(value)
    return value


def change(session: requests.Session, run: Run, user: User, page: Page, props: dict[str, dict[str, Any]]) -> None:
    """One filter change and the callbacks it sets off, in the order Dash sends them: a
    callback waits while another one pending would change one of its inputs (a new period
    length first gets its periods from the filter bar, then the content is asked for)."""
    choices = page.choices(props)
    if not choices:
        return
    cid = user.rng.choice(choices)
    value = next_option(user, cid, options(props, cid), props[cid].get("value"))
    props[cid] = {**props[cid], "value": value}
    changed, detail = {f"{cid}.value"}, f"{cid}={value}"
    pending = [d for d in page.callbacks if triggered(d, changed)]
    done: list[dict[str, Any]] = []
    while pending:
        blocked = {p for d in pending for p in output_ids(d)}
        ready = [d for d in pending if not any(p in blocked - set(output_ids(d)) for p in prop_ids(d["inputs"]))]
        dep = (ready or pending)[0]
        pending.remove(dep)
        done.append(dep)
        kind = "content" if dep in page.content else "filter"
        data = send(session, run, user, page.path, kind, dep["output"], UPDATE, callback_body(dep, props, changed),
                    detail)  # fmt: skip
        # The answer changes the page as the browser has it; what changed may set off more.
        for oid, new in (data or {}).get("response", {}).items():
            for prop, value in new.items():
                if prop != "children" and props.get(oid, {}).get(prop) != value:
                    props[oid] = {**props.get(oid, {}), prop: value}
                    changed.add(f"{oid}.{prop}")
        pending += [d for d in page.callbacks if d not in pending and d not in done and triggered(d, changed)]
    user.changes += 1


def visit(session: requests.Session, run: Run, user: User, page: Page) -> None:
    """A reader opens `page` and changes its filters one to three times, thinking between."""
    user.visits += 1
    send(session, run, user, page.path, "page", page.path, page.path)
    for path in ("/_dash-layout", "/_dash-dependencies"):
        send(session, run, user, page.path, "dash-layout", path, path)
    send(session, run, user, page.path, "render", page.path, UPDATE, router_body(run.router, page.path))
    props = {cid: dict(p) for cid, p in page.props.items()}
    for _ in range(user.rng.randint(*CHANGES_PER_VISIT)):
        if run.pause(user.rng):
            return
        change(session, run, user, page, props)


def run_user(run: Run, user: User) -> None:
    session = requests.Session()
    try:
        # Readers arrive over the first think time, not all in the same instant.
        if run.pause(user.rng, low=0):
            return
        while not run.over():
            visit(session, run, user, user.rng.choice(run.pages))
            if run.pause(user.rng):
                return
    except Exception as exc:  # a bug in the bench, not the server's: kept, so the run fails and says so
        user.failure = f"user {user.index} failed at {time.perf_counter() - run.t0:.1f} s: {type(exc).__name__}: {exc}"
    finally:
        session.close()


def run_users(run: Run, users: int, seed: int) -> tuple[list[User], float, float, bool]:
    """Run the users until the time is up (or Ctrl-C) and join every one; the users, the
    wall seconds from the first start to the last join, the client's CPU seconds, and
    whether the run was interrupted."""
    crowd = [User(i, random.Random(seed * 1000 + i)) for i in range(users)]
    threads = [threading.Thread(target=run_user, args=(run, u), name=f"user-{u.index}", daemon=True) for u in crowd]
    run.t0, cpu0 = time.perf_counter(), time.process_time()
    interrupted = False
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.5)  # in steps, so Ctrl-C reaches the main thread
    except KeyboardInterrupt:
        # What was measured so far is still reported; the caller stops the server.
        print("interrupted: stopping the users", file=sys.stderr, flush=True)
        interrupted = True
    finally:
        run.stop.set()
        # A user ends within its request timeout; no thread is left behind.
        for t in threads:
            if t.ident is not None:
                t.join(run.timeout + 5)
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            print(f"users still running after their timeout: {stuck}", file=sys.stderr)
    return crowd, time.perf_counter() - run.t0, time.process_time() - cpu0, interrupted


# --- the report ------------------------------------------------------------------------------


def stats(label: str, samples: list[Sample]) -> dict[str, Any]:
    ms = [s.seconds * 1000 for s in samples if s.status is not None]
    row: dict[str, Any] = {"what": label, "requests": len(samples), "errors": sum(s.error is not None for s in samples)}
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        row[f"{name}_ms"] = round(percentile(ms, q), 1) if ms else None
    row["max_ms"] = round(max(ms), 1) if ms else None
    return row


def report_rows(samples: list[Sample], pages: list[Page]) -> list[dict[str, Any]]:
    rows = [stats("all requests", samples)]
    rows += [stats(KIND_NAMES[k], [s for s in samples if s.kind == k]) for k in KINDS]
    for page in pages:
        for kind in ("render", "content"):
            mine = [s for s in samples if s.page == page.path and s.kind == kind]
            if mine:
                rows.append(stats(f"`{page.path}` {'layout' if kind == 'render' else 'content'}", mine))
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    def ms(v: float | None) -> str:
        return "" if v is None else f"{v:,.0f} ms"

    lines = ["| requests | n | errors | p50 | p95 | p99 | max |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['what']} | {r['requests']:,} | {r['errors']} | {ms(r['p50_ms'])} | {ms(r['p95_ms'])} | "
              f"{ms(r['p99_ms'])} | {ms(r['max_ms'])} |" for r in rows]  # fmt: skip
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count(), "python": platform.python_version()}
    for path, key, prefix in (("/proc/cpuinfo", "cpu", "model name"), ("/proc/meminfo", "ram_gb", "MemTotal:")):
        lines = Path(path).read_text().splitlines() if Path(path).exists() else []
        line = next((x for x in lines if x.startswith(prefix)), None)
        if line and key == "cpu":
            info[key] = line.split(":", 1)[1].strip()
        elif line:
            info[key] = round(int(line.split()[1]) / 1024**2, 1)
    return info


def summary(crowd: list[User], pages: list[Page], elapsed: float, cpu: float) -> dict[str, Any]:
    samples = sorted(itertools.chain.from_iterable(u.samples for u in crowd), key=lambda s: s.start)
    errors = [s for s in samples if s.error is not None]
    failures = [u.failure for u in crowd if u.failure]
    return {
        "requests": len(samples),
        "seconds": round(elapsed, 2),
        "throughput_per_s": round(len(samples) / elapsed, 1) if elapsed else None,
        "visits": sum(u.visits for u in crowd),
        "filter_changes": sum(u.changes for u in crowd),
        "errors": len(errors) + len(failures),
        "first_errors": failures[:5]
        + [f"{s.kind} {s.name} (user {s.user}, at {s.start:.1f} s): {s.error}" for s in errors[:10]],
        "no_update": sum(s.no_update for s in samples),
        "client_cpu_s": round(cpu, 2),
        "rows": report_rows(samples, pages),
        "samples": [asdict(s) for s in samples],
    }


def print_report(result: dict[str, Any], users: int, p95_target_ms: float) -> None:
    print()
    print(table(result["rows"]))
    print()
    print(f"{users} users, {result['seconds']:.1f} s: {result['requests']:,} requests "
          f"({result['throughput_per_s']} per s), {result['visits']:,} page visits, "
          f"{result['filter_changes']:,} filter changes, {result['no_update']} answered 'no update'")  # fmt: skip
    print(f"errors: {result['errors']}")
    for line in result["first_errors"]:
        print("  " + line)
    cores = result["client_cpu_s"] / result["seconds"] if result["seconds"] else 0
    print(f"client CPU: {result['client_cpu_s']:.1f} s ({cores:.2f} of a core)")
    p95 = result["rows"][0]["p95_ms"]
    met = result["errors"] == 0 and p95 is not None and p95 < p95_target_ms
    print(f"target (no errors, p95 < {p95_target_ms:.0f} ms): {'met' if met else 'not met'} (p95 {p95} ms)")
    m = result["machine"]
    print(f"machine: {m['cores']} cores, {m.get('cpu', '?')}, {m.get('ram_gb', '?')} GB; python {m['python']}; "
          f"load average at the start {result['load_average_at_start']}")  # fmt: skip


# --- the command -----------------------------------------------------------------------------


def bounded(low: float, high: float, kind: type = int) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--config", type=Path, help="config.yaml of a refreshed store (auth.required false)")
    where.add_argument("--url", help="a dashboard already running (login off), e.g. http://127.0.0.1:8050")
    ap.add_argument("--cases", type=int, default=1_000_000, help="demo cases, when building a store")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/civic-dash"), help="where to build it")
    ap.add_argument("--users", type=bounded(1, MAX_USERS), default=20, help=f"simulated users (at most {MAX_USERS})")
    ap.add_argument("--seconds", type=bounded(1, MAX_SECONDS, float), default=60.0,
                    help=f"how long the users run (at most {MAX_SECONDS})")  # fmt: skip
    ap.add_argument("--think", type=bounded(0, 30, float), nargs=2, default=(0.5, 1.0), metavar=("MIN", "MAX"),
                    help="a user's pause between steps, seconds (uniform)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=8, help="seed of the users' choices and pauses")
    ap.add_argument("--timeout", type=bounded(1, 120, float), default=30.0, help="seconds a request may take")
    ap.add_argument("--p95-target", type=float, default=500.0, help="the p95 (ms) the run is judged against")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    if args.think[0] > args.think[1]:
        ap.error("--think MIN MAX: MIN is more than MAX")
    return args


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def main(argv: list[str] | None = None) -> int:
    # The demo export maps citizen ids, which are stored only as keyed pseudonyms (build_store).
    os.environ.setdefault("CIVIC_METRICS_PSEUDONYM_KEY", secrets.token_hex(32))
    args = parse(argv)
    result: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine(),
                              "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "users": args.users,
                              "seconds_asked": args.seconds, "think": list(args.think), "seed": args.seed}  # fmt: skip
    server = None
    try:
        if args.url:
            base = args.url.rstrip("/")
            print(f"using {base} as it is (it is taken to have read its tables already)", flush=True)
        else:
            config = args.config or build_store(args.workdir, args.cases)
            base = f"http://127.0.0.1:{free_port()}"
            started = time.perf_counter()
            server = start_server(config, int(base.rsplit(":", 1)[1]))
            result["server"] = {"pid": server.pid, "config": str(config)}
            print(f"server (pid {server.pid}) up in {time.perf_counter() - started:.1f} s on {base}", flush=True)
            warm = wait_until_warm(server)
            result["server"]["warm"] = warm
            print(warm, f"(ready {time.perf_counter() - started:.1f} s after start)", flush=True)
        result["url"] = base
        router, pages = discover(base, args.timeout)
        print(f"{len(pages)} pages, {sum(len(p.content) for p in pages)} content callbacks; running {args.users} "
              f"users for {args.seconds:g} s", flush=True)  # fmt: skip
        run = Run(base, router, pages, args.seconds, tuple(args.think), args.timeout)
        crowd, elapsed, cpu, interrupted = run_users(run, args.users, args.seed)
    finally:
        if server is not None:
            stop_server(server)
            print(f"server stopped (exit {server.returncode})", flush=True)
    result.update(summary(crowd, pages, elapsed, cpu), interrupted=interrupted)
    print_report(result, args.users, args.p95_target)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if interrupted:
        print("interrupted: the figures cover the run until then")
        return 130
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
