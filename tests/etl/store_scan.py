"""Find given values anywhere in a store: every column of every row of every table.

For the privacy tests (tests/etl/test_privacy.py, tests/realdata/test_real_pii.py): the
tables are listed with SQLAlchemy's inspector, so a table added later is scanned too, and
every distinct value of every column is read as text (numbers and times as well: a
coordinate could be stored as a number). A needle counts as found where it is a stored
value, or inside one: within a JSON document (the quarantine's rows), an error message, a
reason. Inside JSON a value may appear escaped, so its JSON-escaped forms are looked for
too. Inside a text a value counts as a token: not as part of a longer run of letters and
digits, where a six-digit coordinate would be "found" inside a hexadecimal digest or a
decimal by chance. Needles shorter than `MIN_SUBSTRING` characters ("N", "12") would be
found inside anything, so they count only as a whole value, or as a whole string inside a
JSON text.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

import sqlalchemy as sa

MIN_SUBSTRING = 5


def stored_texts(url: str) -> Iterator[tuple[str, str, str]]:
    """(table, column, value as text) for each distinct non-null value of every column of
    every table of the store."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        tables = inspector.get_table_names()
        assert tables, f"no tables in {url}"
        with engine.connect() as conn:
            for table in tables:
                for column in inspector.get_columns(table):
                    name = column["name"]
                    query = sa.text(f'SELECT DISTINCT "{name}" FROM "{table}" WHERE "{name}" IS NOT NULL')
                    for (value,) in conn.execute(query):
                        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                        yield table, name, text
    finally:
        engine.dispose()


class Needles:
    """A set of values to look for, each indexed by the one of its substrings of
    `MIN_SUBSTRING` characters that the fewest other values share, so that a long text is
    read once for all of them and few are compared at any place of it (many addresses begin
    alike, many free texts with "Case Closed")."""

    def __init__(self, values: Iterable[str]):
        self.whole: set[str] = {v.strip() for v in values if v and v.strip()}
        forms = [
            (form, value)
            for value in self.whole
            if len(value) >= MIN_SUBSTRING
            for form in {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
        ]
        k = MIN_SUBSTRING
        grams = [{form[i : i + k]: i for i in range(len(form) - k, -1, -1)} for form, _ in forms]
        shared = Counter(g for gs in grams for g in gs)
        # gram -> (offset of the gram in the form, form, value)
        self.by_gram: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for (form, value), gs in zip(forms, grams, strict=True):
            gram = min(gs, key=lambda g: shared[g])
            self.by_gram[gram].append((gs[gram], form, value))

    def __len__(self) -> int:
        return len(self.whole)

    def found_in(self, text: str) -> set[str]:
        hits = {text} & self.whole
        k = MIN_SUBSTRING
        index = self.by_gram
        for i in range(len(text) - k + 1):
            candidates = index.get(text[i : i + k])
            if candidates:
                hits.update(value for at, form, value in candidates if _token_at(text, form, i - at))
        if text[:1] in "[{":
            hits |= self._json_strings(text) & self.whole
        return hits

    @staticmethod
    def _json_strings(text: str) -> set[str]:
        try:
            doc = json.loads(text)
        except ValueError:
            return set()
        out: set[str] = set()
        stack = [doc]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
                out.update(str(k).strip() for k in item)
            elif isinstance(item, list):
                stack.extend(item)
            elif item is not None:
                out.add(str(item).strip())
        return out


def _token_at(text: str, form: str, i: int) -> bool:
    if i < 0 or not text.startswith(form, i):
        return False
    end = i + len(form)
    before = i > 0 and form[0].isalnum() and text[i - 1].isalnum()
    after = end < len(text) and form[-1].isalnum() and text[end].isalnum()
    return not (before or after)


def scan(url: str, needles: Needles) -> dict[str, set[tuple[str, str]]]:
    """Each needle found, with the (table, column) places it was found in."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for table, column, text in stored_texts(url):
        for value in needles.found_in(text):
            found[value].add((table, column))
    return dict(found)
