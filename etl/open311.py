"""Service requests from an Open311 GeoReport v2 server, one batch per date window.

GeoReport v2 (http://wiki.open311.org/GeoReport_v2/) lists requests with
GET {endpoint}/requests.json?start_date=...&end_date=..., filtered on `requested_datetime`.
The spec caps an unpaged answer (90 days or the first 1,000 requests), so the source walks
short date windows and pages through each with the common `page` / `page_size` extension
(Chicago, Boston, Toronto, Austin, SeeClickFix; some servers call the size `per_page`).

Rows are the fields as the server sent them, as text: timestamps keep their offsets (the
mapping's `parse_local_times` converts them), numbers keep their digits. Errors say whether
retrying can help: a server that is down, slow, rate-limiting or answering garbage is a
TransientError after a few tries; a refused key, a wrong URL or a GeoReport error answer is
a TerminalError at once, with what the server said.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from etl.batches import Batch
from etl.errors import TerminalError, TransientError

# The service request fields of GeoReport v2, in the order the spec lists them.
FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
DERIVED = ("closed_datetime", "_row")
# Query parameters whose values never appear in an error message or a log.
SECRET_PARAMS = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "auth", "secret", "client_secret", "password", "signature"}
)
# A server's Retry-After is honoured up to this many seconds; beyond it, the run fails
# transiently and the scheduler tries again later rather than holding a worker.
MAX_RETRY_AFTER = 120.0
USER_AGENT = "civic-metrics-open311/1 (+GeoReport v2 reader)"


def request_batches(
    endpoint: str,
    state: dict[str, Any],
    *,
    start: dt.datetime,
    now: dt.datetime,
    window: dt.timedelta = dt.timedelta(days=7),
    lookback: dt.timedelta = dt.timedelta(days=30),
    page_size: int = 100,
    jurisdiction_id: str | None = None,
    service_codes: tuple[str, ...] = (),
    timeout: float = 30,
    retries: int = 3,
    backoff: float = 1.0,
    max_pages: int = 1000,
    extra_params: dict[str, str] | None = None,
    page_size_param: str = "page_size",
    extra_fields: tuple[str, ...] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Batch]:
    """Yield one Batch per date window of requested_datetime, oldest first, up to `now`.

    Windows are [start_date, end_date) of length `window` (the last one ends at `now`),
    from `start` on the first run (empty `state`), else from the stored high-water mark
    minus `lookback`: GeoReport filters on when a request was made, not when it changed,
    so re-reading recent windows is the only way to see later closures of older requests.
    A request made before that margin and closed afterwards is not seen again; choose
    `lookback` longer than most requests stay open. Each batch's state is
    {"high_water_mark": end of its window}, so a rerun goes on after the last window loaded.
    Empty windows yield empty batches too, so the mark moves past quiet weeks.

    Rows: the GeoReport fields as text ('' when missing or null; JSON numbers as the digits
    sent; nested values as JSON), then `extra_fields` (a server's extensions, e.g. Austin's
    `extended_attributes`; other fields it adds are dropped so every batch, an empty one
    too, has the same columns for the mapping to check), `closed_datetime` and a 1-based
    `_row`. GeoReport has no closing time:
    `closed_datetime` is `updated_datetime` of a request whose status is closed, which is
    the closing time unless the server touched the request again after closing it.

    Paging stops at a page shorter than `page_size`, so `page_size` must not exceed the
    server's maximum (Austin's is 500): a capped page would look like the last one. Pages can
    shift while being read (a request inserted or re-ordered meanwhile), so a request id seen
    twice in one window keeps its last copy, the most recently read (a shift the other way
    can skip one; the next run's lookback reads it). A server that repeats a full page, or
    still has full pages after `max_pages`, is a TerminalError rather than a window loaded
    in part. The spec's end_date is inclusive; a request made exactly at a window's end is
    left to the next window, so each request is in one window.

    `timeout` is urllib's: per connect and per read, not for a whole response. Connection
    failures, timeouts, HTTP 408/429/5xx and bodies that are not a JSON list are retried
    `retries` times, waiting `backoff * 2**attempt` seconds (longer if the server sends a
    Retry-After), then raise TransientError. Other HTTP 4xx and a GeoReport error array
    raise TerminalError at once. Messages name the URL with secret parameters masked.

    `page_size_param` names the page size parameter (`per_page` on some servers); the
    endpoint may carry a query of its own (an api_key some servers want on GET too).
    `sleep` is the wait between attempts, replaceable so tests need not wait.
    """
    for name, value in (("start", start), ("now", now)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    if window <= dt.timedelta(0):
        raise ValueError(f"window must be positive, got {window}")
    if lookback < dt.timedelta(0):
        raise ValueError(f"lookback must not be negative, got {lookback}")
    if page_size < 1 or max_pages < 1 or retries < 0:
        raise ValueError("page_size and max_pages must be >= 1 and retries >= 0")
    clash = (set(FIELDS) | set(DERIVED)) & set(extra_fields)
    if clash:
        raise ValueError(f"extra_fields may not repeat GeoReport or derived columns: {sorted(clash)}")
    columns = (*FIELDS, *dict.fromkeys(extra_fields))
    base_params = _base_params(jurisdiction_id, service_codes, extra_params, page_size_param)
    url = _requests_url(endpoint)

    # GeoReport's w3c datetimes are to the second; whole-second bounds keep what is sent,
    # what is filtered and what is stored the same instants.
    now = now.astimezone(dt.UTC).replace(microsecond=0)
    begin = start.astimezone(dt.UTC).replace(microsecond=0)
    mark = _high_water_mark(state)
    if mark is not None:
        begin = max(begin, mark - lookback)

    fetch = _Fetcher(timeout=timeout, retries=retries, backoff=backoff, sleep=sleep)
    lo = begin
    while lo < now:
        hi = min(lo + window, now)
        rows, pages = _read_window(fetch, url, base_params, lo, hi, page_size, page_size_param, max_pages, columns)
        yield Batch(
            label=f"requests.json {_short(lo)}..{_short(hi)} ({pages} page{'s' if pages != 1 else ''})",
            rows=rows,
            state={"high_water_mark": hi.isoformat()},
        )
        lo = hi


def _read_window(
    fetch: _Fetcher,
    url: str,
    base_params: dict[str, str],
    lo: dt.datetime,
    hi: dt.datetime,
    page_size: int,
    page_size_param: str,
    max_pages: int,
    columns: tuple[str, ...],
) -> tuple[pd.DataFrame, int]:
    records: list[dict[str, Any]] = []
    previous: list[dict[str, Any]] | None = None
    for page in range(1, max_pages + 1):
        params = {
            **base_params,
            "start_date": _w3c(lo),
            "end_date": _w3c(hi),
            "page": str(page),
            page_size_param: str(page_size),
        }
        items = fetch.json_list(url, params)
        if items and items == previous:
            # A server that ignores `page` answers page 1 forever: what lies beyond it is
            # unreachable, and stopping quietly would load a truncated window.
            raise TerminalError(
                f"{_redact(url, params)}: page {page} repeats page {page - 1}; the server seems to ignore `page`"
                f" (so requests beyond the first page cannot be read); try a shorter window"
            )
        records.extend(items)
        if len(items) < page_size:
            return _frame(records, hi, columns), page
        previous = items
    raise TerminalError(
        f"{_redact(url, params)}: still full pages after max_pages={max_pages}; "
        f"shorten the window or raise max_pages rather than load part of {_short(lo)}..{_short(hi)}"
    )


def _frame(records: list[dict[str, Any]], hi: dt.datetime, columns: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame([[_text(r.get(c)) for c in columns] for r in records], columns=columns, dtype=object)
    # Requests made at the window's end belong to the next window (end_date is inclusive
    # in GeoReport). Unreadable times stay: the mapping quarantines them with a reason.
    made = pd.to_datetime(df["requested_datetime"], format="ISO8601", utc=True, errors="coerce")
    df = df[~(made >= pd.Timestamp(hi))]
    # Keep the last copy of each request; rows without an id cannot be matched, so all stay.
    has_id = df["service_request_id"] != ""
    df = df[~has_id | ~df["service_request_id"].duplicated(keep="last")].reset_index(drop=True)
    closed = df["status"].str.strip().str.lower() == "closed"
    df["closed_datetime"] = df["updated_datetime"].where(closed, "")
    df.insert(0, "_row", range(1, len(df) + 1))
    return df


def _text(value: Any) -> str:
    """A JSON value as the text the server sent (numbers were parsed as their own digits)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)  # true/false, nested objects and lists


