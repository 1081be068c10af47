"""The PII scan: real 311 files loaded with their personal columns marked leave none of
those values, and no raw citizen id, anywhere in the store.

NYC 311 (2019-12-31 evening, 2013-12-25) and Boston 311 (2019, animal/pest subset) are
loaded through the real CLI (`init`, `etl run`, `metrics refresh`) by the configs
`*_pii.yaml` beside this file, which say which columns are personal and why; the request's
address stands in for a citizen id. Then every column of every row of every table of the
store (tables listed by SQLAlchemy's inspector) is searched for each distinct value of the
marked columns, as a whole value and inside JSON text (tests/etl/store_scan.py). The values
looked for come straight from the raw CSV, and the expected pseudonyms from Python's `hmac`.

So that the scan can fail, the same file is loaded again with nothing marked and no
citizen_key: then the scan must find the personal values of every row the configs send to
the quarantine (they configure only a few services strictly, so many rows go there).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd
import pytest
import yaml
from sqlalchemy import create_engine, text

from etl.privacy import NOT_STORED
from tests.etl.store_scan import Needles, scan
from tests.realdata.conftest import HERE
from tests.support import run

pytestmark = pytest.mark.realdata

NAMES = ("nyc_2019", "nyc_2013", "boston_2019")


@dataclass
class Loaded:
    name: str
    source: dict[str, Any]  # the source's settings, as the yaml gives them
    services: set[str]
    raw: pd.DataFrame  # the CSV as text
    url: str  # the store with personal columns marked
    control_url: str  # the same file loaded with nothing marked
    etl_output: str

    @property
    def personal(self) -> list[str]:
        return list(self.source["personal_columns"])

    @property
    def citizen(self) -> str:
        return self.source["columns"]["citizen_key"]

    def values(self, rows: pd.Series | None = None) -> set[str]:
        """Distinct non-empty values of the personal columns (the citizen id's among them)."""
        frame = self.raw if rows is None else self.raw[rows]
        cols = [*self.personal, self.citizen]
        return {v.strip() for col in cols for v in frame[col] if v.strip()}

    def query(self, sql: str, url: str | None = None) -> list[tuple]:
        engine = create_engine(url or self.url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql))]
        finally:
            engine.dispose()


def write(name: str, settings: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f"{name}.yaml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return config


@pytest.fixture(scope="module", params=NAMES)
def loaded(request: pytest.FixtureRequest, real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    template = Template((HERE / f"{name}_pii.yaml").read_text(encoding="utf-8"))
    stores = {kind: f"sqlite:///{(folder / kind / 'store.db').as_posix()}" for kind in ("marked", "control")}
    marked = yaml.safe_load(template.substitute(store_url=stores["marked"], data_dir=real_data.as_posix()))
    source = marked["etl"]["sources"][name]
    config = write(name, marked, folder / "marked")
    run(config, "init")
    etl_output = run(config, "etl", "run").output
    run(config, "metrics", "refresh")

    control = yaml.safe_load(template.substitute(store_url=stores["control"], data_dir=real_data.as_posix()))
    plain = control["etl"]["sources"][name]
    del plain["personal_columns"], plain["columns"]["citizen_key"]
    config = write(name, control, folder / "control")
    run(config, "init")
    run(config, "etl", "run")

    raw = pd.read_csv(Path(source["path"]), dtype=str, keep_default_na=False, encoding="utf-8")
    return Loaded(name, source, set(marked["services"]), raw, stores["marked"], stores["control"], etl_output)


def test_the_configs_mark_columns_the_files_have(loaded: Loaded) -> None:
    assert set(loaded.personal) <= set(loaded.raw.columns)
    assert loaded.citizen in loaded.personal
    # Many values to look for, and every quarantined row holds some of them.
    assert len(loaded.values()) > 1000


def test_no_personal_value_nor_raw_citizen_id_is_stored_anywhere(loaded: Loaded) -> None:
    needles = Needles(loaded.values())
    found = scan(loaded.url, needles)
    shown = {v: sorted(places) for v, places in list(found.items())[:10]}
    assert not found, f"{len(found)} personal value(s) found in the store, e.g. {shown}"


def test_the_scan_finds_them_when_nothing_is_marked(loaded: Loaded) -> None:
    """The control: the quarantine keeps a refused row's columns, so without the marks the
    personal values of every row refused for its service are there to be found."""
    service = loaded.raw[loaded.source["columns"]["service"]].str.strip()
    refused = ~service.isin(loaded.services)
    expected = loaded.values(refused)
    assert len(expected) > 500
    found = scan(loaded.control_url, Needles(loaded.values()))
    missed = expected - set(found)
    assert not missed, f"{len(missed)} of {len(expected)} not found, e.g. {sorted(missed)[:5]}"
    assert {table for places in found.values() for table, _ in places} == {"quarantine"}


def test_citizen_ids_are_stored_as_their_hmac_pseudonyms(loaded: Loaded, pseudonym_key: str) -> None:
    key = pseudonym_key.encode("utf-8")
    ids = loaded.raw[loaded.source["columns"]["source_id"]].str.strip()
    address = loaded.raw[loaded.citizen].str.strip()
    expected = {
        i: (hmac.new(key, a.encode("utf-8"), hashlib.sha256).hexdigest()[:32] if a else None)
        for i, a in zip(ids, address, strict=True)
    }
    stored = dict(loaded.query("SELECT source_id, citizen_key FROM cases"))
    assert len(stored) > 0.5 * len(ids)
    assert stored == {i: expected[i] for i in stored}
    # Repeat requests about one address share one pseudonym, as repeat contacts need.
    shared = loaded.query("SELECT count(*) FROM cases GROUP BY citizen_key HAVING count(*) > 1")
    assert shared, "no address with more than one request"


def test_quarantined_rows_keep_their_columns_without_the_values(loaded: Loaded, pseudonym_key: str) -> None:
    rows = loaded.query("SELECT row_number, raw FROM quarantine")
    read = int(loaded.etl_output.split(" = loaded")[0].rsplit("read ", 1)[1].replace(",", ""))
    assert read == len(loaded.raw) and len(rows) > 0.3 * read
    ids = loaded.raw[loaded.citizen].str.strip()
    key = pseudonym_key.encode("utf-8")
    for number, stored in rows:
        doc = json.loads(stored)
        assert set(doc) == set(loaded.raw.columns)
        assert all(doc[c] == NOT_STORED for c in loaded.personal if c != loaded.citizen)
        # The citizen id as its pseudonym, the one its case would carry.
        raw_id = ids.iloc[number - 1]
        pseudonym = hmac.new(key, raw_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        assert doc[loaded.citizen] == (f"pseudonym:{pseudonym}" if raw_id else "")
