"""Personal data in case sources (etl.privacy): marked columns dropped as they are read and
stored nowhere, the quarantine included; citizen ids stored only as HMAC pseudonyms under
the key in the environment; no load with citizen ids without it; a new key re-reads."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from etl.errors import ColumnsMissing, TerminalError, TransientError
from etl.mapping import map_cases
from etl.open311 import request_batches
from etl.privacy import NOT_STORED, PSEUDONYM_KEY_ENV, PseudonymKeyMissing, pseudonym, pseudonym_key, pseudonymise
from etl.sql_source import sql_batches
from metrics.config import ConfigError, Settings, load_settings
from tests.etl.store_scan import Needles, scan
from tests.etl.test_open311 import City, city, endpoint, req  # noqa: F401 - fixtures
from tests.support import run, write_config

KEY = b"k" * 40
OTHER_KEY = b"j" * 40


def expected(value: str, key: bytes = KEY) -> str:
    """The independent computation: Python's hmac module, HMAC-SHA256 in hex, 32 digits."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


# --- the pseudonym -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["C0000001", "c0000001", "AB123456C", "王芳", "a" * 500, " x "])
def test_the_pseudonym_is_hmac_sha256_of_the_id(value: str) -> None:
    assert pseudonym(value, KEY) == expected(value)
    assert len(pseudonym(value, KEY)) == 32


@pytest.mark.parametrize("key", [KEY, b"short", b"x" * 64, b"y" * 65, "ключ-🔑".encode() * 20])
def test_pseudonyms_of_a_column_are_hmac_sha256_whatever_the_key(key: bytes) -> None:
    ids = pd.Series(["C0000001", "王芳", "C0000001", "x" * 300])
    assert pseudonymise(ids, key).tolist() == [expected(v, key) for v in ids]


def test_same_id_and_key_same_pseudonym_another_key_another() -> None:
    ids = pd.Series([f"C{i:07d}" for i in range(2000)] * 2)
    first, again = pseudonymise(ids, KEY), pseudonymise(ids, KEY)
    assert first.equals(again)
    assert first.nunique() == 2000  # distinct people stay distinct
    assert (first.iloc[:2000].to_numpy() == first.iloc[2000:].to_numpy()).all()  # repeats match
    other = pseudonymise(ids, OTHER_KEY)
    assert not (other == first).any()
    assert other.iloc[0] == expected("C0000000", OTHER_KEY)


def test_an_empty_id_stays_missing() -> None:
    out = pseudonymise(pd.Series(["", None, "C1", ""], dtype=object), KEY)
    assert out.tolist() == [None, None, expected("C1"), None]


def test_a_pseudonym_carried_by_the_quarantine_is_kept_not_hashed_again() -> None:
    p = expected("C1")
    out = pseudonymise(pd.Series([f"pseudonym:{p}", "pseudonym:not-hex", f"pseudonym:{p}0"]), KEY)
    assert out.tolist() == [p, expected("pseudonym:not-hex"), expected(f"pseudonym:{p}0")]


# --- the key -----------------------------------------------------------------------------


SETTINGS = Settings.model_validate(
    {
        "services": {"pothole": {"department": "Transport"}},
        "etl": {
            "sources": {
                "cases": {
                    "kind": "cases_csv",
                    "path": "x.csv",
                    "columns": {"source_id": "Ref", "opened_at": "Logged", "service": "Type", "citizen_key": "Who"},
                    "personal_columns": ["Name", "Phone", "Who"],
                }
            }
        },
    }
)
SOURCE = SETTINGS.etl.sources["cases"]


def test_without_the_key_cases_with_citizen_ids_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PSEUDONYM_KEY_ENV)
    with pytest.raises(PseudonymKeyMissing, match=f"cases: .*'Who'.*{PSEUDONYM_KEY_ENV} is not set") as caught:
        pseudonym_key("cases", SOURCE)
    assert isinstance(caught.value, TerminalError) and not caught.value.transient
    with pytest.raises(PseudonymKeyMissing, match=PSEUDONYM_KEY_ENV):
        map_cases(rows(("1", "2025-01-06T09:00", "pothole", "C1", "Ann", "0")), "cases", SOURCE, SETTINGS)
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "")
    with pytest.raises(PseudonymKeyMissing, match="is not set"):
        pseudonym_key("cases", SOURCE)


