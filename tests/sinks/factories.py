"""Small builders of incidents, changes and events for the sink tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from citysentinel.events import Event, EventKind, Point
from citysentinel.incidents import (
    Category,
    ChangeAction,
    Incident,
    IncidentChange,
    IncidentStatus,
)
from citysentinel.incidents.model import change

T0 = datetime(2026, 11, 25, 6, 0, 0, 250_000, tzinfo=UTC)


def make_incident(**overrides: Any) -> Incident:
    """An open, high-severity trespassing incident at a yard; override any field."""
    fields: dict[str, Any] = {
        "id": "inc-0001",
        "key": "intrusion|cam-gate|yard",
        "rule": "intrusion",
        "category": Category.SECURITY,
        "sub_category": "trespassing",
        "severity": "high",
        "base_severity": "high",
        "title": "Intrusion into restricted area at yard",
        "source": "cam-gate",
        "sources": ["cam-gate"],
        "zone": "yard",
        "point": Point(coordinates=(114.0579, 22.5431)),
        "first_seen": T0,
        "last_seen": T0 + timedelta(minutes=2),
        "event_count": 1,
        "summary_en": "High: Intrusion at yard (cam-gate). Suggested action: Send security.",
        "summary_zh": "【高】yard（cam-gate）发生闯入禁区。建议措施：派遣安保人员到场。",
        "created_at": T0,
        "updated_at": T0,
        "version": 1,
    }
    fields.update(overrides)
    return Incident(**fields)


def acknowledged(incident: Incident, by: str = "alice") -> Incident:
    return incident.model_copy(
        update={
            "status": IncidentStatus.ACKNOWLEDGED,
            "acknowledged_by": by,
            "acknowledged_at": T0 + timedelta(minutes=5),
            "version": incident.version + 1,
        }
    )


def resolved(incident: Incident, by: str = "bob") -> Incident:
    return incident.model_copy(
        update={
            "status": IncidentStatus.RESOLVED,
            "resolved_by": by,
            "resolved_at": T0 + timedelta(minutes=9),
            "resolution": "false alarm",
            "version": incident.version + 1,
        }
    )


def lifecycle(incident: Incident | None = None) -> list[IncidentChange]:
    """The three changes of one incident: opened (new), acknowledged (update), resolved (end)."""
    opened = incident or make_incident()
    acked = acknowledged(opened)
    done = resolved(acked)
    at = T0 + timedelta(minutes=1)
    return [
        change(ChangeAction.OPENED, None, opened, actor="engine", at=at),
        change(ChangeAction.ACKNOWLEDGED, opened, acked, actor="alice", at=at),
        change(ChangeAction.RESOLVED, acked, done, actor="bob", at=at),
    ]


def make_event(kind: EventKind = EventKind.VIDEO_INTRUSION, **overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "id": "ev-0001",
        "kind": kind,
        "time": T0,
        "source": "cam-gate",
        "location": {"zone": "yard"},
        "labels": ["person"],
        "confidence": 0.8,
    }
    fields.update(overrides)
    return Event(**fields)
