"""Repository for API keys, the audit log, silences and dead letters."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, delete, or_, select, update

from citysentinel.events.model import utcnow
from citysentinel.incidents import Silence
from citysentinel.sinks.base import DeadLetter
from citysentinel.storage.tables import api_keys, audit_log, dead_letters, silences

KEY_PREFIX = "cs_"


class Role(StrEnum):
    """viewer reads; operator also ingests events and acts on incidents; admin manages keys."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    name: str
    prefix: str
    role: Role
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    # Set for sign-in sessions (storage/users.py): the user and when the session ends.
    user_id: str | None = None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str | None
    method: str
    path: str
    status: int
    detail: dict[str, Any] | None


def hash_key(plain: str) -> str:
    """Keys are 256-bit random strings, so one SHA-256 is a safe, fast stored hash."""
    return hashlib.sha256(plain.encode()).hexdigest()


class AdminStore:
    """Keys, audit, silences and dead letters.

    Example:
        >>> from citysentinel.storage.db import make_engine
        >>> from citysentinel.storage.tables import metadata
        >>> engine = make_engine("sqlite://"); metadata.create_all(engine)
        >>> admin = AdminStore(engine)
        >>> info, plain = admin.create_key("ops", Role.OPERATOR, created_by="cli")
        >>> admin.authenticate(plain).role.value
        'operator'
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- API keys ---------------------------------------------------------
    def create_key(self, name: str, role: Role, *, created_by: str) -> tuple[ApiKeyInfo, str]:
        """A new key; the plain text is returned once and only its hash is stored."""
        plain = KEY_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": uuid.uuid4().hex,
            "name": name,
            "prefix": plain[:10],
            "hash": hash_key(plain),
            "role": role.value,
            "created_at": utcnow(),
            "created_by": created_by,
        }
        with self.engine.begin() as conn:
            conn.execute(api_keys.insert(), [row])
        return self._info({**row, "revoked_at": None, "last_used_at": None}), plain

    def authenticate(self, plain: str) -> ApiKeyInfo | None:
        """The key's info if it exists and is not revoked (an expired session included:
        the caller checks `expired()` so it can say so)."""
        q = select(api_keys).where(
            api_keys.c.hash == hash_key(plain), api_keys.c.revoked_at.is_(None)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return self._info(dict(row._mapping)) if row else None

    def is_active(self, key_id: str) -> bool:
        """Whether a key or session is neither revoked nor expired now.

        For long responses that authenticate once when they start (the live stream): checked
        again while they run, a signed-out, disabled or expired session stops getting data.
        """
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None:
            return False
        info = self._info(dict(row._mapping))
        return info.revoked_at is None and not info.expired(utcnow())

    def touch_key(self, key_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=utcnow())
            )

    def list_keys(self, *, sessions: bool = False) -> list[ApiKeyInfo]:
        """API keys, oldest first; sign-in sessions only when `sessions`."""
        q = select(api_keys).order_by(api_keys.c.created_at)
        if not sessions:
            q = q.where(api_keys.c.user_id.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [self._info(dict(r._mapping)) for r in rows]

    def revoke_key(self, key_id: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return bool(result.rowcount)

    def delete_sessions_ended_before(self, before: datetime) -> int:
        """Delete sign-in sessions that expired or were ended before `before`; how many.

        API keys are kept (revoked ones too: they name who acted in the audit log).
        """
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(api_keys).where(
                    api_keys.c.user_id.is_not(None),
                    or_(api_keys.c.expires_at < before, api_keys.c.revoked_at < before),
                )
            )
        return int(result.rowcount or 0)

    def count_keys(self) -> int:
        return len([k for k in self.list_keys() if k.revoked_at is None])

    @staticmethod
    def _info(row: dict[str, Any]) -> ApiKeyInfo:
        return ApiKeyInfo(
            id=row["id"],
            name=row["name"],
            prefix=row["prefix"],
            role=Role(row["role"]),
            created_at=row["created_at"],
            created_by=row["created_by"],
            revoked_at=row["revoked_at"],
            last_used_at=row["last_used_at"],
            user_id=row.get("user_id"),
            expires_at=row.get("expires_at"),
        )

    # -- audit ------------------------------------------------------------
    def audit(
        self,
        *,
        actor: str,
        role: str | None,
        method: str,
        path: str,
        status: int,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                audit_log.insert(),
                [
                    {
                        "at": utcnow(),
                        "actor": actor,
                        "role": role,
                        "method": method,
                        "path": path[:500],
                        "status": status,
                        "detail": detail,
                    }
                ],
            )

    def audit_entries(self, limit: int = 100, before_seq: int | None = None) -> list[AuditEntry]:
        q = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if before_seq is not None:
            q = q.where(audit_log.c.seq < before_seq)
        with self.engine.connect() as conn:
            return [AuditEntry(**r._mapping) for r in conn.execute(q)]

    # -- silences ---------------------------------------------------------
    def add_silence(self, silence: Silence) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                silences.insert(),
                [
                    {
                        "id": silence.id,
                        "starts_at": silence.starts_at,
                        "ends_at": silence.ends_at,
                        "doc": silence.model_dump(mode="json"),
                    }
                ],
            )

    def expire_silence(self, silence_id: str, actor: str) -> Silence | None:
        """End a silence now; returns it, or None if unknown or already over."""
        now = utcnow()
        with self.engine.begin() as conn:
            doc = conn.scalar(select(silences.c.doc).where(silences.c.id == silence_id))
            if doc is None:
                return None
            silence = Silence.model_validate(doc)
            if silence.ends_at <= now:
                return None
            starts = min(silence.starts_at, now - timedelta(microseconds=1))
            ended = silence.model_copy(
                update={"starts_at": starts, "ends_at": now, "expired_by": actor}
            )
            conn.execute(
                update(silences)
                .where(silences.c.id == silence_id)
                .values(
                    starts_at=ended.starts_at,
                    ends_at=ended.ends_at,
                    doc=ended.model_dump(mode="json"),
                )
            )
        return ended

    def silences(self, *, current_only: bool = True) -> list[Silence]:
        """Silences not yet over (or all of them), soonest ending first."""
        q = select(silences.c.doc).order_by(silences.c.ends_at)
        if current_only:
            q = q.where(silences.c.ends_at > utcnow())
        with self.engine.connect() as conn:
            return [Silence.model_validate(d) for d in conn.scalars(q)]

    # -- dead letters -----------------------------------------------------
    def add_dead_letter(self, letter: DeadLetter) -> None:
        with self.engine.begin() as conn:
            conn.execute(dead_letters.insert(), [letter.model_dump()])

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        q = select(dead_letters).order_by(dead_letters.c.seq.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            DeadLetter.model_validate({k: v for k, v in r._mapping.items() if k != "seq"})
            for r in rows
        ]
