"""The settings and store the running dashboard reads, set once by `create_app`.

Dash pages are modules, imported by Dash itself, so they cannot be handed arguments; they
ask this registry instead.
"""

from __future__ import annotations

from sqlalchemy import Engine

from metrics.config import Settings

_settings: Settings | None = None
_engine: Engine | None = None


def configure(settings: Settings, engine: Engine) -> None:
    global _settings, _engine
    _settings = settings
    _engine = engine


def settings() -> Settings:
    if _settings is None:
        raise RuntimeError("the dashboard is not configured: build it with dashboard.app.create_app")
    return _settings


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("the dashboard is not configured: build it with dashboard.app.create_app")
    return _engine
