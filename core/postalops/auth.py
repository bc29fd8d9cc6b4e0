"""Passwords, API tokens, permissions and the one decorator that checks them."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, func, select

from .context import Principal, principal
from .db import utcnow
from .errors import Forbidden, PostalOpsError, Unauthorized, ValidationError
from .models import ApiToken, LoginFailure, OrgUnit, User
from .tenancy import in_subtree

__all__ = [
    "require_permission",
    "check_permission",
    "create_user",
]


F = TypeVar("F", bound=Callable[..., Any])

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters

ADMIN_ROLE = "admin"


class TooManyAttempts(PostalOpsError):
    status = 429
    code = "too_many_attempts"


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValidationError(
            "password must have at least 8 characters",
            details=[{"field": "password", "message": "too short"}],
        )
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def role_permissions(registry: Any, roles: Iterable[str]) -> frozenset[str]:
    """Permissions granted by ``roles`` from every plugin's defaults; ``admin`` holds all."""
    roles = set(roles)
    if ADMIN_ROLE in roles:
        return frozenset({"*"})
    granted = {p.name for p in registry.permissions() if roles & set(p.roles)}
    for role in registry.roles():
        if role.name in roles:
            granted.update(role.grants)
    return frozenset(granted)


def known_roles(registry: Any) -> dict[str, Any]:
    return {r.name: r for r in registry.roles()}


def create_user(
    session: Session,
    registry: Any,
    *,
    username: str,
    password: str,
    unit_code: str,
    roles: Iterable[str],
    display_name: str = "",
    password_hash: str | None = None,
) -> User:
    """Create a portal user (``postalops users create`` and the admin page use this).

    ``password_hash`` (a hash of ``password`` made earlier) lets a bulk creator hash once."""
    roles = list(dict.fromkeys(roles))
    errors = []
    if not username or len(username) > 80:
        errors.append({"field": "username", "message": "1-80 characters"})
    elif session.exec(select(User).where(User.username == username)).first():
        errors.append({"field": "username", "message": "already taken"})
    if session.exec(select(OrgUnit).where(OrgUnit.code == unit_code)).first() is None:
        errors.append({"field": "unit", "message": f"unknown unit {unit_code!r}"})
    unknown = [r for r in roles if r not in known_roles(registry)]
    if unknown:
        errors.append({"field": "roles", "message": f"unknown roles {unknown}"})
    if errors:
        raise ValidationError("invalid user", details=errors)
    user = User(
        username=username,
        password_hash=password_hash or hash_password(password),
        home_unit_code=unit_code,
        roles=roles,
        display_name=display_name or username,
    )
    try:
        # The name may be taken in a unit this caller cannot see (row-level security hides
        # other units' users): the unique index answers, inside a savepoint.
        with session.begin_nested():
            session.add(user)
            session.flush()
    except sa.exc.IntegrityError as exc:
        raise ValidationError(
            "invalid user", details=[{"field": "username", "message": "already taken"}]
        ) from exc
    return user


@dataclass(frozen=True)
class LoginPolicy:
    """How failed logins are throttled (``POSTALOPS_LOGIN_*`` settings; README lists them).

    Failures are rows of ``core_login_failure`` in the database, which every web process
    shares, so the limits hold across gunicorn workers and hosts:

    - per account and address: ``per_pair`` failures within a minute -> 429;
    - per account, whatever the address: from ``backoff_after`` failures within the window each
      try waits ``backoff_seconds`` doubled per further failure after the last one; from
      ``lock_after`` failures the account is locked (the right password is refused too) until
      fewer than ``lock_after`` remain in the ``lock_minutes`` window;
    - per address, across accounts: ``address_max`` failures within the window -> 429.

    A refused try counts as a failure, so hammering a locked account keeps it locked.
    """

    per_pair: int = 5
    backoff_after: int = 5
    backoff_seconds: int = 2
    lock_after: int = 10
    lock_minutes: int = 15
    address_max: int = 20

    @classmethod
    def from_settings(cls, settings: Any) -> LoginPolicy:
        return cls(
            per_pair=settings.login_max_failures,
            backoff_after=settings.login_backoff_after,
            backoff_seconds=settings.login_backoff_seconds,
            lock_after=settings.login_lock_after,
            lock_minutes=settings.login_lock_minutes,
            address_max=settings.login_address_max_failures,
        )


