"""Personal data in case sources: marked columns dropped as they are read, citizen ids kept
only as keyed pseudonyms.

A case source lists its personal columns in `personal_columns` (names, addresses, phone
numbers, national ids, precise coordinates, free text). They are dropped from every batch
as it is read (a file's rows, an Open311 window; a database source does not even select
them), before anything is mapped, validated, quarantined or stored: no table of the store
ever holds them, the quarantine included. A marked column the source does not have is a
terminal error, since a misspelt name would leave the real column in place.

The column mapped to `citizen_key` is read, because repeat contacts need to know that two
cases are the same person's, but only its pseudonym is kept: the first 32 hex digits (128
bits) of HMAC-SHA256(key, id as UTF-8), with the key from the environment variable
`CIVIC_METRICS_PSEUDONYM_KEY`. The same id under the same key always gives the same
pseudonym, so repeat contacts still count, across sources too; without the key nobody can
tell from a pseudonym whose it is, or compute one from an id. An empty id stays missing. In
the quarantine the id's column holds `pseudonym:<hex>`, which a row fixed from the
quarantine export and loaded again keeps as that pseudonym (it is not hashed twice), and
each personal column holds NOT_STORED: the row keeps its columns, so it loads again through
the same source, but none of their values.

The key is at least 32 characters; loading a source that maps citizen_key without it stops
with a terminal error naming the variable. Changing the key changes every pseudonym: a
case source notices (a fingerprint of the key is kept with its position) and reads all its
files, or its database or endpoint from the start, again, so no store mixes the two.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets

import pandas as pd

from etl.errors import ColumnsMissing, TerminalError
from metrics.config import CaseMapping, CasesSqlSource, Secrets

PSEUDONYM_KEY_ENV = "CIVIC_METRICS_PSEUDONYM_KEY"
MIN_KEY_LENGTH = 32
# 128 bits: no two of even billions of ids share one by chance (the birthday bound is 2**64).
PSEUDONYM_HEX = 32
QUARANTINE_PREFIX = "pseudonym:"
# What the quarantine holds in a personal column's place.
NOT_STORED = "(personal data, not stored)"
_CARRIED = re.compile(re.escape(QUARANTINE_PREFIX) + f"[0-9a-f]{{{PSEUDONYM_HEX}}}")
_FINGERPRINT_MESSAGE = b"civic-metrics pseudonym key fingerprint"


class PseudonymKeyMissing(TerminalError):
    pass


def needs_key(src: CaseMapping) -> bool:
    return "citizen_key" in src.columns or "citizen_key" in src.constants


def pseudonym_key(job: str, src: CaseMapping) -> bytes | None:
    """The key for the source's citizen ids (None: it maps none), from the environment."""
    if not needs_key(src):
        return None
    secret = Secrets().pseudonym_key
    text = secret.get_secret_value() if secret is not None else ""
    column = src.columns.get("citizen_key", "a constant")
    how = (
        f"a secret of at least {MIN_KEY_LENGTH} characters, the same for every load into this store "
        '(e.g. python -c "import secrets; print(secrets.token_hex(32))")'
    )
    if not text:
        raise PseudonymKeyMissing(
            f"{job}: the source maps citizen_key ({column!r}), which is stored only as a keyed pseudonym, "
            f"and the environment variable {PSEUDONYM_KEY_ENV} is not set; set it to {how}"
        )
    if len(text) < MIN_KEY_LENGTH:
        raise PseudonymKeyMissing(
            f"{job}: the environment variable {PSEUDONYM_KEY_ENV} has {len(text)} characters; expected {how}"
        )
    return text.encode("utf-8")


def pseudonym(value: str, key: bytes) -> str:
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()[:PSEUDONYM_HEX]


def pseudonymise(ids: pd.Series, key: bytes | None) -> pd.Series:
    """Each id's pseudonym; an empty or missing id stays missing (None). An id the
    quarantine wrote as `pseudonym:<hex>` is that pseudonym already."""
    present = ids.notna() & (ids.astype(str) != "")
    if not present.any():
        return pd.Series(None, index=ids.index, dtype=object)
    if key is None:
        raise TerminalError("citizen ids to pseudonymise but no key (etl.privacy.pseudonym_key)")
    distinct = pd.unique(ids[present].astype(str))
    # HMAC as RFC 2104 defines it, with the key's two padded hash states made once:
    # hmac.digest derives them again for every id, twice as slow over millions of them.
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    cut = len(QUARANTINE_PREFIX)
    table = {}
    for v in distinct:
        if v.startswith(QUARANTINE_PREFIX) and _CARRIED.fullmatch(v):
            table[v] = v[cut:]
            continue
        i = inner.copy()
        i.update(v.encode("utf-8"))
        o = outer.copy()
        o.update(i.digest())
        table[v] = o.hexdigest()[:PSEUDONYM_HEX]
    return ids.astype(str).map(table).where(present, None).astype(object)


def key_fingerprint(key: bytes | None) -> str | None:
    """What the store keeps to notice a changed key: tells keys apart, reveals nothing of one."""
    return None if key is None else hmac.digest(key, _FINGERPRINT_MESSAGE, "sha256").hex()[:16]


def dropped_columns(src: CaseMapping) -> list[str]:
    """The personal columns dropped as the source is read (the citizen id's is read, for
    its pseudonym, and is never stored as read)."""
    citizen = src.columns.get("citizen_key")
    return [c for c in dict.fromkeys(src.personal_columns) if c != citizen]


def drop_personal(rows: pd.DataFrame, src: CaseMapping, where: str) -> pd.DataFrame:
    """The batch without its personal columns; each must be there (a misspelt name would
    leave the real column in)."""
    drop = dropped_columns(src)
    if not drop:
        return rows
    have = [c for c in rows.columns if c != "_row"]
    if missing := [c for c in drop if c not in have]:
        raise ColumnsMissing(
            f"{where}: column(s) {', '.join(map(repr, missing))} of personal_columns not found (check the "
            f"spelling: the real column would be kept); the source gives: {', '.join(map(repr, have))}"
        )
    return rows.drop(columns=drop)


def sql_omitted(src: CaseMapping) -> tuple[str, ...]:
    return tuple(dropped_columns(src)) if isinstance(src, CasesSqlSource) else ()


def demo_key() -> bool:
    """For `civic-metrics demo`: a key for this process when the environment has none (the
    demo loads its cases afresh on every run). True when one was made."""
    if os.environ.get(PSEUDONYM_KEY_ENV):
        return False
    os.environ[PSEUDONYM_KEY_ENV] = secrets.token_hex(32)
    return True
