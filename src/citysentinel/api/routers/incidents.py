"""Incident queries, lifecycle actions (acknowledge, assign, resolve, note) and CAP export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.api.auth import Operator, Principal, Viewer
from citysentinel.api.deps import Context, PipelineDep, StoreDep
from citysentinel.events import Severity
from citysentinel.incidents import (
    Incident,
    IncidentChange,
    IncidentEngine,
    IncidentStatus,
    LifecycleError,
)
from citysentinel.pipeline import Action, IncidentNotFound
from citysentinel.sinks.cap import incident_to_cap
from citysentinel.storage.store import IncidentQuery, InvalidCursor, TimelineEntry

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


class IncidentPage(BaseModel):
    items: list[Incident]
    next_cursor: str | None


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=5000, description="Why, for the timeline.")
    expected_version: int | None = Field(
        default=None, description="Refuse (409) if the incident changed since you read it."
    )


class AssignBody(ActionBody):
    assignee: str = Field(min_length=1, max_length=200)


class ResolveBody(ActionBody):
    resolution: str = Field(min_length=1, max_length=5000, description="How it was resolved.")


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


@router.get("", response_model=IncidentPage)
def list_incidents(
    store: StoreDep,
    _: Viewer,
    status_: Annotated[list[IncidentStatus], Query(alias="status")] = [],  # noqa: B006
    min_severity: Severity | None = None,
    category: Annotated[list[str], Query()] = [],  # noqa: B006
    sub_category: Annotated[list[str], Query()] = [],  # noqa: B006
    source: str | None = None,
    zone: str | None = None,
    rule: str | None = None,
    assignee: str | None = None,
    silenced: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: Literal["last_seen", "first_seen", "updated_at", "severity"] = "last_seen",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> IncidentPage:
    """Incidents with filters, sorting and cursor paging (pass `next_cursor` back as `cursor`)."""
    q = IncidentQuery(
        status=status_,
        min_severity=min_severity,
        category=category,
        sub_category=sub_category,
        source=source,
        zone=zone,
        rule=rule,
        assignee=assignee,
        silenced=silenced,
        since=since,
        until=until,
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
    )
    try:
        page = store.list_incidents(q)
    except (InvalidCursor, ValueError, TypeError) as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"cursor: {exc}") from exc
    return IncidentPage(items=page.items, next_cursor=page.next_cursor)


def _get(store: StoreDep, incident_id: str) -> Incident:
    inc = store.get_incident(incident_id)
    if inc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    return inc


@router.get("/{incident_id}", response_model=Incident)
def get_incident(incident_id: str, store: StoreDep, _: Viewer) -> Incident:
    return _get(store, incident_id)


@router.get("/{incident_id}/timeline", response_model=list[TimelineEntry])
def timeline(incident_id: str, store: StoreDep, _: Viewer) -> list[TimelineEntry]:
    """Every change of the incident, oldest first, with who did it and what changed."""
    _get(store, incident_id)
    return store.timeline(incident_id)


@router.get(
    "/{incident_id}/cap",
    response_class=Response,
    responses={200: {"content": {"application/cap+xml": {}}, "description": "CAP 1.2 alert"}},
)
def cap(incident_id: str, store: StoreDep, ctx: Context, _: Viewer) -> Response:
    """The incident as an OASIS CAP 1.2 alert."""
    xml = incident_to_cap(_get(store, incident_id), ctx.site.sinks.cap)
    return Response(
        xml,
        media_type="application/cap+xml",
        headers={"Content-Disposition": f'attachment; filename="incident-{incident_id}.cap.xml"'},
    )


async def _act(
    pipeline: PipelineDep,
    request: Request,
    incident_id: str,
    body: ActionBody | None,
    action: Action,
) -> IncidentChange:
    expected = body.expected_version if body else None

    def guarded(engine: IncidentEngine, inc: Incident) -> IncidentChange:
        if expected is not None and inc.version != expected:
            raise LifecycleError(
                f"incident is at version {inc.version}, not {expected}: reload and retry"
            )
        return action(engine, inc)

    try:
        change = await pipeline.act(incident_id, guarded)
    except IncidentNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}") from exc
    except LifecycleError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    request.state.audit_detail = {"incident": incident_id, "action": change.action.value}
    return change


@router.post("/{incident_id}/acknowledge", response_model=Incident)
async def acknowledge(
    incident_id: str,
    pipeline: PipelineDep,
    request: Request,
    who: Operator,
    body: ActionBody | None = None,
) -> Incident:
    """Take ownership: open -> acknowledged. 409 if someone else already did."""
    note = body.note if body else None
    change = await _act(
        pipeline, request, incident_id, body, lambda e, i: e.acknowledge(i, _actor(who), note)
    )
    return change.after


@router.post("/{incident_id}/assign", response_model=Incident)
async def assign(
    incident_id: str, body: AssignBody, pipeline: PipelineDep, request: Request, who: Operator
) -> Incident:
    change = await _act(
        pipeline,
        request,
        incident_id,
        body,
        lambda e, i: e.assign(i, body.assignee, _actor(who), body.note),
    )
    return change.after


@router.post("/{incident_id}/resolve", response_model=Incident)
async def resolve(
    incident_id: str, body: ResolveBody, pipeline: PipelineDep, request: Request, who: Operator
) -> Incident:
    change = await _act(
        pipeline,
        request,
        incident_id,
        body,
        lambda e, i: e.resolve(i, _actor(who), body.resolution),
    )
    return change.after


@router.post("/{incident_id}/notes", response_model=Incident)
async def add_note(
    incident_id: str, body: NoteBody, pipeline: PipelineDep, request: Request, who: Operator
) -> Incident:
    change = await _act(
        pipeline, request, incident_id, None, lambda e, i: e.note(i, _actor(who), body.text)
    )
    return change.after


def _actor(who: Principal) -> str:
    return who.actor
