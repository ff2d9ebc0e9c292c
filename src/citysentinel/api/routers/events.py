"""Event ingest (single and batch) and event queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.api.auth import Operator, Viewer
from citysentinel.api.deps import Context, PipelineDep, StoreDep
from citysentinel.events import Event
from citysentinel.storage.store import EventQuery, InvalidCursor

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class IngestResult(BaseModel):
    accepted: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events whose id was already stored (ignored).")
    ids: list[str] = Field(description="Ids of the events stored now.")


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(min_length=1, description="Events; the batch is all or nothing.")


class StoredEventOut(BaseModel):
    seq: int
    event: Event


class EventPage(BaseModel):
    items: list[StoredEventOut]
    next_cursor: str | None


async def _ingest(request: Request, pipeline: PipelineDep, events: list[Event]) -> IngestResult:
    stored = await pipeline.ingest(events)
    request.state.audit_detail = {"events": len(events), "accepted": len(stored)}
    return IngestResult(
        accepted=len(stored),
        duplicates=len(events) - len(stored),
        ids=[s.event.id for s in stored],
    )


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=IngestResult)
async def post_event(
    event: Event, request: Request, pipeline: PipelineDep, _: Operator
) -> IngestResult:
    """Ingest one event. It is stored before the response; re-sending an id is harmless."""
    return await _ingest(request, pipeline, [event])


@router.post("/batch", status_code=status.HTTP_202_ACCEPTED, response_model=IngestResult)
async def post_batch(
    batch: EventBatch, request: Request, pipeline: PipelineDep, ctx: Context, _: Operator
) -> IngestResult:
    """Ingest many events in one transaction: all are stored or, on any error, none."""
    limit = ctx.site.api.max_batch_events
    if len(batch.events) > limit:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"batch has {len(batch.events)} events; the limit is {limit}",
        )
    return await _ingest(request, pipeline, batch.events)


@router.get("", response_model=EventPage)
def list_events(
    store: StoreDep,
    _: Viewer,
    kind: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads list defaults
    source: str | None = None,
    zone: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    incident_id: str | None = None,
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> EventPage:
    """Events, newest first by default, with filters and cursor paging."""
    q = EventQuery(
        kind=kind,
        source=source,
        zone=zone,
        since=since,
        until=until,
        incident_id=incident_id,
        order=order,
        limit=limit,
        cursor=cursor,
    )
    try:
        page = store.list_events(q)
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    return EventPage(
        items=[StoredEventOut(seq=s.seq, event=s.event) for s in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{event_id}", response_model=Event)
def get_event(event_id: str, store: StoreDep, _: Viewer) -> Event:
    event = store.get_event(event_id)
    if event is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event {event_id}")
    return event
