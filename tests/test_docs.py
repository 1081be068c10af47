"""Every setting of config.yaml is documented in docs/settings.md (a test, so it stays so)."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator

from pydantic import BaseModel

from metrics.config import Secrets, Settings
from tests.support import REPO


def setting_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        path = f"{prefix}{name}"
        yield path
        yield from _nested(field.annotation, path)


def _nested(annotation: object, path: str) -> Iterator[str]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from setting_paths(annotation, path + ".")
    elif origin is dict:
        yield from _nested(args[1], path + ".<name>")
    elif origin in (tuple, list):
        yield from _nested(args[0], path + ".[]")
    elif origin in (typing.Union, types.UnionType, typing.Annotated):
        for arg in args:
            yield from _nested(arg, path)


def test_every_setting_is_documented() -> None:
    doc = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    missing = sorted({p for p in setting_paths(Settings) if f"`{p}`" not in doc})
    assert not missing, f"settings missing from docs/settings.md: {missing}"


def test_every_secret_is_documented() -> None:
    doc = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    names = [f"CIVIC_METRICS_{n.upper()}" for n in Secrets.model_fields]
    assert names and all(f"`{n}`" in doc for n in names), names


def test_the_walker_sees_nested_settings() -> None:
    paths = set(setting_paths(Settings))
    assert {
        "privacy.min_cell_size",
        "services.<name>.deadline_working_days",
        "etl.sources.<name>.columns",
        "regions.[].kind",
        "groups.<name>.label.zh",
    } <= paths
