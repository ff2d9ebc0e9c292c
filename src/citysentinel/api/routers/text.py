"""Text feeds over HTTP: post messages to an `http` feed, list the masked, classified reports."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag

from citysentinel.api.auth import Operator, Viewer
from citysentinel.api.deps import Context, PipelineDep, StoreDep
from citysentinel.events import EventKind
from citysentinel.events.payloads import Extracted, TextReportPayload
from citysentinel.storage.store import EventQuery, InvalidCursor, StoredEvent
from citysentinel.text.analyzer import MessagePlace, TextMessage

router = APIRouter(prefix="/api/v1/text", tags=["text"])
SCAN_LIMIT = 5000  # events looked at per listing request when label/lang filters are sparse


class PlaceIn(BaseModel):
    """Where the message is about: a name, a point, or both."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=500, description="Place name or address.")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class MessageIn(BaseModel):
    """One message; without `id` it gets a fresh one (the same text posted twice counts twice)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The message; cleaned, cut at 10,000 characters and masked.")
    time: AwareDatetime | None = Field(default=None, description="When it was sent; default now.")
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Sender's id; re-posting is ignored.",
    )
    location: str | PlaceIn | None = Field(default=None, description="Place name or object.")
    area: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="District the message belongs to, for opinion and surges; default the feed's.",
    )

    def message(self) -> TextMessage:
        loc = self.location
        place = MessagePlace(loc, area=self.area) if isinstance(loc, str) else None
        if isinstance(loc, PlaceIn):
            place = MessagePlace(loc.name, loc.lat, loc.lon, area=self.area)
        elif loc is None and self.area is not None:
            place = MessagePlace(area=self.area)
        return TextMessage(self.text, id=self.id or uuid.uuid4().hex, time=self.time, place=place)


class MessageBatch(BaseModel):
    """Several messages, analyzed and stored together."""

    model_config = ConfigDict(extra="forbid")

    messages: list[MessageIn] = Field(min_length=1, description="The messages.")


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "messages" in value else "message"


MessagePost = Annotated[
    Annotated[MessageIn, Tag("message")] | Annotated[MessageBatch, Tag("batch")],
    Discriminator(_shape),
    Body(description="One message, or `{messages: [...]}`."),
]


class Skipped(BaseModel):
    index: int = Field(description="Position of the message in the request.")
    id: str | None = Field(description="The message id, when it was given.")
    reason: str = Field(description="empty or binary")


class TextIngestResult(BaseModel):
    received: int = Field(description="Messages in the request.")
    events: int = Field(description="text.report events made.")
    accepted: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events whose message id was already stored.")
    ids: list[str] = Field(description="Ids of the events stored now.")
    skipped: list[Skipped] = Field(description="Messages that made no event, and why.")


@router.post(
    "/{feed_id}/messages", status_code=status.HTTP_202_ACCEPTED, response_model=TextIngestResult
)
async def post_messages(
    feed_id: str,
    body: MessagePost,
    request: Request,
    ctx: Context,
    pipeline: PipelineDep,
    _: Operator,
) -> TextIngestResult:
    """Analyze messages of an `http` text feed into `text.report` events and store them."""
    feed = next((f for f in ctx.site.text_feeds if f.id == feed_id), None)
    analyzer = ctx.text_analyzers.get(feed_id)
    if feed is None or analyzer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no text feed {feed_id!r}")
    if feed.type != "http":
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"text feed {feed_id!r} is a {feed.type} feed, not http"
        )
    items = body.messages if isinstance(body, MessageBatch) else [body]
    limit = ctx.site.api.max_batch_events
    if len(items) > limit:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"batch has {len(items)} messages; the limit is {limit}",
        )
    outcomes = await asyncio.to_thread(analyzer.analyze, [m.message() for m in items])
    events = [o.event for o in outcomes if o.event is not None]
    stored = await pipeline.ingest(events) if events else []
    skipped = [
        Skipped(index=i, id=items[i].id, reason=o.skipped)
        for i, o in enumerate(outcomes)
        if o.skipped is not None
    ]
    request.state.audit_detail = {"feed": feed_id, "messages": len(items), "stored": len(stored)}
    return TextIngestResult(
        received=len(items),
        events=len(events),
        accepted=len(stored),
        duplicates=len(events) - len(stored),
        ids=[s.event.id for s in stored],
        skipped=skipped,
    )


class TextReportOut(BaseModel):
    seq: int = Field(description="Storage sequence number.")
    id: str = Field(description="Event id.")
    time: datetime
    feed: str = Field(description="The text feed (event source).")
    text: str | None = Field(description="Masked excerpt.")
    labels: list[str]
    category: str | None
    confidence: float
    scores: dict[str, float]
    lang: str | None
    truncated: bool
    channel: str | None
    address: str | None
    area: str | None = Field(description="District used for opinion and surge grouping.")
    sentiment: float | None = Field(description="Polarity -1..1; null when unscored.")
    emotion: str | None = Field(description="Strongest CLUE emotion (Chinese messages).")
    extracted: Extracted = Field(description="Places, times and casualty counts in the text.")


class TextReportPage(BaseModel):
    items: list[TextReportOut]
    next_cursor: str | None = Field(description="Pass back as `cursor` for the next page.")


def _out(item: StoredEvent) -> TextReportOut:
    e = item.event
    p = e.payload if isinstance(e.payload, TextReportPayload) else TextReportPayload()
    text = next((ev.text for ev in e.evidence if ev.text), None)
    return TextReportOut(
        seq=item.seq,
        id=e.id,
        time=e.time,
        feed=e.source,
        text=text,
        labels=e.labels,
        category=p.category,
        confidence=e.confidence,
        scores=p.scores,
        lang=p.lang,
        truncated=p.truncated,
        channel=p.channel,
        address=e.location.address,
        area=p.area,
        sentiment=p.sentiment,
        emotion=p.emotion,
        extracted=p.extracted,
    )


def _wanted(item: StoredEvent, label: str | None, lang: str | None) -> bool:
    p = item.event.payload
    if label is not None and label not in item.event.labels:
        return False
    return lang is None or (isinstance(p, TextReportPayload) and p.lang == lang)


@router.get("/messages", response_model=TextReportPage)
def list_messages(
    store: StoreDep,
    _: Viewer,
    feed: str | None = None,
    label: str | None = None,
    lang: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> TextReportPage:
    """Recent text reports, newest first, with masked text, labels, scores and language.

    With `label` or `lang` a page may hold fewer than `limit` items and still
    have a `next_cursor` (at most 5,000 events are looked at per request).
    """
    found: list[TextReportOut] = []
    scanned = 0
    while True:
        # Never fetch more than still fits, so the store's cursor is exactly where we stopped.
        q = EventQuery(
            kind=[EventKind.TEXT_REPORT.value],
            source=feed,
            since=since,
            until=until,
            limit=limit - len(found),
            cursor=cursor,
        )
        try:
            page = store.list_events(q)
        except InvalidCursor as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
        found.extend(_out(s) for s in page.items if _wanted(s, label, lang))
        scanned += len(page.items)
        cursor = page.next_cursor
        if cursor is None or len(found) >= limit or scanned >= SCAN_LIMIT:
            return TextReportPage(items=found, next_cursor=cursor)
