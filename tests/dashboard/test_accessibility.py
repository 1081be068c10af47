"""WCAG 2.2 AA on every page, in both languages: axe-core in real headless Chromium.

axe-core comes from the npm registry (`make test` installs it into .venv/axe); every page of
`dash.page_registry` is opened in English and in Chinese, and axe runs with the WCAG 2.0,
2.1 and 2.2 A and AA rules. Zero violations is the bar: a new page is covered by being a page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dash
import pytest

from dashboard.app import create_app

pytestmark = pytest.mark.browser

DEFAULT_AXE = Path(__file__).resolve().parents[2] / ".venv/axe/node_modules/axe-core/axe.min.js"
AXE = Path(os.environ.get("CIVIC_METRICS_AXE", DEFAULT_AXE))
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _violations(driver) -> list[dict]:
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
           .then(r => done(JSON.stringify(r.violations)))
           .catch(e => done(JSON.stringify([{id: "axe-error", description: String(e), nodes: []}])));
        """,
        TAGS,
    )
    return json.loads(result)


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v.get('impact')}): {v.get('description')}")
        for node in v.get("nodes", [])[:5]:
            lines.append(f"    {node.get('target')}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


@pytest.mark.skipif(not AXE.exists(), reason=f"axe-core is not installed at {AXE} (make test installs it with npm)")
def test_every_page_passes_axe_in_both_languages(dash_duo, demo_store):
    settings, engine = demo_store
    dash_duo.start_server(create_app(settings, engine))
    dash_duo.driver.set_script_timeout(60)
    paths = [page["relative_path"] for page in dash.page_registry.values()]
    assert "/" in paths and len(paths) >= 2
    failures = {}
    for lang in ("en", "zh"):
        for path in paths:
            dash_duo.wait_for_page(f"{dash_duo.server_url}{path}?lang={lang}")
            dash_duo.wait_for_element("#main h1", timeout=20)
            html_lang = dash_duo.driver.find_element("css selector", "html").get_attribute("lang")
            assert html_lang == lang, (path, html_lang)
            found = _violations(dash_duo.driver)
            if found:
                failures[f"{path} [{lang}]"] = _describe(found)
    assert not failures, "\n".join(f"{page}:\n{text}" for page, text in failures.items())