def test_a_short_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "x" * 31)
    with pytest.raises(PseudonymKeyMissing, match=f"{PSEUDONYM_KEY_ENV} has 31 characters; expected .* at least 32"):
        pseudonym_key("cases", SOURCE)
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "x" * 32)
    assert pseudonym_key("cases", SOURCE) == b"x" * 32


def test_a_source_without_citizen_ids_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PSEUDONYM_KEY_ENV)
    src = SOURCE.model_copy(update={"columns": {k: v for k, v in SOURCE.columns.items() if k != "citizen_key"}})
    assert pseudonym_key("cases", src) is None
    m = map_cases(rows(("1", "2025-01-06T09:00", "pothole", "C1", "Ann", "0")), "cases", src, SETTINGS)
    assert len(m.cases) == 1 and m.cases["citizen_key"].isna().all()


# --- dropping columns, also from quarantined rows ------------------------------------------


def rows(*values: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame(list(values), columns=["Ref", "Logged", "Type", "Who", "Name", "Phone"])
    df.insert(0, "_row", range(1, len(df) + 1))
    return df


def test_personal_columns_reach_neither_cases_nor_quarantine() -> None:
    raw = rows(
        ("1", "2025-01-06T09:00", "pothole", "C0000001", "Ann Smith", "07700 900001"),
        ("2", "not a time", "pothole", "C0000002", "Bo Li", "07700 900002"),  # quarantined
        ("3", "2025-01-07T09:00", "pothole", "", "Cy Wu", ""),
    )
    m = map_cases(raw, "cases", SOURCE, SETTINGS, KEY)
    assert m.cases["source_id"].tolist() == ["1", "3"]
    assert m.cases["citizen_key"].tolist() == [expected("C0000001"), None]
    assert not {"Name", "Phone", "Who"} & set(m.cases.columns)
    [q] = m.quarantined.to_dict("records")
    doc = json.loads(q["raw"])
    # The row keeps its columns (it can be fixed and loaded again), not their values.
    assert doc == {
        "Ref": "2",
        "Logged": "not a time",
        "Type": "pothole",
        "Who": f"pseudonym:{expected('C0000002')}",
        "Name": NOT_STORED,
        "Phone": NOT_STORED,
    }
    everything = m.cases.astype(str).to_csv() + m.groups.to_csv() + m.quarantined.to_csv()
    for value in ("Ann Smith", "Bo Li", "Cy Wu", "07700 900001", "07700 900002", "C0000001", "C0000002"):
        assert value not in everything


def test_a_row_fixed_from_the_quarantine_keeps_its_pseudonym() -> None:
    bad = map_cases(rows(("2", "not a time", "pothole", "C0000002", "Bo Li", "1")), "cases", SOURCE, SETTINGS, KEY)
    doc = json.loads(bad.quarantined["raw"].iloc[0])
    doc["Logged"] = "2025-01-06T09:00"  # the fix
    fixed = pd.DataFrame([doc]).assign(_row=1)
    again = map_cases(fixed, "cases", SOURCE, SETTINGS, KEY)
    assert again.cases["citizen_key"].tolist() == [expected("C0000002")]


# --- the config ----------------------------------------------------------------------------


def cases_config(folder: Path, **source: object) -> Path:
    return write_config(folder, {
        "services": {"pothole": {"department": "Transport"}},
        "etl": {"sources": {"cases": {
            "kind": "cases_csv", "path": "cases.csv", "datetime_format": "%Y-%m-%d %H:%M",
            "columns": {"source_id": "Ref", "opened_at": "Logged", "service": "Type", "citizen_key": "Who"},
            **source,
        }}},
    })  # fmt: skip


def test_a_personal_column_cannot_also_be_mapped(tmp_path: Path) -> None:
    config = cases_config(tmp_path, personal_columns=["Name", "Type", ""], groups={})
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    text = str(caught.value)
    assert "etl.sources.cases: personal_columns: 'Type' is also read as columns.service" in text
    assert "personal_columns: expected column names, got an empty one" in text
    # The citizen id's column may be listed: it is pseudonymised, never stored as read.
    load_settings(cases_config(tmp_path, personal_columns=["Name", "Who"]))


def test_a_databases_key_and_updated_at_cannot_be_personal(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"etl": {"sources": {"crm": {
        "kind": "cases_sql", "url": "sqlite:///crm.db", "table": "t", "updated_at": "modified", "key": "id",
        "columns": {"source_id": "id", "opened_at": "created", "service": "kind"},
        "personal_columns": ["modified"],
    }}}})  # fmt: skip
    with pytest.raises(ConfigError, match="'modified' is the source's `updated_at`"):
        load_settings(config)


