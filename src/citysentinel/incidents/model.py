"""`Incident`, its lifecycle status and the `IncidentChange` every mutation produces."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from citysentinel.events import Evidence, Point, Severity


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ChangeType(StrEnum):
    """What a change means to the outside world (MQTT `type`, webhook `type`)."""

    NEW = "new"
    UPDATE = "update"
    END = "end"


class ChangeAction(StrEnum):
    """What exactly happened to the incident."""

    OPENED = "opened"
    EVENT = "event"
    GROUPED = "grouped"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    NOTE = "note"
    RESOLVED = "resolved"
    SILENCED = "silenced"
    UNSILENCED = "unsilenced"


class Category(StrEnum):
    """FIWARE Smart Data Models `Alert` categories."""

    TRAFFIC = "traffic"
    NATURAL_DISASTER = "naturalDisaster"
    WEATHER = "weather"
    ENVIRONMENT = "environment"
    HEALTH = "health"
    SECURITY = "security"
    AGRICULTURE = "agriculture"


class Incident(BaseModel):
    """Something an operator must look at, folded from one or more events."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    key: str = Field(
        description="rule|source|zone (or @place without a zone): repeated events with this"
        " key update it."
    )
    grouped_keys: list[str] = Field(
        default_factory=list, description="Keys of related events grouped into this incident."
    )
    rule: str
    category: Category
    sub_category: str
    severity: Severity
    base_severity: Severity
    status: IncidentStatus = IncidentStatus.OPEN
    title: str
    source: str
    sources: list[str] = Field(default_factory=list)
    zone: str | None = None
    point: Point | None = None
    address: str | None = None
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    event_count: int = 0
    last_event_state: str = "start"
    assignee: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: AwareDatetime | None = None
    resolved_by: str | None = None
    resolved_at: AwareDatetime | None = None
    resolution: str | None = None
    silenced: bool = False
    silence_id: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    summary_en: str = ""
    summary_zh: str = ""
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int = 1

    @property
    def is_active(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED


class IncidentChange(BaseModel):
    """One timestamped, attributed mutation of an incident, with before and after."""

    model_config = ConfigDict(extra="forbid")

    seq: int | None = Field(default=None, description="Storage order; the SSE event id.")
    incident_id: str
    type: ChangeType
    action: ChangeAction
    actor: str
    at: AwareDatetime
    note: str | None = None
    event_id: str | None = None
    before: Incident | None = None
    after: Incident

    @property
    def silenced(self) -> bool:
        return self.after.silenced


def change(
    action: ChangeAction,
    before: Incident | None,
    after: Incident,
    *,
    actor: str,
    at: datetime,
    note: str | None = None,
    event_id: str | None = None,
) -> IncidentChange:
    """Build the change record, deriving the outward `type` from the action."""
    if before is None:
        kind = ChangeType.NEW
    elif action is ChangeAction.RESOLVED:
        kind = ChangeType.END
    else:
        kind = ChangeType.UPDATE
    return IncidentChange(
        incident_id=after.id,
        type=kind,
        action=action,
        actor=actor,
        at=at,
        note=note,
        event_id=event_id,
        before=before,
        after=after,
    )
