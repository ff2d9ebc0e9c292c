"""The typed `Event` every analyzer emits, and the values it is made of."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    field_validator,
    model_validator,
)

from citysentinel.events.kinds import EventKind, EventState, Severity
from citysentinel.events.payloads import PAYLOAD_TYPES, EventPayload


class Point(BaseModel):
    """A GeoJSON Point; coordinates are `[lon, lat]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["Point"] = "Point"
    coordinates: tuple[
        Annotated[float, Field(ge=-180, le=180)], Annotated[float, Field(ge=-90, le=90)]
    ] = Field(description="[longitude, latitude] in WGS84 degrees.")

    @property
    def lon(self) -> float:
        return self.coordinates[0]

    @property
    def lat(self) -> float:
        return self.coordinates[1]


class Location(BaseModel):
    """Where an event happened: a map point, a named zone, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: Point | None = Field(default=None, description="GeoJSON point on the map.")
    zone: str | None = Field(default=None, max_length=200, description="Name of a configured zone.")
    address: str | None = Field(default=None, max_length=500, description="Free-text place.")


class EvidenceType(StrEnum):
    SNAPSHOT = "snapshot"
    CLIP = "clip"
    TEXT = "text"
    SERIES = "series"
    URL = "url"


class SeriesWindow(BaseModel):
    """A window of a sensor series kept as evidence; `None` marks a missing reading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensor: str = Field(max_length=200)
    start: AwareDatetime
    step_s: float = Field(gt=0, description="Seconds between values.")
    values: list[float | None] = Field(max_length=10_000)
    expected: list[float | None] | None = Field(
        default=None, max_length=10_000, description="Forecast or usual profile, same steps."
    )


class Evidence(BaseModel):
    """A reference to what supports an event: a snapshot, a text excerpt or a series window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: EvidenceType
    path: str | None = Field(default=None, max_length=1000, description="File under evidence dir.")
    url: str | None = Field(default=None, max_length=2000)
    text: str | None = Field(default=None, max_length=20_000, description="Masked excerpt.")
    series: SeriesWindow | None = None
    caption: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _has_reference(self) -> Evidence:
        needed = {
            EvidenceType.SNAPSHOT: self.path or self.url,
            EvidenceType.CLIP: self.path or self.url,
            EvidenceType.TEXT: self.text,
            EvidenceType.SERIES: self.series,
            EvidenceType.URL: self.url,
        }[self.type]
        if not needed:
            raise ValueError(f"{self.type.value} evidence needs its reference field set")
        return self


def new_event_id() -> str:
    """A fresh, globally unique event id."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """One fact reported by an analyzer; the only thing the incident engine consumes.

    Example:
        >>> e = Event(kind="video.intrusion", source="cam-gate",
        ...           location={"zone": "yard"}, labels=["person"], confidence=0.8,
        ...           payload={"label": "person", "track_id": 7})
        >>> e.kind is EventKind.VIDEO_INTRUSION
        True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        default_factory=new_event_id,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Unique id; re-sending an id is idempotent.",
    )
    kind: EventKind
    state: EventState = EventState.START
    time: AwareDatetime = Field(default_factory=utcnow, description="When it was observed.")
    source: str = Field(
        min_length=1, max_length=200, description="Camera, feed or sensor id that observed it."
    )
    location: Location = Field(default_factory=Location)
    labels: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=50, description="Object or class labels rules filter on."
    )
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    severity_hint: Severity | None = Field(
        default=None, description="The analyzer's own view of how serious it is."
    )
    evidence: list[Evidence] = Field(default_factory=list, max_length=20)
    payload: SerializeAsAny[EventPayload] = Field(
        default_factory=EventPayload, description="Kind-specific details."
    )

    @field_validator("time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="before")
    @classmethod
    def _typed_payload(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        raw = data.get("payload")
        kind = data.get("kind")
        try:
            payload_type = PAYLOAD_TYPES[EventKind(str(kind))]
        except ValueError:
            return data  # the kind field reports the error
        if raw is None:
            data = {**data, "payload": payload_type()}
        elif isinstance(raw, dict):
            data = {**data, "payload": payload_type.model_validate(raw)}
        elif not isinstance(raw, payload_type):
            raise ValueError(f"payload for {kind} must be an object")
        return data

    @property
    def zone(self) -> str | None:
        return self.location.zone
