"""Dashboard users: scrypt password hashes, lockout after failed sign-ins, expiring sessions.

A session is an API key bound to a user (`api_keys.user_id`, `api_keys.expires_at`), so the
API authenticates sessions and keys the same way; signing out revokes the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from citysentinel.events.model import utcnow
from citysentinel.storage.admin import ApiKeyInfo, Role, hash_key
from citysentinel.storage.tables import api_keys, users

# scrypt cost: N=2**14, r=8, p=1 (the OWASP minimum for scrypt) needs 16 MiB per check; the
# cost is stored with each hash, so it can be raised later without invalidating old hashes.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
SESSION_PREFIX = "cs_s_"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


class UserError(ValueError):
    """A bad username or password, or a user that exists already / does not exist."""


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """A salted scrypt hash in the form `scrypt$n$r$p$salt$hash` (base64).

    Example:
        >>> h = hash_password("correct horse", n=2**4)
        >>> h.startswith("scrypt$16$8$1$"), verify_password("correct horse", h)
        (True, True)
    """
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`, compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 2**20, dklen=HASH_BYTES
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _key_info(row: dict[str, Any]) -> ApiKeyInfo:
    fields = {k: v for k, v in row.items() if k != "hash"}
    return ApiKeyInfo(**{**fields, "role": Role(fields["role"])})


# Verified against when the username is unknown, so a miss costs as much as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise UserError(
            "username must be 1-100 characters: letters, digits and _ . @ -, "
            "starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")
    if len(password.encode()) > MAX_PASSWORD:
        raise UserError(f"password must have at most {MAX_PASSWORD} bytes")
    return password


@dataclass(frozen=True)
class UserInfo:
    """A user as listed (never the password hash)."""

    id: str
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    last_login: datetime | None
    failed_logins: int
    locked_until: datetime | None


class LoginOutcome(StrEnum):
    OK = "ok"
    UNKNOWN_USER = "unknown_user"
    BAD_PASSWORD = "bad_password"
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class LoginResult:
    """What a sign-in attempt gave: on OK the session key (plain, shown once) and its info."""

    outcome: LoginOutcome
    user: UserInfo | None = None
    session: ApiKeyInfo | None = None
    token: str | None = None
    locked_until: datetime | None = None


class UserStore:
    """Users and their sign-in sessions.

    Example:
        >>> from citysentinel.storage.db import make_engine
        >>> from citysentinel.storage.tables import metadata
        >>> engine = make_engine("sqlite://"); metadata.create_all(engine)
        >>> store = UserStore(engine, scrypt_n=2**4)
        >>> _ = store.create_user("ana", "long enough", Role.OPERATOR)
        >>> store.login("ana", "long enough").outcome.value
        'ok'
    """

    def __init__(
        self,
        engine: Engine,
        *,
        session_ttl: timedelta = timedelta(hours=8),
        lock_after: int = 5,
        lock_for: timedelta = timedelta(minutes=5),
        scrypt_n: int = SCRYPT_N,
    ) -> None:
        self.engine = engine
        self.session_ttl = session_ttl
        self.lock_after = lock_after
        self.lock_for = lock_for
        self.scrypt_n = scrypt_n

    def create_user(self, username: str, password: str, role: Role) -> UserInfo:
        row = {
            "id": uuid.uuid4().hex,
            "username": check_username(username),
            "password_hash": hash_password(check_password(password), n=self.scrypt_n),
            "role": role.value,
            "disabled": False,
            "created_at": utcnow(),
            "last_login": None,
            "failed_logins": 0,
            "locked_until": None,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(users.insert(), [row])
        except IntegrityError as exc:
            raise UserError(f"user {username!r} exists already") from exc
        return self._info(row)

    def get(self, username: str) -> UserInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return self._info(dict(row._mapping)) if row else None

    def list_users(self) -> list[UserInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).all()
        return [self._info(dict(r._mapping)) for r in rows]

    def set_disabled(self, username: str, disabled: bool = True) -> UserInfo:
        """Disable (or enable) a user; disabling ends their sessions at once."""
        with self.engine.begin() as conn:
            user_id = self._require(conn, username)
            conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))
            if disabled:
                self._end_sessions(conn, user_id)
        info = self.get(username)
        assert info is not None
        return info

    def set_password(self, username: str, password: str) -> None:
        """Set a new password, clear any lockout and end the user's sessions."""
        hashed = hash_password(check_password(password), n=self.scrypt_n)
        with self.engine.begin() as conn:
            user_id = self._require(conn, username)
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(password_hash=hashed, failed_logins=0, locked_until=None)
            )
            self._end_sessions(conn, user_id)

    def login(self, username: str, password: str) -> LoginResult:
        """Check a password; on success open a session that ends after `session_ttl`."""
        now = utcnow()
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            verify_password(password, _DUMMY_HASH)
            return LoginResult(LoginOutcome.UNKNOWN_USER)
        user = self._info(dict(row._mapping))
        attempt, locked_until = self._reserve_attempt(user.id, now)
        if locked_until is not None:
            # While locked the password is not checked, so guessing gains nothing; the dummy
            # check keeps a locked user as slow to answer as any other.
            verify_password(password, _DUMMY_HASH)
            return LoginResult(LoginOutcome.LOCKED, user, locked_until=locked_until)
        if not verify_password(password, row.password_hash):
            if attempt >= self.lock_after:
                return LoginResult(LoginOutcome.LOCKED, user, locked_until=self._lock(user.id, now))
            return LoginResult(LoginOutcome.BAD_PASSWORD, user)
        if user.disabled:
            return LoginResult(LoginOutcome.DISABLED, user)
        return self._open_session(user, now)

    def _reserve_attempt(self, user_id: str, now: datetime) -> tuple[int, datetime | None]:
        """Count an attempt before its password is checked: (its number, lock end if locked).

        Counting first, in one transaction, means parallel guesses serialize on the user's row,
        so a burst cannot get more than `lock_after` passwords checked per lock period.
        """
        unlocked = or_(users.c.locked_until.is_(None), users.c.locked_until <= now)
        with self.engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user_id, unlocked)
                .values(failed_logins=users.c.failed_logins + 1)
            )
            got = conn.execute(
                select(users.c.failed_logins, users.c.locked_until).where(users.c.id == user_id)
            ).one()
        if got.locked_until is not None and got.locked_until > now:
            return got.failed_logins, got.locked_until
        if got.failed_logins > self.lock_after:
            return got.failed_logins, self._lock(user_id, now)
        return got.failed_logins, None

    def _lock(self, user_id: str, now: datetime) -> datetime:
        until = now + self.lock_for
        with self.engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_logins=0, locked_until=until)
            )
        return until

    def _open_session(self, user: UserInfo, now: datetime) -> LoginResult:
        plain = SESSION_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": uuid.uuid4().hex,
            "name": user.username,
            "prefix": plain[:10],
            "hash": hash_key(plain),
            "role": user.role.value,
            "created_at": now,
            "created_by": f"login:{user.username}",
            "revoked_at": None,
            "last_used_at": None,
            "user_id": user.id,
            "expires_at": now + self.session_ttl,
        }
        with self.engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(last_login=now, failed_logins=0, locked_until=None)
            )
            conn.execute(api_keys.insert(), [row])
        session = _key_info(row)
        return LoginResult(LoginOutcome.OK, user, session, plain)

    @staticmethod
    def _require(conn: Connection, username: str) -> str:
        user_id = conn.scalar(select(users.c.id).where(users.c.username == username))
        if user_id is None:
            raise UserError(f"no user {username!r}")
        return str(user_id)

    @staticmethod
    def _end_sessions(conn: Connection, user_id: str) -> None:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    @staticmethod
    def _info(row: dict[str, Any]) -> UserInfo:
        return UserInfo(
            id=row["id"],
            username=row["username"],
            role=Role(row["role"]),
            disabled=bool(row["disabled"]),
            created_at=row["created_at"],
            last_login=row["last_login"],
            failed_logins=row["failed_logins"],
            locked_until=row["locked_until"],
        )
