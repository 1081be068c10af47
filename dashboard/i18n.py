"""Two languages, English and Simplified Chinese: which one a request wants, and its words.

The language of a request is its `lang` query parameter, else the `civic_lang` cookie (set by
`/lang/<code>` and by any page opened with `?lang=`), else `dashboard.default_language`.
Dash callbacks are requests too, so they follow the same cookie and every update speaks the
language the page was opened in.

Interface text is written in English in the code, wrapped in `_()` (or marked with `N_()`
where it is looked up later); its Chinese is in `dashboard/locale/zh/*.po`, one catalogue per
part of the dashboard, read with Babel. `tests/dashboard/test_i18n.py` fails when any marked
text has no translation. Numbers and dates are formatted by Babel (`dashboard.formatting`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LANGS = ("en", "zh")
# The Babel locale of each language: British English (the demo ministry's), Simplified Chinese.
LOCALES = {"en": "en_GB", "zh": "zh_Hans_CN"}
# What the switch to each language is called, in that language.
ENDONYMS = {"en": "English", "zh": "中文"}
COOKIE = "civic_lang"
LOCALE_DIR = Path(__file__).parent / "locale"

_forced: ContextVar[str | None] = ContextVar("civic_metrics_lang", default=None)
# The current request's language, worked out once when it starts (`start_request`): a page
# asks at every word and number it writes, and reading Flask's request each time cost more
# than a tenth of a callback.
_request: ContextVar[str | None] = ContextVar("civic_metrics_request_lang", default=None)
_default = "en"


def set_default(lang: str) -> None:
    """The language of a request that asks for none (config `dashboard.default_language`)."""
    global _default
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; expected one of {LANGS}")
    _default = lang


def requested() -> str | None:
    """The language the current Flask request asks for, if any (query parameter, then cookie)."""
    from flask import has_request_context, request

    if not has_request_context():
        return None
    return next((v for v in (request.args.get("lang"), request.cookies.get(COOKIE)) if v in LANGS), None)


def start_request() -> None:
    """Flask `before_request`: settle the request's language once."""
    from flask import g

    g.civic_lang_token = _request.set(requested() or _default)


def end_request(_error: BaseException | None = None) -> None:
    """Flask `teardown_request`: the next request on this thread starts afresh."""
    from flask import g

    token = g.pop("civic_lang_token", None)
    if token is not None:
        _request.reset(token)


def lang() -> str:
    """The language to speak now."""
    return _forced.get() or _request.get() or requested() or _default


@contextmanager
def use(language: str) -> Iterator[None]:
    """Speak `language` inside the block, whatever the request asks (tests, reports)."""
    if language not in LANGS:
        raise ValueError(f"unknown language {language!r}; expected one of {LANGS}")
    token = _forced.set(language)
    try:
        yield
    finally:
        _forced.reset(token)


def locale() -> str:
    """The Babel locale of the current language."""
    return LOCALES[lang()]


@cache
def catalogue(language: str) -> dict[str, str]:
    """English text to `language`'s, merged from every catalogue file of the language."""
    out: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / language).glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f, locale=LOCALES[language]):
                if message.id and message.string and not message.fuzzy:
                    out[str(message.id)] = str(message.string)
    return out


def _(text: str) -> str:
    """`text` in the current language (the English itself when there is no translation)."""
    language = lang()
    if language == "en":
        return text
    return catalogue(language).get(text, text)


def N_(text: str) -> str:
    """Mark `text` for translation where it is defined; `_()` translates it where shown."""
    return text


def page_title(name: str) -> Any:
    """A page's browser title in the current language (Dash calls it on each page load)."""

    def title(**_path: object) -> str:
        return f"{_(name)} · civic-metrics"

    return title
