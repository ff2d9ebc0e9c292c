"""API-key authentication and role checks (viewer < operator < admin)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from citysentinel.api.deps import Context
from citysentinel.events.model import utcnow
from citysentinel.storage.admin import Role, hash_key


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name and role (for a sign-in session, the user's)."""

    key_id: str
    name: str
    role: Role
    session: bool = False

    @property
    def actor(self) -> str:
        return f"user:{self.name}" if self.session else f"key:{self.name}"


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if key := request.headers.get("x-api-key"):
        return key.strip()
    # Browsers' EventSource cannot set headers: the live stream also takes ?api_key=.
    if request.url.path.endswith("/stream/incidents"):
        return request.query_params.get("api_key")
    return None


async def authenticate(request: Request, ctx: Context) -> Principal:
    key = _presented_key(request)
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache = ctx.key_cache
    digest = hash_key(key)
    found, info = cache.get(digest)
    if not found:
        info = await asyncio.to_thread(ctx.admin.authenticate, key)
        cache.put(digest, info)
        if info is not None:
            await asyncio.to_thread(ctx.admin.touch_key, info.id)
    if info is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "API key is unknown or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if info.expired(utcnow()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"session expired at {info.expires_at:%Y-%m-%d %H:%M:%S} UTC; sign in again",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    principal = Principal(info.id, info.name, info.role, session=info.user_id is not None)
    request.state.principal = principal
    return principal


async def identify(request: Request, ctx: Context) -> Principal | None:
    """Who sent `request`, without failing it: for the audit log of requests rejected early.

    A malformed JSON body is answered 422 before any route dependency runs, so
    the audit log would call a known caller "anonymous" without this.
    """
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None or not _presented_key(request):
        return principal
    try:
        return await authenticate(request, ctx)
    except HTTPException:
        return None


def require(role: Role) -> object:
    async def check(request: Request, ctx: Context) -> Principal:
        principal = await authenticate(request, ctx)
        if not principal.role.allows(role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {role.value} role; your key has {principal.role.value}",
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def forget_keys(ctx: Context) -> None:
    """Drop cached key checks (after a revoke) so the change takes effect at once."""
    ctx.key_cache.clear()