# --- files, through the real CLI -------------------------------------------------------------

PEOPLE = {
    "C0000001": ("Ann Smith", "1 Mill Lane, Northgate, WM1 1AB", "07700 900001", "AB123456C"),
    "C0000002": ("Wang Fang", "2 Station Road, Riverside, WM2 2CD", "020 7946 0002", "CE654321A"),
    "C0000003": ("Piotr Nowak", "3 Church Street, Old Town, WM4 3EF", "", "GH111111B"),
}
HEADER = ["Ref", "Logged", "Type", "Who", "Name", "Address", "Phone", "NI"]
PERSONAL = ["Name", "Address", "Phone", "NI"]


def write_cases(path: Path, refs: list[tuple[str, str, str, str]]) -> None:
    """(ref, logged, type, citizen) rows, with each citizen's personal details."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows([[ref, logged, kind, who, *PEOPLE.get(who, ("", "", "", ""))] for ref, logged, kind, who in refs])


CASES = [
    ("1", "2025-01-06 09:00", "pothole", "C0000001"),
    ("2", "2025-01-08 09:00", "pothole", "C0000001"),  # a repeat contact
    ("3", "2025-01-06 10:00", "pothole", "C0000002"),
    ("4", "2025-01-06 11:00", "graffiti", "C0000003"),  # unknown service: quarantined
    ("5", "yesterday", "pothole", "C0000002"),  # unreadable time: quarantined
    ("6", "2025-01-07 11:00", "pothole", ""),
]


def personal_values() -> set[str]:
    return {v for who, details in PEOPLE.items() for v in (who, *details) if v}


def stored(config: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(config.parent / "store.db")) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def loaded_files(tmp_path: Path) -> Path:
    write_cases(tmp_path / "cases.csv", CASES)
    config = cases_config(tmp_path, personal_columns=PERSONAL)
    run(config, "init")
    assert "read 6 = loaded 4 (new 4, changed 0, unchanged 0) + quarantined 2" in run(config, "etl", "run").output
    return config


def test_a_file_load_stores_no_personal_value_anywhere(loaded_files: Path, tmp_path: Path, pseudonym_key: str) -> None:
    key = pseudonym_key.encode()
    url = f"sqlite:///{loaded_files.parent / 'store.db'}"
    assert scan(url, Needles(personal_values())) == {}
    pseudonyms = dict(stored(loaded_files, "SELECT source_id, citizen_key FROM cases"))
    assert pseudonyms == {"1": expected("C0000001", key), "2": expected("C0000001", key),
                          "3": expected("C0000002", key), "6": None}  # fmt: skip
    # Not vacuous: the same file loaded with nothing marked leaves them in the quarantine.
    other = tmp_path / "unmarked"
    other.mkdir()
    write_cases(other / "cases.csv", CASES)
    config = write_config(other, {**_settings_of(loaded_files), "store": {"url": f"sqlite:///{other / 'store.db'}"}})
    run(config, "init")
    run(config, "etl", "run")
    found = scan(f"sqlite:///{other / 'store.db'}", Needles(personal_values()))
    assert set(found) == {v for who in ("C0000003", "C0000002") for v in (who, *PEOPLE[who]) if v}
    assert {place for places in found.values() for place in places} == {("quarantine", "raw")}


def _settings_of(config: Path) -> dict:
    """The config without its marks and without citizen_key: a load with nothing protected."""
    import yaml

    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    src = settings["etl"]["sources"]["cases"]
    del src["personal_columns"], src["columns"]["citizen_key"]
    return settings


def test_the_quarantine_export_has_the_columns_but_not_the_values(
    loaded_files: Path, tmp_path: Path, pseudonym_key: str
) -> None:
    key = pseudonym_key.encode()
    out = tmp_path / "fix.csv"
    run(loaded_files, "etl", "quarantine", "--format", "csv", "--out", str(out))
    exported = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(HEADER) <= set(exported.columns)
    assert (exported[PERSONAL] == NOT_STORED).all().all()
    assert exported["Who"].str.fullmatch(r"pseudonym:[0-9a-f]{32}").all()
    # Fixed and loaded again through the same source: same case keys, same pseudonyms.
    exported.loc[exported["Ref"] == "5", "Logged"] = "2025-01-06 12:00"
    exported[HEADER].to_csv(tmp_path / "cases.csv", index=False)
    run(loaded_files, "etl", "run")
    assert stored(loaded_files, "SELECT citizen_key FROM cases WHERE source_id = '5'") == [(expected("C0000002", key),)]


def test_without_the_key_etl_run_stops_and_says_which_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cases(tmp_path / "cases.csv", CASES)
    config = cases_config(tmp_path, personal_columns=PERSONAL)
    run(config, "init")
    monkeypatch.delenv(PSEUDONYM_KEY_ENV)
    result = run(config, "etl", "run", ok=False)
    assert result.exit_code != 0
    assert f"the environment variable {PSEUDONYM_KEY_ENV} is not set" in result.output
    assert "terminal" in result.output
    assert stored(config, "SELECT count(*) FROM cases") == [(0,)]
    [(status, error)] = stored(config, "SELECT status, error FROM etl_runs")
    assert status == "failed" and PSEUDONYM_KEY_ENV in error


def test_a_misspelt_personal_column_stops_the_load(tmp_path: Path) -> None:
    write_cases(tmp_path / "cases.csv", CASES)
    config = cases_config(tmp_path, personal_columns=["Name", "Adress"])
    run(config, "init")
    result = run(config, "etl", "run", ok=False)
    assert "column(s) 'Adress' of personal_columns not found" in result.output
    assert "'Address'" in result.output  # what the file has
    assert stored(config, "SELECT count(*) FROM cases") == [(0,)]


def test_a_new_key_reads_every_file_again(loaded_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new_key = "another-key-for-this-store-" + "9" * 20
    assert "already loaded, skipped" in run(loaded_files, "etl", "run").output
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, new_key)
    out = run(loaded_files, "etl", "run").output
    assert "the pseudonym key changed since its files were loaded; reading every file again" in out
    assert "read 6 = loaded 4 (new 0, changed 3, unchanged 1)" in out  # case 6 has no citizen id
    pseudonyms = dict(stored(loaded_files, "SELECT source_id, citizen_key FROM cases"))
    key = new_key.encode()
    assert pseudonyms == {"1": expected("C0000001", key), "2": expected("C0000001", key),
                          "3": expected("C0000002", key), "6": None}  # fmt: skip
    assert "already loaded, skipped" in run(loaded_files, "etl", "run").output  # and not again


# --- Open311 and databases ----------------------------------------------------------------------


def stamp(days_ago: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).replace(microsecond=0).isoformat()


def test_an_open311_load_drops_the_marked_fields(
    tmp_path: Path,
    city: City,  # noqa: F811
    endpoint: str,  # noqa: F811
    pseudonym_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = pseudonym_key.encode()
    city.requests = [
        req(101, stamp(3), description="Rats behind 12 Elm Row, call Jo on 07700 900123"),
        req(102, stamp(2), service_code="XXX", description="Fox in the garden of 9 Oak Close"),  # quarantined
        req(103, stamp(1), description="Pothole outside 1 Main St"),
    ]
    config = write_config(tmp_path, {
        "services": {"POT": {"department": "Streets"}},
        "etl": {"sources": {"city311": {
            "kind": "cases_open311", "endpoint": endpoint,
            "start": (dt.date.today() - dt.timedelta(days=5)).isoformat(), "retries": 0,
            "columns": {"source_id": "service_request_id", "opened_at": "requested_datetime",
                        "service": "service_code", "citizen_key": "address"},
            "personal_columns": ["address", "lat", "long", "description", "media_url"],
        }}},
    })  # fmt: skip
    run(config, "init")
    assert "read 3 = loaded 2" in run(config, "etl", "run").output
    values = {r[f] for r in city.requests for f in ("address", "description")} | {"41.8781", "-87.6298"}
    assert scan(f"sqlite:///{tmp_path / 'store.db'}", Needles(values)) == {}
    assert dict(stored(config, "SELECT source_id, citizen_key FROM cases")) == {
        "101": expected("101 Main St", key),
        "103": expected("103 Main St", key),
    }
    [(doc,)] = stored(config, "SELECT raw FROM quarantine")
    assert json.loads(doc)["description"] == NOT_STORED
    # A new key: the endpoint is read again from the start.
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "z" * 40)
    out = run(config, "etl", "run").output
    assert "the pseudonym key (CIVIC_METRICS_PSEUDONYM_KEY) changed since its last load" in out
    assert stored(config, "SELECT citizen_key FROM cases WHERE source_id = '101'") == [
        (expected("101 Main St", b"z" * 40),)
    ]


def test_an_open311_error_never_quotes_requests(city: City, endpoint: str) -> None:  # noqa: F811
    body = json.dumps([req(1, stamp(1), description="Call Ann Smith on 07700 900001")])[:-20]  # cut off
    city.script = [(200, body, {})]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with pytest.raises(TransientError) as caught:
        list(request_batches(endpoint, {}, start=start, now=dt.datetime.now(dt.UTC), retries=0))
    assert "not JSON" in str(caught.value) and "not shown" in str(caught.value)
    assert "Ann Smith" not in str(caught.value) and "Main St" not in str(caught.value)


def make_crm(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, created TEXT, kind TEXT, customer TEXT, "
                     "name TEXT, phone TEXT, modified TEXT)")  # fmt: skip
        conn.executemany(
            "INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(i, f"2025-01-0{i} 09:00:00", "pothole", f"C{i % 2}", f"Person {i}", f"07700 90000{i}",
              f"2025-02-01 00:00:0{i}") for i in range(1, 6)],
        )  # fmt: skip


def test_a_database_source_does_not_select_the_marked_columns(
    tmp_path: Path, pseudonym_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = pseudonym_key.encode()
    crm = tmp_path / "crm.db"
    make_crm(crm)
    url = f"sqlite:///{crm}"
    [batch] = sql_batches(url, {}, table="tickets", updated_at="modified", key="id", omit=("name", "phone"))
    assert list(batch.rows.columns) == ["_row", "id", "created", "kind", "customer", "modified"]
    with pytest.raises(ColumnsMissing, match=r"'fone' \(given as personal_columns\) not found in tickets"):
        list(sql_batches(url, {}, table="tickets", updated_at="modified", key="id", omit=("fone",)))
    query = "SELECT id, created, kind, customer, name AS full_name, phone, modified FROM tickets"
    [batch] = sql_batches(url, {}, query=query, updated_at="modified", key="id", omit=("full_name", "phone"))
    assert "full_name" not in batch.rows and "phone" not in batch.rows and len(batch.rows) == 5

    config = write_config(tmp_path, {
        "services": {"pothole": {"department": "Roads"}},
        "etl": {"sources": {"crm": {
            "kind": "cases_sql", "url": url, "table": "tickets", "updated_at": "modified", "key": "id",
            "columns": {"source_id": "id", "opened_at": "created", "service": "kind", "citizen_key": "customer"},
            "personal_columns": ["name", "phone", "customer"],
        }}},
    })  # fmt: skip
    run(config, "init")
    assert "read 5 = loaded 5" in run(config, "etl", "run").output
    values = {f"Person {i}" for i in range(1, 6)} | {f"07700 90000{i}" for i in range(1, 6)} | {"C0", "C1"}
    assert scan(f"sqlite:///{tmp_path / 'store.db'}", Needles(values)) == {}
    assert {k for (k,) in stored(config, "SELECT citizen_key FROM cases")} == {
        expected("C0", key),
        expected("C1", key),
    }
    assert "read 0 = loaded 0" in run(config, "etl", "run").output
    # A new key: the table is read again from the start.
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "y" * 40)
    assert "read 5 = loaded 5 (new 0, changed 5" in run(config, "etl", "run").output
