"""The Open311 source against a real GeoReport v2 server on 127.0.0.1.

The server below stands in for a city's endpoint: it filters a small in-memory set of
requests on requested_datetime by start_date and end_date (both inclusive, as the spec
says), pages them with `page` and `page_size`, answers GeoReport error arrays, and can be
told to fail, hang or answer garbage for the next requests. Nothing of ours is mocked; the
only thing injected is `sleep`, so the backoff is recorded instead of waited for.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from etl.errors import TerminalError, TransientError
from etl.open311 import FIELDS, request_batches

UTC = dt.UTC
PATH = "/open311/v2/requests.json"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def req(rid: int, requested: str, status: str = "open", updated: str | None = None, **more: Any) -> dict[str, Any]:
    return {
        "service_request_id": rid,  # a JSON number, as several servers send it
        "status": status,
        "service_name": "Pothole",
        "service_code": "POT",
        "requested_datetime": requested,
        "updated_datetime": updated or requested,
        "address": f"{rid} Main St",
        "lat": 41.8781,
        "long": -87.6298,
        **more,
    }


# A scripted answer for the next request: (status, body, headers), "hang" or "stall".
Answer = tuple[int, str, dict[str, str]] | str


@dataclass
class City:
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[Answer] = field(default_factory=list)
    hits: list[dict[str, str]] = field(default_factory=list)
    jurisdiction: str | None = None
    api_key: str | None = None
    ignore_page: bool = False
    after_page: Callable[[City, dict[str, str]], None] | None = None
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, params: dict[str, str]) -> Answer:
        with self.lock:
            self.hits.append(params)
            if self.script:
                return self.script.pop(0)
        if path != PATH:
            return error(404, f"No such resource: {path}")
        if self.api_key is not None and params.get("api_key") != self.api_key:
            return error(401, "Invalid api_key")
        if self.jurisdiction is not None and params.get("jurisdiction_id") != self.jurisdiction:
            return error(400, f"jurisdiction_id {params.get('jurisdiction_id')!r} not found")
        lo, hi = at(params["start_date"]), at(params["end_date"])
        codes = params["service_code"].split(",") if "service_code" in params else None
        chosen = [
            r
            for r in self.requests
            if lo <= at(r["requested_datetime"]) <= hi and (codes is None or r["service_code"] in codes)
        ]
        chosen.sort(key=lambda r: (at(r["requested_datetime"]), r["service_request_id"]))
        size = int(params.get("page_size") or params.get("per_page") or 1000)
        page = 1 if self.ignore_page else int(params.get("page", "1"))
        body = json.dumps(chosen[(page - 1) * size : page * size])
        if self.after_page is not None:
            self.after_page(self, params)
        return 200, body, {}


def error(code: int, description: str) -> tuple[int, str, dict[str, str]]:
    return code, json.dumps([{"code": code, "description": description}]), {}


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        answer = self.server.city.answer(url.path, dict(urllib.parse.parse_qsl(url.query)))
        if answer == "hang":  # accept the connection, never answer
            self.server.city.release.wait(5)
            return
        if answer == "stall":  # headers and the start of a body, then nothing
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'[{"service_request_id": ')
            self.wfile.flush()
            self.server.city.release.wait(5)
            self.close_connection = True
            return
        assert not isinstance(answer, str)
        status, body, headers = answer
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    city: City


@pytest.fixture
def city() -> Iterator[City]:
    yield City()


@pytest.fixture
def endpoint(city: City) -> Iterator[str]:
    server = Server(("127.0.0.1", 0), Handler)
    server.city = city
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/open311/v2"
    city.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


START = at("2024-01-01T00:00:00Z")
NOW = at("2024-01-22T00:00:00Z")


def january() -> list[dict[str, Any]]:
    return [
        # Window 1, 2024-01-01..08: five requests, one in New York time.
        req(101, "2024-01-01T00:00:00Z"),  # exactly at the first start_date
        req(102, "2024-01-02T09:15:00-05:00", "closed", "2024-01-03T16:40:00-05:00"),
        req(103, "2024-01-03T12:00:00Z"),
        req(104, "2024-01-05T08:00:00+01:00"),
        req(105, "2024-01-07T23:59:59Z", "closed", "2024-01-09T10:00:00Z"),
        # Exactly at the boundary: the server's inclusive end_date returns it for window 1
        # too, but it belongs to window 2 only.
        req(201, "2024-01-08T00:00:00Z"),
        # 2024-01-07 20:00 in New York is 2024-01-08 01:00 UTC: window 2.
        req(202, "2024-01-07T20:00:00-05:00"),
        req(203, "2024-01-10T10:00:00Z"),
        req(204, "2024-01-14T23:00:00Z"),
        # Window 3, 2024-01-15..22, is empty. After `now`: not read.
        req(401, "2024-01-23T10:00:00Z"),
    ]


def ids(batch: Any) -> list[str]:
    return batch.rows["service_request_id"].tolist()


def test_windows_and_pages_yield_each_request_once(city: City, endpoint: str) -> None:
    city.requests = january()
    batches = list(request_batches(endpoint, {}, start=START, now=NOW, page_size=2, backoff=0))

    assert [b.label for b in batches] == [
        "requests.json 2024-01-01..2024-01-08 (4 pages)",  # 2 + 2 + 2 (201, dropped) + empty
        "requests.json 2024-01-08..2024-01-15 (3 pages)",  # 2 + 2 + an empty page
        "requests.json 2024-01-15..2024-01-22 (1 page)",
    ]
    assert [ids(b) for b in batches] == [["101", "102", "103", "104", "105"], ["201", "202", "203", "204"], []]
    assert [b.state for b in batches] == [
        {"high_water_mark": "2024-01-08T00:00:00+00:00"},
        {"high_water_mark": "2024-01-15T00:00:00+00:00"},
        {"high_water_mark": "2024-01-22T00:00:00+00:00"},
    ]
    first = batches[0].rows
    assert list(first.columns) == ["_row", *FIELDS, "closed_datetime"]
    assert first["_row"].tolist() == [1, 2, 3, 4, 5]
    assert list(batches[2].rows.columns) == ["_row", *FIELDS, "closed_datetime"]
    row = first.set_index("service_request_id").loc["102"]
    # Times exactly as sent, offsets included; the mapping converts them.
    assert row["requested_datetime"] == "2024-01-02T09:15:00-05:00"
    assert row["closed_datetime"] == "2024-01-03T16:40:00-05:00"
    assert first.set_index("service_request_id").loc["103", "closed_datetime"] == ""
    assert (row["lat"], row["long"], row["media_url"]) == ("41.8781", "-87.6298", "")

    # What was asked of the server: w3c UTC bounds, page by page.
    asked = [(h["start_date"], h["end_date"], h["page"], h["page_size"]) for h in city.hits]
    assert asked[:4] == [
        ("2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z", "1", "2"),
        ("2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z", "2", "2"),
        ("2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z", "3", "2"),
        ("2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z", "4", "2"),
    ]
    assert len(city.hits) == 4 + 3 + 1


def test_window_partial_at_now_and_nothing_when_caught_up(city: City, endpoint: str) -> None:
    city.requests = january()
    now = at("2024-01-10T12:30:45.999+00:00")
    batches = list(request_batches(endpoint, {}, start=START, now=now, page_size=100))
    assert [b.label for b in batches] == [
        "requests.json 2024-01-01..2024-01-08 (1 page)",
        "requests.json 2024-01-08..2024-01-10T12:30:45Z (1 page)",
    ]
    assert ids(batches[1]) == ["201", "202", "203"]
    assert batches[-1].state == {"high_water_mark": "2024-01-10T12:30:45+00:00"}
    # Caught up with no lookback: nothing to read, nothing asked.
    hits = len(city.hits)
    assert list(request_batches(endpoint, batches[-1].state, start=START, now=now, lookback=dt.timedelta(0))) == []
    assert len(city.hits) == hits


def test_second_run_goes_on_from_the_mark_and_sees_late_closures(city: City, endpoint: str) -> None:
    city.requests = january()
    lookback = dt.timedelta(days=14)
    first = list(request_batches(endpoint, {}, start=START, now=NOW, lookback=lookback, page_size=3))
    state = first[-1].state  # what the runner stored with the last loaded batch
    assert state == {"high_water_mark": "2024-01-22T00:00:00+00:00"}

    # A week later: 203 (made 10 January) was closed, 102 (made 2 January, before the
    # lookback) was reopened, and a new request came in.
    for r in city.requests:
        if r["service_request_id"] == 203:
            r.update(status="closed", updated_datetime="2024-01-24T10:00:00+01:00")
        if r["service_request_id"] == 102:
            r.update(status="open", updated_datetime="2024-01-25T08:00:00Z")
    city.requests.append(req(402, "2024-01-28T09:00:00Z"))
    city.hits.clear()

    second = list(
        request_batches(endpoint, state, start=START, now=at("2024-01-29T00:00:00Z"), lookback=lookback, page_size=3)
    )
    assert [b.label for b in second] == [
        "requests.json 2024-01-08..2024-01-15 (2 pages)",
        "requests.json 2024-01-15..2024-01-22 (1 page)",
        "requests.json 2024-01-22..2024-01-29 (1 page)",
    ]
    assert city.hits[0]["start_date"] == "2024-01-08T00:00:00Z"  # the mark minus 14 days
    rows = second[0].rows.set_index("service_request_id")
    assert rows.loc["203", "status"] == "closed"
    assert rows.loc["203", "closed_datetime"] == "2024-01-24T10:00:00+01:00"
    assert ids(second[2]) == ["401", "402"]
    assert second[-1].state == {"high_water_mark": "2024-01-29T00:00:00+00:00"}
    # 102 was made before the lookback: its change is not read again (as documented).
    assert all("102" not in ids(b) for b in second)


def test_the_mark_minus_lookback_never_goes_before_start(city: City, endpoint: str) -> None:
    city.requests = january()
    state = {"high_water_mark": "2024-01-05T00:00:00+00:00"}
    batches = list(request_batches(endpoint, state, start=START, now=at("2024-01-08T00:00:00Z")))
    assert [b.label for b in batches] == ["requests.json 2024-01-01..2024-01-08 (1 page)"]


def test_a_request_read_twice_while_pages_shift_keeps_its_last_copy(city: City, endpoint: str) -> None:
    city.requests = january()[:5]

    def shift(city: City, params: dict[str, str]) -> None:
        # After page 1 is served, an older request is entered and 102 is closed: every
        # request moves one place down, so page 2 starts with 102 again, now closed.
        if params["page"] == "1":
            city.requests.insert(0, req(100, "2024-01-01T06:00:00Z"))
            city.requests[2].update(status="closed", updated_datetime="2024-01-04T12:00:00Z")

    city.after_page = shift
    now = at("2024-01-08T00:00:00Z")
    [batch] = request_batches(endpoint, {}, start=START, now=now, page_size=2)
    assert city.requests[2]["service_request_id"] == 102
    # 100 slipped onto page 1 after it was read: the next run's lookback finds it.
    assert ids(batch) == ["101", "102", "103", "104", "105"]
    assert batch.rows.set_index("service_request_id").loc["102", "closed_datetime"] == "2024-01-04T12:00:00Z"
    assert batch.rows["_row"].tolist() == [1, 2, 3, 4, 5]


def test_values_are_kept_as_text_and_extra_fields_chosen(city: City, endpoint: str) -> None:
    city.requests = [
        req(7, "2024-01-02T00:00:00Z", media_url=None, zipcode=60601, attributes={"priority": "high"}, channel="app"),
        {"service_request_id": "A-8", "requested_datetime": "2024-01-03T00:00:00Z", "status": "Closed"},
    ]
    city.requests[0]["internal_flag"] = True  # not asked for: dropped
    now = at("2024-01-15T00:00:00Z")
    batch, empty = request_batches(endpoint, {}, start=START, now=now, extra_fields=("channel", "attributes"))
    rows = batch.rows.set_index("service_request_id")
    # The same columns in every batch, an empty one too, so the mapping can rely on them.
    assert list(batch.rows.columns) == ["_row", *FIELDS, "channel", "attributes", "closed_datetime"]
    assert list(empty.rows.columns) == list(batch.rows.columns) and empty.rows.empty
    assert rows.loc["7", "zipcode"] == "60601"
    assert rows.loc["7", "media_url"] == ""
    assert json.loads(rows.loc["7", "attributes"]) == {"priority": "high"}
    assert rows.loc["7", "channel"] == "app"
    assert rows.loc["A-8", "address"] == "" and rows.loc["A-8", "channel"] == ""
    # 'Closed' with no updated_datetime: closed, closing time unknown.
    assert rows.loc["A-8", "closed_datetime"] == ""
    assert all(isinstance(v, str) for c in batch.rows.columns if c != "_row" for v in batch.rows[c])


def test_parameters_sent(city: City, endpoint: str) -> None:
    city.requests = january()
    city.jurisdiction = "city.example"
    now = at("2024-01-08T00:00:00Z")
    batches = request_batches(
        endpoint,
        {},
        start=START,
        now=now,
        jurisdiction_id="city.example",
        service_codes=("POT", "GRAF"),
        page_size=50,
        page_size_param="per_page",
        extra_params={"extensions": "true"},
    )
    [batch] = batches
    assert len(batch.rows) == 5
    [hit] = city.hits
    assert hit["jurisdiction_id"] == "city.example"
    assert hit["service_code"] == "POT,GRAF"
    assert hit["per_page"] == "50" and "page_size" not in hit
    assert hit["extensions"] == "true"


def test_a_server_error_is_retried(city: City, endpoint: str) -> None:
    city.requests = january()
    city.script = [error(500, "Internal error")]
    sleeps = Sleeps()
    now = at("2024-01-08T00:00:00Z")
    [batch] = request_batches(endpoint, {}, start=START, now=now, backoff=0.5, sleep=sleeps)
    assert ids(batch) == ["101", "102", "103", "104", "105"]
    assert len(city.hits) == 2
    assert sleeps == [0.5]


def test_rate_limit_waits_as_the_server_asks(city: City, endpoint: str) -> None:
    city.requests = january()
    city.script = [(429, "", {"Retry-After": "7"}), (429, "", {})]
    sleeps = Sleeps()
    now = at("2024-01-08T00:00:00Z")
    [batch] = request_batches(endpoint, {}, start=START, now=now, backoff=1, sleep=sleeps)
    assert len(batch.rows) == 5
    assert sleeps == [7, 2]  # Retry-After, then the backoff's 1 * 2**1


def test_a_server_that_stays_down_is_a_transient_error(city: City, endpoint: str) -> None:
    city.script = [(503, "<html>Service Unavailable</html>", {})] * 10
    sleeps = Sleeps()
    with pytest.raises(TransientError) as caught:
        list(
            request_batches(
                endpoint,
                {},
                start=START,
                now=NOW,
                retries=2,
                backoff=1,
                sleep=sleeps,
                extra_params={"api_key": "s3cret-key"},
            )
        )
    assert len(city.hits) == 3  # one try and two retries
    assert sleeps == [1, 2]
    message = str(caught.value)
    assert "HTTP 503" in message and "Service Unavailable" in message
    assert "after 3 attempts" in message
    assert f"{endpoint}/requests.json?" in message and "start_date=2024-01-01T00:00:00Z" in message
    assert "s3cret-key" not in message and "api_key=***" in message


def test_a_key_in_the_endpoints_query_is_sent_and_not_shown(city: City, endpoint: str) -> None:
    city.api_key = "k-secret"
    city.script = [(502, "Bad Gateway", {})]
    batches = request_batches(f"{endpoint}?api_key=k-secret", {}, start=START, now=NOW, retries=0)
    with pytest.raises(TransientError) as caught:
        next(batches)
    assert "k-secret" not in str(caught.value) and "api_key=***" in str(caught.value)
    city.requests = january()
    batches = request_batches(f"{endpoint}/?api_key=k-secret", {}, start=START, now=NOW)
    assert ids(next(batches)) == ["101", "102", "103", "104", "105"]
    assert city.hits[-1]["api_key"] == "k-secret"


@pytest.mark.parametrize("how", ["hang", "stall"])
def test_a_hanging_server_times_out(city: City, endpoint: str, how: str) -> None:
    city.script = [how, how]
    began = time.monotonic()
    with pytest.raises(TransientError, match=r"(no answer within|stalled for more than) 0\.2 s.*2 attempts"):
        list(request_batches(endpoint, {}, start=START, now=NOW, timeout=0.2, retries=1, backoff=0))
    assert time.monotonic() - began < 3
    assert len(city.hits) == 2


def test_connection_refused_is_transient(city: City) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    with pytest.raises(TransientError, match=r"cannot connect: .*refused.*4 attempts"):
        list(request_batches(f"http://127.0.0.1:{port}/v2", {}, start=START, now=NOW, backoff=0.1, sleep=sleeps))
    assert sleeps == [0.1, 0.2, 0.4]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('[{"service_request_id": "1", "status": ', "not JSON"),
        ("<html><body>Gateway page</body></html>", "not JSON"),
        ('{"requests": []}', "not a JSON list"),
        ('["1", "2"]', "not a list of request objects"),
    ],
)
def test_a_malformed_answer_is_retried_then_transient(city: City, endpoint: str, body: str, said: str) -> None:
    city.script = [(200, body, {})] * 2
    with pytest.raises(TransientError, match=said):
        list(request_batches(endpoint, {}, start=START, now=NOW, retries=1, backoff=0))
    assert len(city.hits) == 2


def test_a_malformed_answer_then_a_good_one(city: City, endpoint: str) -> None:
    city.requests = january()
    city.script = [(200, "[{", {})]
    [batch] = request_batches(endpoint, {}, start=START, now=at("2024-01-08T00:00:00Z"), backoff=0)
    assert len(batch.rows) == 5


def test_wrong_endpoint_is_terminal_with_the_servers_words(city: City, endpoint: str) -> None:
    sleeps = Sleeps()
    with pytest.raises(TerminalError, match=r"HTTP 404 Not Found: 404: No such resource: /open311/v3/requests.json"):
        list(request_batches(endpoint.replace("v2", "v3"), {}, start=START, now=NOW, sleep=sleeps))
    assert len(city.hits) == 1 and sleeps == []


def test_refused_key_is_terminal_and_the_key_is_not_shown(city: City, endpoint: str) -> None:
    city.api_key = "right"
    with pytest.raises(TerminalError) as caught:
        list(request_batches(endpoint, {}, start=START, now=NOW, extra_params={"api_key": "wrong-secret"}))
    assert "HTTP 401 Unauthorized: 401: Invalid api_key" in str(caught.value)
    assert "wrong-secret" not in str(caught.value)
    assert len(city.hits) == 1


def test_bad_parameter_is_terminal(city: City, endpoint: str) -> None:
    city.jurisdiction = "city.example"
    with pytest.raises(TerminalError, match=r"HTTP 400 Bad Request: 400: jurisdiction_id 'town.example' not found"):
        list(request_batches(endpoint, {}, start=START, now=NOW, jurisdiction_id="town.example"))


def test_an_error_array_with_status_200_is_terminal(city: City, endpoint: str) -> None:
    city.script = [(200, json.dumps([{"code": 403, "description": "Too many days requested"}]), {})]
    with pytest.raises(TerminalError, match=r"answered with an error: 403: Too many days requested"):
        list(request_batches(endpoint, {}, start=START, now=NOW))
    assert len(city.hits) == 1


def test_a_server_that_ignores_page_is_terminal(city: City, endpoint: str) -> None:
    city.requests = january()
    city.ignore_page = True
    with pytest.raises(TerminalError, match="page 2 repeats page 1"):
        list(request_batches(endpoint, {}, start=START, now=NOW, page_size=2))


def test_max_pages_is_terminal_rather_than_a_partial_window(city: City, endpoint: str) -> None:
    city.requests = january()
    with pytest.raises(TerminalError, match="still full pages after max_pages=2"):
        list(request_batches(endpoint, {}, start=START, now=NOW, page_size=2, max_pages=2))


def test_bad_arguments(endpoint: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        list(request_batches(endpoint, {}, start=dt.datetime(2024, 1, 1), now=NOW))
    with pytest.raises(ValueError, match="extra_fields may not repeat"):
        list(request_batches(endpoint, {}, start=START, now=NOW, extra_fields=("status",)))
    with pytest.raises(ValueError, match="extra_params may not set"):
        list(request_batches(endpoint, {}, start=START, now=NOW, extra_params={"page": "3"}))
    with pytest.raises(TerminalError, match="not an http"):
        list(request_batches("city.example/open311/v2", {}, start=START, now=NOW))
    with pytest.raises(TerminalError, match="credentials in the URL") as caught:
        list(request_batches("https://user:pw-secret@city.example/v2", {}, start=START, now=NOW))
    assert "pw-secret" not in str(caught.value)
    with pytest.raises(TerminalError, match="invalid URL"):
        list(request_batches("http://127.0.0.1:port/v2", {}, start=START, now=NOW))
    with pytest.raises(TerminalError, match="unreadable high_water_mark"):
        list(request_batches(endpoint, {"high_water_mark": "last tuesday"}, start=START, now=NOW))
