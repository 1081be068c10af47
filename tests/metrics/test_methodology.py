"""The auditors' methodology (docs/methodology.md) is generated from the catalogue and cannot drift from it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from metrics import methodology
from metrics.catalogue import CATALOGUE_LIST, MetricDefinition
from metrics.methodology import FAMILIES, render, render_methodology, write
from tests.support import REPO

DOC = REPO / "docs" / "methodology.md"
IDS = [m.id for m in CATALOGUE_LIST]


@pytest.fixture(scope="module")
def english() -> str:
    return render_methodology("en")


@pytest.fixture(scope="module")
def chinese() -> str:
    return render_methodology("zh")


def heading(m: MetricDefinition, lang: str = "en") -> str:
    return f"### {m.name.get(lang)} (`{m.id}`)"


def section(text: str, m: MetricDefinition, lang: str = "en") -> str:
    """The text of one indicator's section, from its heading to the next heading."""
    lines = text.split("\n")
    start = lines.index(heading(m, lang))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[start:end])


def test_the_document_is_the_rendered_catalogue(english: str) -> None:
    assert DOC.exists(), f"docs/methodology.md is missing; write it with: {methodology.REGENERATE}"
    assert DOC.read_text(encoding="utf-8") == english, (
        "docs/methodology.md differs from the catalogue's methodology (metrics/methodology.py); "
        f"regenerate it, do not edit it by hand: {methodology.REGENERATE}"
    )


def test_write_writes_the_english_rendering(tmp_path: Path, english: str) -> None:
    path = write(tmp_path / "docs" / "methodology.md")
    assert path.read_bytes() == english.encode("utf-8")
    assert b"\r\n" not in path.read_bytes()


@pytest.mark.parametrize("m", CATALOGUE_LIST, ids=IDS)
def test_every_indicator_has_its_section(english: str, m: MetricDefinition) -> None:
    assert english.count(f"(`{m.id}`)\n") == 1, f"{m.id}: expected exactly one section"
    text = section(english, m)
    assert m.description.en in text
    assert f"- **Formula:** `{m.formula}`" in text
    assert f"- **Version:** {m.version}" in text
    assert f"- **n counts (decides suppression):** {m.n_means}" in text
    assert f"(`{m.unit}`)" in text and f"(`{m.direction}`)" in text
    for required in m.requires:
        assert f"`{required}`" in text.split("- **Computed from:**")[1].split("\n")[0], (m.id, required)


def test_every_indicator_has_its_interval_and_caveats_written() -> None:
    """A new indicator needs its interval and caveats in metrics/methodology.py; an old entry
    left behind for an indicator that is gone is an error too."""
    ids = set(IDS)
    for table in ("INTERVALS", "CAVEATS"):
        entries = set(getattr(methodology, table))
        assert not ids - entries, f"indicators without {table} in metrics/methodology.py: {sorted(ids - entries)}"
        assert not entries - ids, f"{table} entries for indicators not in the catalogue: {sorted(entries - ids)}"
    assert all(methodology.CAVEATS[i] for i in IDS)
    assert not set(methodology.BREAKDOWNS) - ids
    assert not methodology.NO_GROUP_BREAKDOWN - ids


def test_nothing_is_left_undocumented(english: str, chinese: str) -> None:
    assert "not documented yet" not in english
    assert "尚未说明" not in chinese


def test_every_indicator_sits_in_its_family_section_in_catalogue_order(english: str) -> None:
    lines = english.split("\n")
    family_of_heading = {f"## {title.en}": family for family, title, _ in FAMILIES}
    assert len(family_of_heading) == len(FAMILIES)
    placed: dict[str, list[str]] = {}
    family = None
    for line in lines:
        if line.startswith("## "):
            family = family_of_heading.get(line)
        match = re.fullmatch(r"### .* \(`([a-z0-9_]+)`\)", line)
        if match:
            assert family is not None, f"{match[1]} is outside every family section"
            placed.setdefault(family, []).append(match[1])
    expected = {f: [m.id for m in CATALOGUE_LIST if m.family == f] for f, _, _ in FAMILIES}
    expected = {f: ids for f, ids in expected.items() if ids}
    assert placed == expected
    assert sorted(i for ids in placed.values() for i in ids) == sorted(IDS)


def test_an_indicator_of_an_unknown_family_is_refused() -> None:
    stray = dataclasses.replace(CATALOGUE_LIST[0], id="stray", family="staying_power")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stray: family 'staying_power' has no section"):
        render([*CATALOGUE_LIST, stray])


def test_an_unknown_unit_is_refused() -> None:
    stray = dataclasses.replace(CATALOGUE_LIST[0], id="stray", unit="furlongs")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stray"):
        render([stray])


def test_the_chinese_rendering_has_every_chinese_name_and_description(chinese: str) -> None:
    for m in CATALOGUE_LIST:
        assert heading(m, "zh") in chinese, m.id
        text = section(chinese, m, "zh")
        assert m.description.zh in text
        assert f"`{m.formula}`" in text
        assert f"- **版本：** {m.version}" in text
    for _, title, _ in FAMILIES:
        assert f"## {title.zh}" in chinese
    assert "以英文为准" in chinese  # the note that the explanatory sections stay in English


def test_the_english_rendering_has_no_chinese(english: str) -> None:
    assert not re.search(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]", english)


def test_the_fixed_sections_are_there(english: str) -> None:
    for title in ("Conventions", "Uncertainty", "Small-number suppression", "Missing is not zero", "Lineage"):
        assert f"\n## {title}\n" in english
    for phrase in ("Wilson", "Garwood", "log-log", "MOVER", "real_gap", "multiple comparisons", "Greenwood"):
        assert phrase in english


def test_the_across_indicators_say_how_n_departs_from_metrics_md(english: str) -> None:
    for m in CATALOGUE_LIST:
        if m.is_across and m.n_means.startswith("cases behind the categories"):
            assert 'METRICS.md, which gives `n` as "categories used"' in section(english, m), m.id


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        render_methodology("fr")


def test_the_document_ends_with_one_newline(english: str) -> None:
    assert english.endswith("\n") and not english.endswith("\n\n")
    assert not any(line != line.rstrip() for line in english.split("\n"))
