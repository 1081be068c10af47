"""Names of dimensions, their values and indicators, in the current language.

Regions and services carry their names in config.yaml; group values, channels and
departments take theirs from `dashboard.value_names`; a value with no name is shown as stored.
"""

from __future__ import annotations

from dashboard.i18n import N_, _, lang
from metrics.catalogue import CATALOGUE
from metrics.config import Settings

DIMENSIONS = {
    "region": N_("Region"),
    "channel": N_("Channel"),
    "service": N_("Service"),
    "department": N_("Department"),
}


def dim_label(settings: Settings, dim: str) -> str:
    """ "Region", "Age band"..."""
    if dim in settings.groups:
        return settings.groups[dim].label.get(lang())
    return _(DIMENSIONS[dim]) if dim in DIMENSIONS else dim


def value_label(settings: Settings, dim: str, value: str) -> str:
    """A dimension value's name: "Northgate", "Missed bin collection", "65 and over"."""
    language = lang()
    if dim == "region":
        region = next((r for r in settings.regions if r.id == value), None)
        if region is not None and region.name is not None:
            return region.name.get(language)
    elif dim == "service":
        service = settings.services.get(value)
        if service is not None and service.name is not None:
            return service.name.get(language)
    names = settings.dashboard.value_names.get(value)
    return names.get(language) if names is not None else value


def slice_label(settings: Settings, dims: dict[str, str]) -> str:
    """A slice in words: "Northgate, 65 and over"; "Everyone" for the whole population."""
    if not dims:
        return _("Everyone")
    return _(", ").join(value_label(settings, d, v) for d, v in sorted(dims.items()))


def metric_name(metric: str) -> str:
    return CATALOGUE[metric].name.get(lang())


def metric_description(metric: str) -> str:
    return CATALOGUE[metric].description.get(lang())


def dim_values(settings: Settings, dim: str) -> tuple[str, ...]:
    """The configured values of a dimension, in configured order (empty when not configured)."""
    if dim == "region":
        return tuple(r.id for r in settings.regions)
    if dim == "channel":
        return tuple(settings.channels)
    if dim == "service":
        return tuple(settings.services)
    if dim == "department":
        return tuple(dict.fromkeys(s.department for s in settings.services.values()))
    if dim in settings.groups:
        return tuple(settings.groups[dim].values)
    return ()
