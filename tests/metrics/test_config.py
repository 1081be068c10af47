"""Config validation: every problem reported at once, each naming file, line, key and what
was expected; secrets only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.config import ConfigError, load_settings
from metrics.store.db import store_url
from tests.support import REPO, run


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return info.value.problems


def test_the_shipped_config_is_valid() -> None:
    s = load_settings(REPO / "config.yaml")
    assert len(s.regions) >= 12 and len(s.services) == 15 and len(s.channels) == 5
    assert sum(v.entitlement for v in s.services.values()) >= 3
    assert all(g.not_stated in g.values for g in s.groups.values()) and len(s.groups) >= 4
    assert s.privacy.min_cell_size == 10


def test_every_problem_is_reported_at_once_with_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
timezone: Europe/London
privacy:
  min_cell_size: ten
services:
  pothole: {department: Transport, deadline_working_days: -3}
  housing: {department: Housing, deadlin_working_days: 5}
groups:
  age_band:
    label: {en: Age}
    values: [Young, Old]
    reference: Middle
""",
    )
    found = problems_of(path)
    text = "\n".join(found)
    assert len(found) == 4, text
    assert "config.yaml:3: privacy.min_cell_size: Input should be a valid integer" in text
    assert "got 'ten'" in text
    assert "config.yaml:5: services.pothole.deadline_working_days" in text and "greater than or equal to 0" in text
    assert "config.yaml:6: services.housing.deadlin_working_days: unknown key" in text
    assert "config.yaml:8: groups.age_band: " in text
    assert "reference 'Middle' is not one of values" in text and "not-stated value" in text


def test_cross_section_problems_are_collected_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
timezone: Mars/Olympus
calendar: {holiday_country: XX}
store: {url: "postgresql+psycopg://civic:hunter2@db/civic"}
targets:
  happiness_index: {target: 1, threshold: 0.5}
channels: [phone]
metrics:
  combinations: [[region, sex], [region, shoe_size], [region]]
services:
  pothole: {department: Transport}
groups:
  sex: {label: {en: Sex}, values: [Female, Male, Not stated], reference: Female}
etl:
  sources:
    cases:
      kind: cases_csv
      path: cases.csv
      columns: {source_id: id, opened_at: opened, service: type, colour: c}
      groups: {sex: s, shoe_size: z}
      values:
        channel: {TEL: telephone}
""",
    )
    found = problems_of(path)
    text = "\n".join(found)
    # The schema problem of the source and the single-value checks come in one report.
    assert "etl.sources.cases" in text and "unknown canonical fields ['colour']" in text
    assert "config.yaml:1: timezone: unknown time zone 'Mars/Olympus'" in text
    assert "config.yaml:2: calendar.holiday_country: 'XX' is not a country" in text
    assert "config.yaml:3: store.url: contains a password" in text
    assert "config.yaml:5: targets.happiness_index: unknown indicator" in text
    # Checks between sections need the sections to be well-formed: a second pass.
    path = write(tmp_path, path.read_text().replace(", colour: c", ""))
    text = "\n".join(problems_of(path))
    assert "store.url: contains a password" in text
    assert "etl.sources.cases.groups.shoe_size: unknown group attribute" in text
    assert "etl.sources.cases.values.channel.TEL: maps to 'telephone', which is not one of ['phone']" in text
    assert "config.yaml:8: metrics.combinations.1: expected two or more different dimensions" in text
    assert "metrics.combinations.2: expected two or more" in text
    assert "metrics.combinations.0" not in text


def test_config_check_prints_problems_and_exits_non_zero(tmp_path: Path) -> None:
    path = write(tmp_path, "privacy: {min_cell_size: 0}\nunknown_section: 1\n")
    result = run(path, "config", "check", ok=False)
    assert result.exit_code == 1
    assert "privacy.min_cell_size" in result.output and "unknown_section: unknown key" in result.output
    assert "2 problem(s)" in result.output


def test_missing_file_is_named(tmp_path: Path) -> None:
    found = problems_of(tmp_path / "nope.yaml")
    assert found == ["file not found (set --config or CIVIC_METRICS_CONFIG)"]


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "store: {url: 'postgresql+psycopg://civic@db.example/civic'}\n")
    s = load_settings(path)
    monkeypatch.delenv("CIVIC_METRICS_STORE_URL", raising=False)
    monkeypatch.setenv("CIVIC_METRICS_DB_PASSWORD", "s3cret")
    assert store_url(s) == "postgresql+psycopg://civic:s3cret@db.example/civic"
    monkeypatch.setenv("CIVIC_METRICS_STORE_URL", "sqlite:///elsewhere.db")
    assert store_url(s) == "sqlite:///elsewhere.db"


def test_relative_sqlite_path_resolves_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIVIC_METRICS_STORE_URL", raising=False)
    monkeypatch.delenv("CIVIC_METRICS_DB_PASSWORD", raising=False)
    path = write(tmp_path, "store: {url: 'sqlite:///var/x.db'}\n")
    assert store_url(load_settings(path)) == f"sqlite:///{tmp_path / 'var' / 'x.db'}"


def test_settings_are_frozen() -> None:
    s = load_settings(REPO / "config.yaml")
    with pytest.raises(Exception, match="frozen"):
        s.privacy.min_cell_size = 1  # type: ignore[misc]


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, "- a\n- b\n")) == ["top level: expected a mapping of settings"]
    assert "not valid YAML" in problems_of(write(tmp_path, "a: [\n"))[0]


def test_targets_must_fit_the_indicator_direction(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
targets:
  on_time_rate: {target: 0.8, threshold: 0.9}
  resolution_days_median: {target: 5, threshold: 3}
  cases_opened: {target: 100, threshold: 90}
""",
    )
    text = "\n".join(problems_of(path))
    assert "config.yaml:2: targets.on_time_rate: threshold 0.9 is above target 0.8" in text
    assert "config.yaml:3: targets.resolution_days_median: threshold 3.0 is below target 5.0" in text
    assert "config.yaml:4: targets.cases_opened: direction 'neutral' has no on-track side" in text


def test_a_value_with_the_slice_separator_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'channels: [phone, "web|app"]\nregions: [{id: "North|East"}]\n')
    text = "\n".join(problems_of(path))
    assert "config.yaml:1: channels.1: 'web|app' contains '|', which separates the parts of a slice" in text
    assert "regions.0.id: 'North|East' contains '|'" in text
