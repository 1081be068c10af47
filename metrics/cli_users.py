"""`civic-metrics users`: the dashboard's accounts, managed from the command line (the first
admin too). Every change is recorded in the audit log as done by `cli:<os user>`.

Passwords come from `CIVIC_METRICS_USER_PASSWORD` when set (scripts), else from a hidden
prompt asked twice; never from an argument, which shell history and `ps` would keep.
"""

from __future__ import annotations

import click

from metrics.access import ROLES
from metrics.cli import Ctx, pass_ctx


def _password(obj: Ctx) -> str:
    from metrics.config import Secrets

    given = Secrets().user_password
    if given is not None:
        return given.get_secret_value()
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _run(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    from metrics.users import AccountError

    try:
        return fn(*args, **kwargs)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


SCOPE_OPTIONS = (
    click.option("--service", "services", multiple=True,
                 help="programme_manager: a service id (config.yaml services) in their scope (repeatable)."),
    click.option("--department", "departments", multiple=True,
                 help="programme_manager: a department in their scope, with all its services (repeatable)."),
)  # fmt: skip


def scope_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(SCOPE_OPTIONS):
        f = option(f)
    return f


@click.group("users")
def users_group() -> None:
    """Manage the accounts that may open the dashboard."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="minister_office: every programme's figures and the briefings; programme_manager: the figures "
              "of their scope only; auditor: every figure, read-only, with the audit and operations pages; admin: "
              "everything.")  # fmt: skip
@scope_options
@pass_ctx
def users_add(obj: Ctx, username: str, role: str, services: tuple[str, ...], departments: tuple[str, ...]) -> None:
    """Create an account (the password is asked for, or read from CIVIC_METRICS_USER_PASSWORD)."""
    from metrics import audit, users

    engine = obj.engine()
    account = _run(users.add, engine, username, _password(obj), role, actor=audit.cli_actor(), services=services,
                   departments=departments, min_password_length=obj.settings.auth.min_password_length,
                   known_services=obj.settings.service_department())  # fmt: skip
    click.echo(f"account {account.username} created: {describe(account)}")


@users_group.command("list")
@pass_ctx
def users_list(obj: Ctx) -> None:
    """Every account: name, role, scope, whether it may log in."""
    from metrics import users

    accounts = users.all_accounts(obj.engine())
    if not accounts:
        click.echo("no account yet: create the first admin with `civic-metrics users add NAME --role admin`")
    for a in accounts:
        click.echo(f"{a.username:<24} {describe(a)}")


@users_group.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@pass_ctx
def users_disable(obj: Ctx, username: str, enable: bool) -> None:
    """Stop an account from logging in; its open sessions end at their next request."""
    from metrics import audit, users

    account = _run(users.set_active, obj.engine(), username, enable, actor=audit.cli_actor())
    click.echo(f"account {account.username}: {describe(account)}")


@users_group.command("set-role")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The new role.")
@scope_options
@pass_ctx
def users_set_role(obj: Ctx, username: str, role: str, services: tuple[str, ...], departments: tuple[str, ...]) -> None:
    """Give an account another role (a programme_manager needs --service or --department)."""
    from metrics import audit, users

    account = _run(users.set_role, obj.engine(), username, role, actor=audit.cli_actor(), services=services,
                   departments=departments, known_services=obj.settings.service_department())  # fmt: skip
    click.echo(f"account {account.username}: {describe(account)}")


@users_group.command("set-scope")
@click.argument("username")
@scope_options
@pass_ctx
def users_set_scope(obj: Ctx, username: str, services: tuple[str, ...], departments: tuple[str, ...]) -> None:
    """Replace a programme manager's scope with these services and departments."""
    from metrics import audit, users

    account = _run(users.set_scope, obj.engine(), username, actor=audit.cli_actor(), services=services,
                   departments=departments, known_services=obj.settings.service_department())  # fmt: skip
    click.echo(f"account {account.username}: {describe(account)}")


@users_group.command("set-password")
@click.argument("username")
@pass_ctx
def users_set_password(obj: Ctx, username: str) -> None:
    """Set a new password (asked for, or CIVIC_METRICS_USER_PASSWORD); open sessions end."""
    from metrics import audit, users

    account = _run(users.set_password, obj.engine(), username, _password(obj), actor=audit.cli_actor(),
                   min_password_length=obj.settings.auth.min_password_length)  # fmt: skip
    click.echo(f"account {account.username}: new password set")


def describe(account) -> str:  # type: ignore[no-untyped-def]
    scope = ""
    if account.role == "programme_manager":
        parts = [f"services {', '.join(account.services)}"] if account.services else []
        parts += [f"departments {', '.join(account.departments)}"] if account.departments else []
        scope = " (" + "; ".join(parts) + ")"
    return f"{account.role}{scope}, {'active' if account.active else 'disabled'}"