def _throttle(session: Session, username: str, address: str, policy: LoginPolicy) -> None:
    """Raise :class:`TooManyAttempts` when this try must not even be checked."""
    now = utcnow()
    window = now - dt.timedelta(minutes=policy.lock_minutes)
    count, last = session.exec(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.username == username, LoginFailure.at >= window
        )
    ).one()
    if count >= policy.lock_after:
        raise TooManyAttempts(
            f"account locked after {count} failed logins; try again later",
            code="account_locked",
            details=[{"field": "username", "retry_after_minutes": policy.lock_minutes}],
        )
    if count >= policy.backoff_after and last is not None:
        wait = min(
            policy.backoff_seconds * 2 ** (count - policy.backoff_after), policy.lock_minutes * 60
        )
        if now < last + dt.timedelta(seconds=wait):
            raise TooManyAttempts(
                "too many failed logins for this account; wait and try again",
                details=[{"field": "username", "retry_after_seconds": wait}],
            )
    pair, by_address = session.exec(
        select(
            func.count().filter(
                LoginFailure.username == username,
                LoginFailure.at >= now - dt.timedelta(minutes=1),
            ),
            func.count(),
        ).where(LoginFailure.address == address, LoginFailure.at >= window)
    ).one()
    if pair >= policy.per_pair:
        raise TooManyAttempts("too many failed logins; wait a minute and try again")
    if by_address >= policy.address_max:
        raise TooManyAttempts(
            "too many failed logins from this address; wait and try again",
            details=[{"field": "address", "retry_after_minutes": policy.lock_minutes}],
        )


_DUMMY_HASH: list[str] = []


def _fail(session: Session, username: str, address: str) -> None:
    session.add(LoginFailure(username=username[:80], address=address[:64]))
    session.commit()


