"""Who may read which figures: roles, and the scope of a programme manager.

The scope in force is a context variable, set for each dashboard request from the logged-in
account (`dashboard.auth`) and read by `metrics.query.read_cells`, so every page callback,
export and report that reads cells through the query layer gets only what the reader may see,
whatever the request asks for. Outside a request (the command line, the worker) nothing sets
it and everything is readable: those run with the store's own credentials.

What a scoped programme manager may read: the cells of a slice that fixes a service or a
department in their scope (a department in scope brings its services). A cell of the whole
population, of a region, channel or group without a service or department, or an index
computed across services of a department outside their scope is about other programmes' cases
too, so it is not returned: the pages show it as missing. Everything is decided on the
cells' own dimensions, after suppression, so a scoped reader never sees more than anyone else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import pandas as pd

ROLES = ("minister_office", "programme_manager", "auditor", "admin")
# The roles that read every programme's figures; a programme manager reads those of a scope.
ALL_PROGRAMMES = ("minister_office", "auditor", "admin")


@dataclass(frozen=True)
class Scope:
    """What a reader may read: everything, or the slices of some services and departments."""

    everything: bool = False
    services: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()

    def admits(self, dims: Mapping[str, str]) -> bool:
        """Whether a cell of the slice `dims` may be read."""
        if self.everything:
            return True
        return dims.get("service") in self.services or dims.get("department") in self.departments


EVERYTHING = Scope(everything=True)
NOTHING = Scope()


def scope_for(
    role: str, services: list[str] | tuple[str, ...], departments: list[str] | tuple[str, ...],
    service_department: Mapping[str, str],
) -> Scope:  # fmt: skip
    """The scope of an account: every figure for the roles that see all programmes; for a
    programme manager, their services plus every service of their departments."""
    if role in ALL_PROGRAMMES:
        return EVERYTHING
    if role != "programme_manager":
        return NOTHING
    deps = frozenset(departments)
    services_in = {s for s, d in service_department.items() if d in deps}
    return Scope(services=frozenset(services) | frozenset(services_in), departments=deps)


_current: ContextVar[Scope] = ContextVar("civic_metrics_scope", default=EVERYTHING)


def current() -> Scope:
    return _current.get()


def enter(scope: Scope) -> object:
    """Put `scope` in force for the current context; returns the token `leave` takes."""
    return _current.set(scope)


def leave(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


@contextmanager
def scoped(scope: Scope) -> Iterator[None]:
    token = enter(scope)
    try:
        yield
    finally:
        leave(token)


def restrict(df: pd.DataFrame, scope: Scope | None = None) -> pd.DataFrame:
    """The rows of a frame of cells (with a `dims` column of dicts) that `scope` (default: the
    one in force) admits. The frame itself when everything is admitted (frames may be shared
    between requests: never modified here)."""
    scope = current() if scope is None else scope
    if scope.everything or df.empty:
        return df
    return df[df["dims"].map(scope.admits).astype(bool)]
