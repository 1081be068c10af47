"""Targets, holidays and events: config.yaml's, together with the tables loaded from files.

Programme offices often keep targets and holiday lists in spreadsheets that change more
often than the config. A loaded table adds to the config; for the same indicator (a
target) or the same date and label (an event) the table wins, being the newer word. Holiday
and working-day dates from tables are added to the config's extra ones.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, inspect, select

from metrics.config import Annotation, Names, Settings, Target
from metrics.store.models import AnnotationRow, CalendarDay, TargetRow


def with_store_lookups(settings: Settings, engine: Engine) -> Settings:
    if not inspect(engine).has_table("targets"):  # a store not yet upgraded
        return settings
    with engine.connect() as conn:
        targets = pd.read_sql(select(TargetRow.__table__), conn)
        days = pd.read_sql(select(CalendarDay.__table__), conn)
        events = pd.read_sql(select(AnnotationRow.__table__), conn)
    if targets.empty and days.empty and events.empty:
        return settings
    merged_targets = dict(settings.targets) | {
        r.metric: Target(target=r.target, threshold=r.threshold) for r in targets.itertuples()
    }
    days["day"] = pd.to_datetime(days["day"]).dt.date
    holidays = sorted(set(settings.calendar.extra_holidays) | set(days.loc[days["kind"] == "holiday", "day"]))
    working = sorted(set(settings.calendar.extra_working_days) | set(days.loc[days["kind"] == "working_day", "day"]))
    events["day"] = pd.to_datetime(events["day"]).dt.date
    loaded = {
        (r.day, r.label_en): Annotation(
            date=r.day, label=Names(en=r.label_en, zh=r.label_zh if isinstance(r.label_zh, str) else None), kind=r.kind
        )
        for r in events.itertuples()
    }
    annotations = [a for a in settings.annotations if (a.date, a.label.en) not in loaded] + list(loaded.values())
    return settings.model_copy(
        update={
            "targets": merged_targets,
            "calendar": settings.calendar.model_copy(
                update={"extra_holidays": tuple(holidays), "extra_working_days": tuple(working)}
            ),
            "annotations": tuple(sorted(annotations, key=lambda a: a.date)),
        }
    )
