"""What the congestion/incident detector reports, and its thresholds.

`TrafficAnomalyDetector` (in `traffic.anomaly`, which re-exports these names)
returns `Detection` values; `Detection.to_event` turns one into a
`traffic.congestion` or `traffic.incident` event with the series as evidence.

Example:
    >>> AnomalyConfig(persist_steps=2).persist_steps, DetectionKind("incident").value
    (2, 'incident')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from citysentinel.events import (
    Event,
    EventKind,
    EventState,
    Evidence,
    EvidenceType,
    SeriesWindow,
    Severity,
)
from citysentinel.events.payloads import TrafficPayload

Direction = Literal["low", "high"]


class AnomalyError(ValueError):
    """Readings out of time order, a wrong shape, or an adjacency that does not fit."""


class DetectionKind(StrEnum):
    """Recurring or shared slowdown, or a sudden local drop."""

    CONGESTION = "congestion"
    INCIDENT = "incident"


class AnomalyConfig(BaseModel):
    """Thresholds of the congestion/incident detector; the defaults are documented in traffic.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_drop: float = Field(
        default=0.3, gt=0, lt=1, description="Drop below expected and usual that is unusual."
    )
    min_z: float = Field(
        default=3.0,
        ge=0,
        description="...and this many spreads (1.25 x mean abs. deviation) below usual.",
    )
    congestion_ratio: float = Field(
        default=0.6, gt=0, lt=1, description="Slow below this share of the free-flow value."
    )
    neighbour_drop: float = Field(
        default=0.15, gt=0, lt=1, description="A neighbour this far below its usual shares a drop."
    )
    neighbour_share: float = Field(
        default=0.5, gt=0, le=1, description="Weighted share of neighbours that makes it shared."
    )
    persist_steps: int = Field(default=3, ge=1, description="Steps in a row before a start.")
    recover_steps: int = Field(default=3, ge=1, description="Steps in a row back before an end.")
    recover_ratio: float = Field(
        default=0.75, gt=0, le=1, description="Back = drops under this share of the thresholds."
    )
    slot_s: float = Field(default=900.0, gt=0, description="Width of a usual-profile slot, s.")
    level_steps: int = Field(default=6, ge=1, description="Readings in the median without model.")
    window_steps: int = Field(default=24, ge=2, description="Steps of series kept as evidence.")


@dataclass(frozen=True)
class Detection:
    """A congestion or incident at one sensor: started, changed severity, or ended at `time`."""

    kind: DetectionKind
    state: EventState
    sensor: str
    time: datetime
    started: datetime
    severity: Severity
    observed: float | None
    expected: float | None
    usual: float | None
    drop_ratio: float | None
    free_flow: float | None
    neighbours_affected: float | None
    window: SeriesWindow

    def payload(self, unit: str = "mph") -> TrafficPayload:
        """The event payload of this detection."""
        return TrafficPayload(
            sensor=self.sensor,
            observed=self.observed,
            expected=self.expected,
            drop_ratio=self.drop_ratio,
            neighbours_affected=self.neighbours_affected,
            unit=unit,
        )

    def to_event(self, unit: str = "mph") -> Event:
        """A `traffic.congestion` / `traffic.incident` event, the series window as evidence."""
        kind = (
            EventKind.TRAFFIC_INCIDENT
            if self.kind is DetectionKind.INCIDENT
            else EventKind.TRAFFIC_CONGESTION
        )
        caption = f"{self.kind.value} at {self.sensor} since {self.started.isoformat()}"
        return Event(
            kind=kind,
            state=self.state,
            time=self.time,
            source=self.sensor,
            severity_hint=self.severity,
            evidence=[Evidence(type=EvidenceType.SERIES, series=self.window, caption=caption)],
            payload=self.payload(unit),
        )
