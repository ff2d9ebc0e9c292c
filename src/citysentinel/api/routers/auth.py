"""Sign-in with a username and password: short-lived session tokens, sign-out, throttling."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.api.auth import Principal, Viewer, forget_keys
from citysentinel.api.deps import Context
from citysentinel.events.model import utcnow
from citysentinel.storage.admin import Role
from citysentinel.storage.users import LoginOutcome, UserStore

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

BAD_CREDENTIALS = "username or password is wrong"


class LoginLimiter:
    """Failed sign-ins per client address in a sliding window, on top of the per-user lockout
    (which a guesser spreading over many usernames would never trip).

    Memory is bounded: at most `max_clients` addresses are tracked; when full, addresses with
    nothing in the window go first, then the least recently failing ones.

    Example:
        >>> limiter = LoginLimiter(max_failures=2, window_s=60)
        >>> limiter.fail("10.0.0.1"); limiter.fail("10.0.0.1")
        >>> limiter.retry_after("10.0.0.1") > 0, limiter.retry_after("10.0.0.2")
        (True, 0.0)
    """

    def __init__(
        self, max_failures: int = 20, window_s: float = 300.0, max_clients: int = 10_000
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again; 0 when it may now."""
        times = self._failures.get(client)
        if times is None:
            return 0.0
        self._expire(times, time.monotonic())
        if len(times) < self.max_failures:
            return 0.0
        return max(0.0, times[0] + self.window_s - time.monotonic())

    def fail(self, client: str) -> None:
        now = time.monotonic()
        # Re-inserted at the end, so the dict's order is least recently failing first.
        times = self._failures.pop(client, None)
        if times is None:
            if len(self._failures) >= self.max_clients:
                self._evict(now)
            times = deque()
        self._expire(times, now)
        times.append(now)
        self._failures[client] = times

    def forgive(self, client: str) -> None:
        """Take back the latest failure (an attempt counted up front that succeeded)."""
        times = self._failures.get(client)
        if times:
            times.pop()
        if times is not None and not times:
            del self._failures[client]

    def tracked(self) -> int:
        return len(self._failures)

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] < now - self.window_s:
            times.popleft()

    def _evict(self, now: float) -> None:
        idle = [c for c, t in self._failures.items() if not t or t[-1] < now - self.window_s]
        for client in idle:
            del self._failures[client]
        while len(self._failures) >= self.max_clients:
            del self._failures[next(iter(self._failures))]


def get_login_limiter() -> LoginLimiter:
    """Overridden by `create_app` with the app's own limiter."""
    raise RuntimeError("the login limiter was not wired; build the app with create_app()")


Limiter = Annotated[LoginLimiter, Depends(get_login_limiter)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'; shown once.")
    token_type: str = "bearer"
    expires_at: datetime
    username: str
    role: Role


def _too_many(detail: str, seconds: float) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail,
        headers={"Retry-After": str(max(1, math.ceil(seconds)))},
    )


@router.post("/login", response_model=SessionOut)
async def login(body: LoginIn, ctx: Context, request: Request, limiter: Limiter) -> SessionOut:
    """Exchange a username and password for a session token that expires (8 h).

    Five wrong passwords in a row lock the user for 5 minutes (429 with Retry-After); 20
    failures from one address within 5 minutes throttle that address the same way.
    """
    client = request.client.host if request.client else "unknown"
    request.state.audit_detail = {"username": body.username, "client": client}
    wait = limiter.retry_after(client)
    if wait > 0:
        request.state.audit_detail["outcome"] = "throttled"
        raise _too_many("too many failed sign-ins from this address; try again later", wait)
    # Counted before the password check (no await in between), so parallel requests cannot
    # all pass the check above; taken back when the password was right.
    limiter.fail(client)
    users = UserStore(ctx.admin.engine)
    result = await asyncio.to_thread(users.login, body.username, body.password)
    request.state.audit_detail["outcome"] = result.outcome.value
    if result.outcome in (LoginOutcome.OK, LoginOutcome.DISABLED):
        limiter.forgive(client)
    if result.outcome is LoginOutcome.OK:
        assert result.session is not None and result.token is not None
        assert result.session.expires_at is not None
        request.state.principal = Principal(
            result.session.id, body.username, result.session.role, session=True
        )
        request.state.audit_detail["session"] = result.session.id
        return SessionOut(
            token=result.token,
            expires_at=result.session.expires_at,
            username=body.username,
            role=result.session.role,
        )
    if result.outcome in (LoginOutcome.UNKNOWN_USER, LoginOutcome.BAD_PASSWORD):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, BAD_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"}
        )
    if result.outcome is LoginOutcome.LOCKED:
        assert result.locked_until is not None
        raise _too_many(
            f"too many wrong passwords for this user; locked until "
            f"{result.locked_until:%H:%M:%S} UTC",
            (result.locked_until - utcnow()).total_seconds(),
        )
    raise HTTPException(status.HTTP_403_FORBIDDEN, "this user is disabled; ask an administrator")


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(ctx: Context, request: Request, who: Viewer) -> None:
    """End the session used for this request (sign-in sessions only; API keys are revoked
    with `DELETE /api/v1/keys/{id}`)."""
    if not who.session:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "this is an API key, not a sign-in session; an admin revokes keys with "
            "DELETE /api/v1/keys/{id}",
        )
    await asyncio.to_thread(ctx.admin.revoke_key, who.key_id)
    forget_keys(ctx)
    request.state.audit_detail = {"session": who.key_id}
