"""bench/load.py for real at a small size: simulated users against `civic-metrics serve`.

The bench builds its own store (2,000 demo cases, through the CLI as bench/dashboard.py
does), starts the server, runs three users for five seconds and stops it; the tests read
what it printed and wrote. A second run is pointed at a server the test started and stops
halfway, so the bench must count the requests that then fail; and a callback the server
does not have must come back as an error, not as a good answer.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.dashboard import free_port, start_server
from bench.load import UPDATE, Run, User, send
from tests.support import REPO

CASES = 2000
USERS = 3
SECONDS = 5.0
LOAD = [sys.executable, str(REPO / "bench" / "load.py")]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any]]:
    work = tmp_path_factory.mktemp("load")
    out = subprocess.run(
        [*LOAD, "--cases", str(CASES), "--workdir", str(work), "--users", str(USERS), "--seconds", str(SECONDS),
         "--think", "0.2", "0.5", "--json", str(work / "load.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, f"bench/load.py failed:\n{out.stdout}\n{out.stderr}"
    return work, out.stdout, json.loads((work / "load.json").read_text(encoding="utf-8"))


def test_every_kind_of_request_was_sent_and_answered(bench: tuple[Path, str, dict[str, Any]]) -> None:
    _, _, result = bench
    kinds = Counter(s["kind"] for s in result["samples"])
    # A visit: the page's HTML, Dash's layout and dependencies, the page's layout; then filter changes.
    assert kinds["page"] > 0 and kinds["render"] == kinds["page"] and kinds["dash-layout"] == 2 * kinds["page"]
    assert kinds["content"] > 0 and kinds["filter"] > 0, kinds
    assert result["requests"] == len(result["samples"]) == sum(kinds.values())
    assert result["visits"] == kinds["page"] and result["filter_changes"] > 0
    assert {s["user"] for s in result["samples"]} == set(range(USERS))
    assert result["errors"] == 0 and result["first_errors"] == []
    assert {s["status"] for s in result["samples"]} <= {200, 204}
    assert all(s["seconds"] > 0 for s in result["samples"])


def test_the_users_vary_pages_and_filters(bench: tuple[Path, str, dict[str, Any]]) -> None:
    samples = bench[2]["samples"]
    assert len({s["page"] for s in samples}) >= 3
    changes = {s["detail"] for s in samples if s["kind"] == "content"}
    assert len(changes) >= 3, changes
    assert all("=" in c and ("-filter-" in c or "-control-" in c) for c in changes), changes


def test_a_new_period_length_asks_for_its_periods_first(bench: tuple[Path, str, dict[str, Any]]) -> None:
    """As in the browser: the content callback of a new grain waits for the filter bar's answer
    (the periods of that grain), and sends the periods it got."""
    samples = bench[2]["samples"]
    grain_changes = [(s["user"], s["detail"]) for s in samples
                     if s["kind"] == "content" and "-filter-grain=" in s["detail"]]  # fmt: skip
    if not grain_changes:
        pytest.skip("no user changed the period length in this short run")
    for user, detail in grain_changes:
        mine = [s for s in samples if s["user"] == user and s["detail"] == detail]
        kinds = [(s["kind"], s["name"].split("...")[0]) for s in mine]
        first_content = next(i for i, k in enumerate(kinds) if k[0] == "content")
        assert any(k[0] == "filter" and k[1].endswith("-filter-from.options") for k in kinds[:first_content]), kinds


def test_the_report_has_every_kind_and_the_verdict(bench: tuple[Path, str, dict[str, Any]]) -> None:
    _, stdout, result = bench
    rows = {r["what"]: r for r in result["rows"]}
    for what in ("all requests", "page HTML (GET)", "page layout (router callback)", "content callbacks"):
        assert rows[what]["requests"] > 0 and rows[what]["errors"] == 0, rows[what]
        assert 0 < rows[what]["p50_ms"] <= rows[what]["p95_ms"] <= rows[what]["p99_ms"] <= rows[what]["max_ms"]
        assert f"| {what} | " in stdout
    assert any(w.startswith("`/") and w.endswith(" content") for w in rows), list(rows)
    assert rows["all requests"]["requests"] == result["requests"]
    assert "errors: 0" in stdout and "target (no errors, p95 < 500 ms): " in stdout
    # Bounded in time: no visit began after the end (a filter change under way sends its last
    # callbacks), and the run ended soon after it.
    assert max(s["start"] for s in result["samples"] if s["kind"] == "page") < SECONDS
    assert max(s["start"] for s in result["samples"]) < SECONDS + 2
    assert SECONDS <= result["seconds"] < SECONDS + 10
    assert result["throughput_per_s"] == pytest.approx(result["requests"] / result["seconds"], rel=0.01)


def test_the_server_it_started_has_ended(bench: tuple[Path, str, dict[str, Any]]) -> None:
    _, stdout, result = bench
    pid = result["server"]["pid"]
    assert f"server (pid {pid}) up" in stdout and "server stopped" in stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(requests.ConnectionError):
        requests.get(result["url"] + "/_dash-layout", timeout=5)


def test_too_many_users_or_seconds_are_refused() -> None:
    for args in (["--users", "101"], ["--seconds", "601"], ["--users", "0"]):
        out = subprocess.run([*LOAD, "--url", "http://127.0.0.1:9", *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "must be between" in out.stderr, (args, out.stderr)


def test_the_server_is_stopped_when_the_bench_is_interrupted(bench: tuple[Path, str, dict[str, Any]]) -> None:
    """Ctrl-C while the server reads its tables: the bench stops the server it started."""
    cmd = [*LOAD, "--config", str(bench[0] / "config.yaml"), "--users", "1", "--seconds", "5"]
    # With SIGINT's default action restored: a test run started in the background (a shell's
    # `&`, as CI may start it) ignores SIGINT, and Python keeps an inherited ignore, so a
    # Ctrl-C would never reach the bench. A terminal's Ctrl-C is what is simulated here.
    load = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert load.stdout is not None
    pid = None
    for line in load.stdout:
        if found := re.match(r"server \(pid (\d+)\) up", line):
            pid = int(found.group(1))
            break
    assert pid is not None
    load.send_signal(signal.SIGINT)
    stdout, stderr = load.communicate(timeout=60)
    # Ctrl-C lands while the server reads its tables (a KeyboardInterrupt through main) or,
    # when the server was quicker, once the users run (they stop and what they measured is
    # reported): either way the bench fails and stops its server.
    assert load.returncode != 0, stdout
    assert "KeyboardInterrupt" in stderr or "interrupted: stopping the users" in stderr, stderr
    assert "server stopped" in stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_errors_are_counted_when_the_server_answers_wrong_or_goes_away(
    bench: tuple[Path, str, dict[str, Any]], tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Not waited for until warm: the pages answer meanwhile (more slowly), and it is quicker.
    server = start_server(bench[0] / "config.yaml", port)
    assert server.stderr is not None
    threading.Thread(target=server.stderr.read, daemon=True).start()  # its log must not fill the pipe
    try:
        # A callback the app does not have: Dash answers 500, an error and not a good answer.
        run, user = Run(base, {}, [], 60, (0, 0), 10), User(0, random.Random(0))
        bogus = {"output": "nowhere-content.children", "outputs": {"id": "nowhere-content", "property": "children"},
                 "inputs": [], "changedPropIds": [], "state": []}  # fmt: skip
        assert send(requests.Session(), run, user, "/", "content", "bogus", UPDATE, bogus) is None
        (sample,) = user.samples
        assert sample.status == 500 and sample.error == "500 Internal Server Error" and sample.seconds > 0

        # The server stops while two users are on it: what they send then fails, and is counted.
        out = tmp_path / "stopped.json"
        cmd = [*LOAD, "--url", base, "--users", "2", "--seconds", "3", "--think", "0.1", "0.2", "--json", str(out)]
        load = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert load.stdout is not None
        for line in load.stdout:
            if "running 2 users" in line:
                break
        stopped_at = 1.0
        time.sleep(stopped_at)
        server.terminate()
        server.wait(10)
        stdout, stderr = load.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
    assert load.returncode == 1, f"{stdout}\n{stderr}"
    result = json.loads(out.read_text(encoding="utf-8"))
    failed = [s for s in result["samples"] if s["error"]]
    assert result["errors"] == len(failed) > 0
    assert all(s["status"] is None and "ConnectionError" in s["error"] for s in failed), failed[:3]
    # Before the server stopped, the users' requests were answered.
    assert any(s["status"] == 200 and s["start"] < stopped_at for s in result["samples"])
    assert f"errors: {len(failed)}" in stdout and "ConnectionError" in stdout
    assert "target (no errors, p95 < 500 ms): not met" in stdout
