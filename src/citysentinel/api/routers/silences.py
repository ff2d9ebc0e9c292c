"""Silences: mute matching incidents for a time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from citysentinel.api.auth import Operator, Viewer
from citysentinel.api.deps import AdminDep, PipelineDep
from citysentinel.events.model import utcnow
from citysentinel.incidents import Silence, SilenceMatchers

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: SilenceMatchers
    starts_at: AwareDatetime | None = Field(default=None, description="Default: now.")
    ends_at: AwareDatetime | None = Field(default=None, description="Give this or duration_s.")
    duration_s: float | None = Field(default=None, gt=0, le=90 * 86400)
    comment: str = Field(default="", max_length=2000)


@router.get("", response_model=list[Silence])
def list_silences(admin: AdminDep, _: Viewer, include_expired: bool = False) -> list[Silence]:
    return admin.silences(current_only=not include_expired)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Silence)
async def create_silence(
    body: SilenceIn, admin: AdminDep, pipeline: PipelineDep, request: Request, who: Operator
) -> Silence:
    now = utcnow()
    starts: datetime = body.starts_at or now
    if (body.ends_at is None) == (body.duration_s is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give ends_at or duration_s")
    ends = body.ends_at or starts + timedelta(seconds=body.duration_s or 0)
    if ends <= max(starts, now):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the silence would be over")
    silence = Silence(
        matchers=body.matchers,
        starts_at=starts,
        ends_at=ends,
        created_by=who.actor,
        created_at=now,
        comment=body.comment,
    )
    await asyncio.to_thread(admin.add_silence, silence)
    await pipeline.silences_changed()
    request.state.audit_detail = {"silence": silence.id}
    return silence


@router.delete("/{silence_id}", response_model=Silence)
async def expire_silence(
    silence_id: str, admin: AdminDep, pipeline: PipelineDep, request: Request, who: Operator
) -> Silence:
    """End a silence now; its incidents notify again."""
    ended = await asyncio.to_thread(admin.expire_silence, silence_id, who.actor)
    if ended is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no current silence {silence_id}")
    await pipeline.silences_changed()
    request.state.audit_detail = {"silence": silence_id}
    return ended
