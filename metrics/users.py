"""Accounts: create, change and check them (the `civic-metrics users` commands and the
dashboard's login both come here), each change recorded in the audit log.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second recommended
setting); a hash made with older parameters is re-hashed at the next successful login.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update

from metrics import audit
from metrics.access import ROLES, Scope, scope_for
from metrics.store.models import User

HASHER = PasswordHasher()
# Checked when the account does not exist, so a wrong name takes as long as a wrong password
# and response times do not tell which accounts exist.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A change that cannot be made, in a sentence the operator can act on."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    services: tuple[str, ...]
    departments: tuple[str, ...]
    active: bool
    session_key: str

    def scope(self, service_department: Mapping[str, str]) -> Scope:
        return scope_for(self.role, self.services, self.departments, service_department)


def _account(row: Any) -> Account:
    return Account(
        id=int(row.id), username=row.username, role=row.role, services=tuple(json.loads(row.services or "[]")),
        departments=tuple(json.loads(row.departments or "[]")), active=bool(row.active), session_key=row.session_key,
    )  # fmt: skip


def get(engine: Engine, username: str) -> Account | None:
    with engine.connect() as conn:
        row = conn.execute(select(User.__table__).where(User.username == username)).first()
    return None if row is None else _account(row)


def by_id(engine: Engine, user_id: int) -> Account | None:
    with engine.connect() as conn:
        row = conn.execute(select(User.__table__).where(User.id == user_id)).first()
    return None if row is None else _account(row)


def all_accounts(engine: Engine) -> list[Account]:
    with engine.connect() as conn:
        return [_account(r) for r in conn.execute(select(User.__table__).order_by(User.username))]


def check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; expected one of {list(ROLES)}")


def check_password(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise AccountError(f"the password must have at least {min_length} characters (auth.min_password_length)")


def check_scope(role: str, services: tuple[str, ...], departments: tuple[str, ...],
                known_services: Mapping[str, str]) -> None:  # fmt: skip
    """A programme manager needs a scope of known services and departments; nobody else has one."""
    if role != "programme_manager":
        if services or departments:
            raise AccountError(f"only a programme_manager has a scope; a {role} reads every programme")
        return
    if not services and not departments:
        raise AccountError("a programme_manager needs a scope: give --service or --department (repeatable)")
    if known_services:
        unknown = sorted(set(services) - set(known_services))
        if unknown:
            raise AccountError(f"unknown service(s) {unknown}; config.yaml services has {sorted(known_services)}")
        unknown = sorted(set(departments) - set(known_services.values()))
        if unknown:
            known = sorted(set(known_services.values()))
            raise AccountError(f"unknown department(s) {unknown}; config.yaml has {known}")


def add(
    engine: Engine, username: str, password: str, role: str, *, actor: str, services: tuple[str, ...] = (),
    departments: tuple[str, ...] = (), min_password_length: int = 12, known_services: Mapping[str, str] | None = None,
) -> Account:  # fmt: skip
    username = username.strip()
    if not username:
        raise AccountError("the username is empty")
    check_role(role)
    check_scope(role, services, departments, known_services or {})
    check_password(password, min_password_length)
    if get(engine, username) is not None:
        raise AccountError(f"an account {username!r} exists already")
    stamp = audit.now()
    with engine.begin() as conn:
        conn.execute(
            insert(User).values(
                username=username, password_hash=HASHER.hash(password), role=role,
                services=json.dumps(sorted(services)), departments=json.dumps(sorted(departments)), active=True,
                session_key=secrets.token_hex(16), created_at=stamp, updated_at=stamp,
            )
        )  # fmt: skip
    audit.record(engine, "user_add", actor=actor, target=username,
                 detail={"role": role, "services": sorted(services), "departments": sorted(departments)})  # fmt: skip
    return get(engine, username)  # type: ignore[return-value]


def _change(engine: Engine, username: str, action: str, actor: str, detail: dict[str, Any], **values: Any) -> Account:
    if get(engine, username) is None:
        raise AccountError(f"no account {username!r} (see `civic-metrics users list`)")
    with engine.begin() as conn:
        conn.execute(update(User).where(User.username == username).values(updated_at=audit.now(), **values))
    audit.record(engine, action, actor=actor, target=username, detail=detail)
    return get(engine, username)  # type: ignore[return-value]


def set_active(engine: Engine, username: str, active: bool, *, actor: str) -> Account:
    # A new session key ends the sessions the account has open now.
    return _change(engine, username, "user_enable" if active else "user_disable", actor, {},
                   active=active, session_key=secrets.token_hex(16))  # fmt: skip


def set_role(
    engine: Engine, username: str, role: str, *, actor: str, services: tuple[str, ...] = (),
    departments: tuple[str, ...] = (), known_services: Mapping[str, str] | None = None,
) -> Account:  # fmt: skip
    """A new role, with the scope it needs (a programme manager's) or none (every other role)."""
    check_role(role)
    check_scope(role, services, departments, known_services or {})
    scope = {"services": sorted(services), "departments": sorted(departments)}
    return _change(engine, username, "user_set_role", actor, {"role": role, **scope}, role=role,
                   **{k: json.dumps(v) for k, v in scope.items()})  # fmt: skip


def set_scope(engine: Engine, username: str, *, actor: str, services: tuple[str, ...], departments: tuple[str, ...],
              known_services: Mapping[str, str] | None = None) -> Account:  # fmt: skip
    account = get(engine, username)
    if account is None:
        raise AccountError(f"no account {username!r} (see `civic-metrics users list`)")
    check_scope(account.role, services, departments, known_services or {})
    scope = {"services": sorted(services), "departments": sorted(departments)}
    return _change(engine, username, "user_set_scope", actor, scope,
                   **{k: json.dumps(v) for k, v in scope.items()})  # fmt: skip


def set_password(engine: Engine, username: str, password: str, *, actor: str, min_password_length: int = 12) -> Account:
    check_password(password, min_password_length)
    return _change(engine, username, "user_set_password", actor, {},
                   password_hash=HASHER.hash(password), session_key=secrets.token_hex(16))  # fmt: skip


def signed_in_elsewhere(engine: Engine, username: str) -> Account | None:
    """The active account of someone a single sign-on provider vouched for (no password here),
    its last login noted; None when there is no such active account."""
    account = get(engine, username) if username else None
    if account is None or not account.active:
        return None
    with engine.begin() as conn:
        conn.execute(update(User).where(User.id == account.id).values(last_login_at=audit.now()))
    return account


def verify(engine: Engine, username: str, password: str) -> Account | None:
    """The active account whose password this is; None otherwise (same work either way)."""
    with engine.connect() as conn:
        row = conn.execute(select(User.__table__).where(User.username == username)).first()
    try:
        HASHER.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    values: dict[str, Any] = {"last_login_at": audit.now()}
    if HASHER.check_needs_rehash(row.password_hash):
        values["password_hash"] = HASHER.hash(password)
    with engine.begin() as conn:
        conn.execute(update(User).where(User.id == row.id).values(**values))
    return _account(row)
