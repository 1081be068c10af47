"""Helpers for the tests of login, roles and scope: accounts, a logged-in test client, and
requests sent straight to Dash's callback endpoint as a browser would send them."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine

from metrics import users

PASSWORD = "correct horse battery staple"
SECRET = "test-secret-key-" + "0" * 32
# One account of every role; the programme manager's scope is one service.
ACCOUNTS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "minister": ("minister_office", {}),
    "manager": ("programme_manager", {"services": ("bin_collection",)}),
    "auditor": ("auditor", {}),
    "admin": ("admin", {}),
}


def add_accounts(engine: Engine) -> None:
    for name, (role, scope) in ACCOUNTS.items():
        if users.get(engine, name) is None:
            users.add(engine, name, PASSWORD, role, actor="test", **scope)


def csrf_of(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"csrf_token": csrf_of(client), "username": username, "password": password,
                                       "next": "/"})  # fmt: skip


def route_page(client: FlaskClient, path: str, search: str = "") -> Any:
    """Dash's page routing callback, as the browser sends it when the address changes."""
    return client.post(
        "/_dash-update-component",
        json={
            "output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"],
            "state": [],
        },
    )  # fmt: skip


def call(client: FlaskClient, dependency: dict[str, Any], values: dict[str, Any]) -> Any:
    """One callback of `/_dash-dependencies`, its inputs and states set from `values` by
    property id (`overview-filter-service.value`), None where not given."""

    def props(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    output = dependency["output"]
    outputs = [dict(zip(("id", "property"), o.split("."), strict=True)) for o in output.strip(".").split("...")]
    return client.post(
        "/_dash-update-component",
        json={"output": output, "outputs": outputs if output.startswith("..") else outputs[0],
              "inputs": props(dependency["inputs"]), "state": props(dependency["state"]),
              "changedPropIds": [f"{i['id']}.{i['property']}" for i in dependency["inputs"][:1]]},
    )  # fmt: skip
