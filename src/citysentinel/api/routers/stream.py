"""Server-Sent Events stream of incident changes, resumable with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from citysentinel.api.auth import Viewer
from citysentinel.api.deps import AdminDep, PipelineDep, StoreDep
from citysentinel.events.bus import SubscriptionClosed
from citysentinel.incidents import IncidentChange
from citysentinel.pipeline import INCIDENTS
from citysentinel.storage.store import Store

router = APIRouter(prefix="/api/v1/stream", tags=["stream"])
HEARTBEAT_S = 15.0


def _frame(seq: int | None, data: Mapping[str, object]) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: incident\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _change_data(ch: IncidentChange) -> dict[str, object]:
    return {
        "type": ch.type.value,
        "action": ch.action.value,
        "actor": ch.actor,
        "at": ch.at.isoformat(),
        "note": ch.note,
        "incident": ch.after.model_dump(mode="json"),
    }


async def _catch_up(store: Store, after: int) -> AsyncIterator[tuple[int, str]]:
    """Changes stored after `after`, each with the incident as it is now."""
    while True:
        entries = await asyncio.to_thread(store.changes_since, after, 500)
        if not entries:
            return
        for e in entries:
            inc = await asyncio.to_thread(store.get_incident, e.incident_id)
            if inc is not None:
                data = {
                    "type": e.type,
                    "action": e.action,
                    "actor": e.actor,
                    "at": e.at.isoformat(),
                    "note": e.note,
                    "incident": inc.model_dump(mode="json"),
                    "replayed": True,
                }
                yield e.seq, _frame(e.seq, data)
            after = e.seq


@router.get("/incidents")
async def incident_stream(
    request: Request,
    pipeline: PipelineDep,
    store: StoreDep,
    admin: AdminDep,
    who: Viewer,
    last_event_id: Annotated[int | None, Header()] = None,
    since: Annotated[int | None, Query(description="Resume after this change seq.")] = None,
) -> StreamingResponse:
    """`text/event-stream` of incident changes (event `incident`, id = change seq).

    A client that reconnects with `Last-Event-ID` (browsers do) gets what it missed.
    Authenticate with a header, or `?api_key=` for `EventSource`. The key or session
    is checked again every heartbeat interval: a revoked key, a signed-out or
    expired session ends the stream, and the reconnect gets the 401.
    """
    sub = pipeline.incident_bus.subscribe(
        INCIDENTS, f"sse-{uuid.uuid4().hex[:8]}", maxsize=1000, lossy=True
    )
    resume = last_event_id if last_event_id is not None else since

    async def still_allowed() -> bool:
        return await asyncio.to_thread(admin.is_active, who.key_id)

    async def body() -> AsyncIterator[str]:
        sent = -1
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            yield "retry: 2000\n: connected\n\n"
            if resume is not None:
                sent = resume
                async for seq, frame in _catch_up(store, resume):
                    sent = seq
                    yield frame
            while not await request.is_disconnected():
                if loop.time() - checked >= HEARTBEAT_S:
                    checked = loop.time()
                    if not await still_allowed():
                        yield ": session ended\n\n"
                        return
                try:
                    ch = await asyncio.wait_for(sub.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if ch.seq is not None and ch.seq <= sent:
                    continue
                yield _frame(ch.seq, _change_data(ch))
        except SubscriptionClosed:
            yield ": fell behind; reconnect to catch up\n\n"
        finally:
            pipeline.incident_bus.unsubscribe(sub)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