def check_login(
    session: Session,
    username: str,
    password: str,
    address: str,
    policy: LoginPolicy | None = None,
) -> User:
    """Verify a login under the throttling ``policy`` (:class:`LoginPolicy`).

    ``address`` is the client's address as the WSGI server (behind ``POSTALOPS_TRUSTED_PROXIES``
    proxies, ProxyFix) saw it, never a header the client wrote."""
    policy = policy or LoginPolicy()
    try:
        _throttle(session, username, address, policy)
    except TooManyAttempts:
        _fail(session, username, address)
        raise
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(_hasher.hash(secrets.token_hex(16)))
        verify_password(_DUMMY_HASH[0], password)  # same work whether the name exists or not
    if user is None or not user.active or not verify_password(user.password_hash, password):
        _fail(session, username, address)
        raise Unauthorized("wrong username or password", code="bad_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    session.execute(sa.delete(LoginFailure).where(LoginFailure.username == username))
    session.commit()
    return user


def end_sessions(session: Session, user_id: int) -> int:
    """Bump the user's ``session_version``: every session cookie signed before is refused.

    Returns the new version (the caller may stamp it into a session it keeps)."""
    session.execute(
        sa.update(User)
        .where(User.id == user_id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    return session.exec(select(User.session_version).where(User.id == user_id)).one()


def set_password(session: Session, user: User, password: str) -> None:
    """Change a password (validated, argon2id) and end the user's sessions."""
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    user.session_version = end_sessions(session, user.id)


def set_active(session: Session, user: User, active: bool) -> None:
    """Enable or disable a user; disabling ends their sessions."""
    user.active = active
    session.add(user)
    session.flush()
    if not active:
        user.session_version = end_sessions(session, user.id)


def _digest(secret: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session,
    registry: Any,
    *,
    name: str,
    unit_code: str,
    permissions: Iterable[str],
    created_by: str | None,
    expires_at: dt.datetime | None = None,
    subject: str | None = None,
    secret: str | None = None,
) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the secret, which is shown only once.

    ``secret`` is for the core's own clients that derive theirs (``postalops simulate``);
    everyone else gets a random one."""
    permissions = sorted(set(permissions))
    known = {p.name for p in registry.permissions()}
    errors = []
    unknown = [p for p in permissions if p not in known]
    if unknown:
        errors.append({"field": "permissions", "message": f"unknown permissions {unknown}"})
    if not permissions:
        errors.append({"field": "permissions", "message": "at least one permission"})
    if session.exec(select(OrgUnit).where(OrgUnit.code == unit_code)).first() is None:
        errors.append({"field": "unit", "message": f"unknown unit {unit_code!r}"})
    if not name:
        errors.append({"field": "name", "message": "required"})
    if errors:
        raise ValidationError("invalid token", details=errors)
    secret = secret or "po_" + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=secret[:10],
        token_hash=_digest(secret),
        unit_code=unit_code,
        permissions=permissions,
        created_by=created_by,
        expires_at=expires_at,
        subject=subject,
    )
    session.add(token)
    session.flush()
    return token, secret


def token_lookup(secret: str) -> dict[tuple[str, str], str]:
    """The sign-in lookup that lets an unscoped session find this secret's token row
    (``Database.session(None, lookups=token_lookup(secret))``; PostgreSQL row-level security)."""
    return {("core_api_token", "token_hash"): _digest(secret)}


def user_lookup(*, username: str | None = None, user_id: int | None = None) -> dict:
    """The sign-in lookup for one user row, by name (login) or id (the session's user)."""
    if username is not None:
        return {("core_user", "username"): username}
    return {("core_user", "id"): user_id}


def authenticate_token(session: Session, secret: str) -> ApiToken:
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(secret))).first()
    if token is None:
        raise Unauthorized("invalid API token", code="bad_token")
    now = utcnow()
    if token.revoked_at is not None:
        raise Unauthorized("API token revoked", code="token_revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("API token expired", code="token_expired")
    return token


_TOKEN = ApiToken.__table__
_BEARER = sa.select(
    _TOKEN.c.id,
    _TOKEN.c.name,
    _TOKEN.c.unit_code,
    _TOKEN.c.permissions,
    _TOKEN.c.subject,
    _TOKEN.c.revoked_at,
    _TOKEN.c.expires_at,
).where(_TOKEN.c.token_hash == sa.bindparam("digest"))


def authenticate_bearer(session: Session, secret: str) -> Principal:
    """The principal of a bearer token: :func:`authenticate_token`'s checks on one indexed
    Core query (no ORM object to build), what every API request pays. The session needs the
    sign-in lookup of :func:`token_lookup` on PostgreSQL."""
    row = session.connection().execute(_BEARER, {"digest": _digest(secret)}).first()
    if row is None:
        raise Unauthorized("invalid API token", code="bad_token")
    if row.revoked_at is not None:
        raise Unauthorized("API token revoked", code="token_revoked")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise Unauthorized("API token expired", code="token_expired")
    return Principal(
        kind="token",
        name=f"token:{row.id}:{row.name}",
        home_unit=row.unit_code,
        permissions=frozenset(row.permissions),
        token_id=row.id,
        subject=row.subject,
    )


def user_principal(user: User, registry: Any) -> Principal:
    return Principal(
        kind="user",
        name=f"user:{user.username}",
        home_unit=user.home_unit_code,
        permissions=role_permissions(registry, user.roles),
        user_id=user.id,
        roles=tuple(user.roles),
    )


def token_principal(token: ApiToken) -> Principal:
    return Principal(
        kind="token",
        name=f"token:{token.id}:{token.name}",
        home_unit=token.unit_code,
        permissions=frozenset(token.permissions),
        token_id=token.id,
        subject=token.subject,
    )


def require_permission(permission: str) -> Callable[[F], F]:
    """Decorator for views and service functions: 403 unless the caller holds ``permission``."""

    def deco(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check_permission(permission)
            return fn(*args, **kwargs)

        wrapper.__postalops_permission__ = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return deco


def check_permission(permission: str) -> Principal:
    who = principal()
    if not who.can(permission):
        raise Forbidden(
            f"missing permission {permission}",
            code="missing_permission",
            details=[{"permission": permission}],
        )
    return who


def visible_unit(who: Principal, unit_code: str) -> bool:
    return who.kind == "system" or (
        who.home_unit is not None and in_subtree(unit_code, who.home_unit)
    )


def revoke_token(session: Session, who: Principal, token_id: int) -> ApiToken:
    """Revoke a token of the caller's subtree (idempotent, audited); 404 outside it."""
    from . import audit
    from .errors import NotFound

    token = session.get(ApiToken, token_id)
    if token is None or not visible_unit(who, token.unit_code):
        raise NotFound(f"no token {token_id}", details=[{"field": "token_id"}])
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        audit.record(
            "core.token.revoke",
            target_type="token",
            target_id=token.id,
            tenant=token.unit_code,
            before={"revoked": False},
            after={"revoked": True},
            session=session,
            actor=who.name,
        )
    return token
