"""Every text of the dashboard has its Chinese, and the language follows the reader.

The texts are found the way a translator's tool finds them: string literals passed to `_()`
or `N_()` anywhere under dashboard/, plus what the catalogue's indicators say their `n`
counts (shown through `_()`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dashboard import i18n
from dashboard.formatting import format_value, month_label
from metrics.catalogue import CATALOGUE

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def marked_texts() -> dict[str, str]:
    """Every literal marked for translation, with where it is (file:line)."""
    out: dict[str, str] = {}
    for path in sorted(DASHBOARD.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "N_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                out.setdefault(node.args[0].value, f"{path.relative_to(DASHBOARD.parent)}:{node.lineno}")
    for m in CATALOGUE.values():
        out.setdefault(m.n_means, f"metrics/catalogue.py ({m.id}.n_means)")
    return out


def test_the_extraction_finds_texts() -> None:
    texts = marked_texts()
    # A broken extraction (finding nothing) would make the next test pass vacuously.
    assert len(texts) > 100
    assert "Overview" in texts and "Download these figures (CSV)" in texts


def test_every_marked_text_has_a_chinese_translation() -> None:
    zh = i18n.catalogue("zh")
    missing = {text: where for text, where in marked_texts().items() if text.strip() and text not in zh}
    assert not missing, "texts without a translation in dashboard/locale/zh/*.po:\n" + "\n".join(
        f"  {where}: {text!r}" for text, where in sorted(missing.items(), key=lambda kv: kv[1])
    )


def test_translations_keep_their_placeholders() -> None:
    """A translation that drops or renames {n} would fail at run time with KeyError."""
    field = re.compile(r"\{([^{}]*)\}")
    wrong = {
        en: zh
        for en, zh in i18n.catalogue("zh").items()
        if sorted(field.findall(en)) != sorted(field.findall(zh))
    }
    assert not wrong, wrong


def test_language_is_chosen_by_parameter_then_cookie_then_default() -> None:
    from flask import Flask

    app = Flask(__name__)
    with app.test_request_context("/?lang=zh"):
        assert i18n.lang() == "zh"
    with app.test_request_context("/", headers={"Cookie": f"{i18n.COOKIE}=zh"}):
        assert i18n.lang() == "zh"
    with app.test_request_context("/?lang=xx", headers={"Cookie": f"{i18n.COOKIE}=en"}):
        assert i18n.lang() == "en"
    with app.test_request_context("/"):
        assert i18n.lang() == "en"
        with i18n.use("zh"):
            assert i18n.lang() == "zh"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.set_default("fr")


def test_numbers_and_dates_follow_the_locale() -> None:
    import datetime as dt

    with i18n.use("en"):
        assert format_value(12345.6, "count") == "12,346"
        assert format_value(0.8123, "proportion") == "81.2%"
        assert month_label(dt.date(2026, 10, 1)) == "October 2026"
        assert i18n._("Overview") == "Overview"
    with i18n.use("zh"):
        assert month_label(dt.date(2026, 10, 1)) == "2026年10月"
        assert format_value(3.5, "days") == "3.5天"
        assert i18n._("Overview") == "概览"
