"""Admin: API keys, the audit log and webhook dead letters."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.api.auth import Admin, forget_keys
from citysentinel.api.deps import AdminDep, Context
from citysentinel.sinks.base import DeadLetter
from citysentinel.storage.admin import ApiKeyInfo, AuditEntry, Role

router = APIRouter(prefix="/api/v1", tags=["admin"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role


class NewKey(BaseModel):
    info: ApiKeyInfo
    key: str = Field(description="The key itself; shown once, store it now.")


@router.get("/keys", response_model=list[ApiKeyInfo])
def list_keys(admin: AdminDep, _: Admin) -> list[ApiKeyInfo]:
    return admin.list_keys()


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=NewKey)
async def create_key(body: KeyIn, admin: AdminDep, request: Request, who: Admin) -> NewKey:
    info, plain = await asyncio.to_thread(
        admin.create_key, body.name, body.role, created_by=who.actor
    )
    request.state.audit_detail = {"key": info.id, "role": info.role.value}
    return NewKey(info=info, key=plain)


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(
    key_id: str, admin: AdminDep, ctx: Context, request: Request, _: Admin
) -> None:
    if not await asyncio.to_thread(admin.revoke_key, key_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active key {key_id}")
    forget_keys(ctx)
    request.state.audit_detail = {"key": key_id}


@router.get("/audit", response_model=list[AuditEntry])
def audit(
    admin: AdminDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: int | None = None,
) -> list[AuditEntry]:
    """Every write made through the API, newest first."""
    return admin.audit_entries(limit, before_seq)


@router.get("/dead-letters", response_model=list[DeadLetter])
def dead_letters(
    admin: AdminDep, _: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetter]:
    """Webhook deliveries given up after their last try."""
    return admin.dead_letters(limit)