class _Fetcher:
    """GET a JSON list with retries: whether retrying can help decides the error raised."""

    def __init__(self, *, timeout: float, retries: int, backoff: float, sleep: Callable[[float], None]) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def json_list(self, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
        full = url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        shown = _redact(url, params)
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return self._once(full, shown)
            except _Retry as exc:
                if attempt == attempts - 1:
                    raise TransientError(
                        f"{shown}: {exc.cause} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})"
                    ) from exc.__cause__
                delay = self.backoff * 2**attempt
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER))
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _once(self, full: str, shown: str) -> list[dict[str, Any]]:
        request = urllib.request.Request(full, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            try:
                said = _server_said(_read_quietly(exc))
            finally:
                exc.close()
            cause = f"HTTP {exc.code} {exc.reason}" + (f": {said}" if said else "")
            if exc.code in (408, 429) or exc.code >= 500:
                raise _Retry(cause, _retry_after(exc.headers.get("Retry-After"))) from exc
            # 400 bad parameters, 401/403 key refused, 404 no such endpoint: a person must act.
            raise TerminalError(f"{shown}: {cause}") from exc
        except urllib.error.URLError as exc:
            # urllib wraps failures before the status line (refused, DNS, TLS, no answer).
            if isinstance(exc.reason, TimeoutError):
                raise _Retry(f"no answer within {self.timeout:g} s") from exc
            raise _Retry(f"cannot connect: {exc.reason}") from exc
        except TimeoutError as exc:
            raise _Retry(f"the answer stalled for more than {self.timeout:g} s") from exc
        except http.client.InvalidURL as exc:  # a bad port or host: fix the configuration
            raise TerminalError(f"{shown}: invalid URL: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            # A dropped connection or a cut-off body (RemoteDisconnected, IncompleteRead).
            raise _Retry(f"connection failed: {type(exc).__name__}: {exc}") from exc

        try:
            # Numbers parsed as their own text: lat "41.878100" stays as sent, ids never float.
            data = json.loads(body, parse_float=str, parse_int=str)
        except (ValueError, UnicodeDecodeError) as exc:
            # Truncated bodies and proxies' HTML pages come and go; a retry may get JSON.
            raise _Retry(f"the answer is not JSON ({exc}): {_unlike_requests(body)}") from exc
        if not isinstance(data, list):
            raise _Retry(f"the answer is not a JSON list of requests: {_outline(data)}")
        if data and all(_is_error(item) for item in data):
            raise TerminalError(f"{shown}: the server answered with an error: {_server_said(body)}")
        if not all(isinstance(item, dict) for item in data):
            raise _Retry(f"the answer is not a list of request objects: {_outline(data)}")
        return data


class _Retry(Exception):
    """A failure that another attempt may not meet."""

    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after


def _is_error(item: Any) -> bool:
    # GeoReport errors are [{"code": ..., "description": ...}]; requests never look like that.
    return isinstance(item, dict) and "description" in item and set(item) <= {"code", "description"}


def _server_said(body: bytes) -> str:
    """GeoReport error descriptions ("403: Invalid api_key"), else the start of the body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _snippet(body)
    if isinstance(data, dict):
        data = data.get("errors", [data])  # some servers wrap the array or send one object
    if isinstance(data, list):
        said = [
            f"{item['code']}: {item['description']}" if item.get("code") not in (None, "") else str(item["description"])
            for item in data
            if isinstance(item, dict) and "description" in item
        ]
        if said:
            return "; ".join(said)
    return _snippet(body)


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read()
    except (OSError, http.client.HTTPException):
        return b""


# Errors are kept in the run log: a body that may hold requests (addresses, descriptions,
# coordinates) is described, never quoted.
def _unlike_requests(body: bytes) -> str:
    """The start of a body that is no JSON at all (a proxy's HTML page); a cut-off JSON text
    (the start of a list of requests) only by its length."""
    if body.lstrip()[:1] in (b"[", b"{"):
        return f"a JSON text cut off or malformed ({len(body):,} bytes, not shown: it may hold requests)"
    return _snippet(body)


def _outline(data: object) -> str:
    """The shape of a JSON answer, without its values."""
    if isinstance(data, dict):
        return f"an object with the keys {sorted(map(str, data))[:20]}"
    if isinstance(data, list):
        kinds = sorted({type(item).__name__ for item in data})
        return f"a list of {len(data):,} items of type {', '.join(kinds)}"
    return f"a {type(data).__name__}"


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return "(empty body)"
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _retry_after(value: str | None) -> float | None:
    # Only the seconds form; an HTTP-date is rare from these servers and backoff still applies.
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _base_params(
    jurisdiction_id: str | None,
    service_codes: tuple[str, ...],
    extra_params: dict[str, str] | None,
    page_size_param: str,
) -> dict[str, str]:
    ours = {"start_date", "end_date", "page", page_size_param}
    clash = ours & set(extra_params or {})
    if clash:
        raise ValueError(f"extra_params may not set {sorted(clash)}: the source sets them per window and page")
    params = dict(extra_params or {})
    if jurisdiction_id:
        params["jurisdiction_id"] = jurisdiction_id
    if service_codes:
        params["service_code"] = ",".join(service_codes)  # the spec's comma-delimited list
    return params


def _requests_url(endpoint: str) -> str:
    parts = urllib.parse.urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TerminalError(f"Open311 endpoint {endpoint!r} is not an http(s) URL")
    try:
        parts.port  # noqa: B018 - checked now, not after retries
    except ValueError as exc:
        raise TerminalError(f"Open311 endpoint for {parts.hostname}: invalid URL: {exc}") from exc
    if "@" in parts.netloc:
        # urllib would send user:password as part of the host name; and it must not be logged.
        raise TerminalError(
            f"Open311 endpoint for {parts.hostname}: credentials in the URL are not supported; pass a key parameter"
        )
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/requests.json", fragment=""))


def redact(url: str) -> str:
    """An endpoint as it may be shown in logs: secret parameters (api_key...) masked."""
    return _redact(url, {})


def _redact(url: str, params: dict[str, str]) -> str:
    """The URL with its parameters (the endpoint's own and ours), secret ones masked."""
    parts = urllib.parse.urlsplit(url)
    query = [*urllib.parse.parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    shown = [(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in query]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(shown, safe=":,*")))


def _high_water_mark(state: dict[str, Any]) -> dt.datetime | None:
    value = (state or {}).get("high_water_mark")
    if value in (None, ""):
        return None
    try:
        mark = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise TerminalError(f"stored Open311 state has an unreadable high_water_mark {value!r}") from exc
    if mark.tzinfo is None:  # this module always stores an offset; an old naive mark is UTC
        mark = mark.replace(tzinfo=dt.UTC)
    return mark.astimezone(dt.UTC)


def _w3c(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short(t: dt.datetime) -> str:
    """A window bound for labels: the date alone at midnight UTC, else date and time."""
    t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%d") if t.time() == dt.time(0) else t.strftime("%Y-%m-%dT%H:%M:%SZ")
