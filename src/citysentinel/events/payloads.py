"""Kind-specific payloads: one small typed model per event kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from citysentinel.events.kinds import EventKind

Score = Annotated[float, Field(ge=0.0, le=1.0)]
BBox = tuple[float, float, float, float]


class EventPayload(BaseModel):
    """Base of every payload; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TrackedObjectPayload(EventPayload):
    """An object followed by a camera tracker (intrusion, loitering, stationary, fall)."""

    label: str | None = Field(default=None, max_length=100)
    track_id: int | None = None
    bbox: BBox | None = Field(default=None, description="x1, y1, x2, y2 normalised to 0-1.")
    dwell_s: float | None = Field(default=None, ge=0, description="Seconds in the zone.")
    score: Score | None = None


class LineCrossingPayload(EventPayload):
    label: str | None = Field(default=None, max_length=100)
    track_id: int | None = None
    line: str = Field(default="", max_length=200)
    direction: Literal["in", "out"] = "in"
    count_in: int = Field(default=0, ge=0)
    count_out: int = Field(default=0, ge=0)


class CrowdingPayload(EventPayload):
    count: int = Field(default=0, ge=0)
    density_per_m2: float | None = Field(default=None, ge=0)
    threshold: float | None = Field(default=None, ge=0)


class SpeedPayload(EventPayload):
    label: str | None = Field(default=None, max_length=100)
    track_id: int | None = None
    speed_px_s: float | None = Field(default=None, ge=0)
    speed_mps: float | None = Field(default=None, ge=0)
    limit_mps: float | None = Field(default=None, ge=0)


class FallPayload(EventPayload):
    track_id: int | None = None
    torso_angle_deg: float | None = None
    drop_ratio: float | None = None
    lying_s: float | None = Field(default=None, ge=0)


class FightPayload(EventPayload):
    track_ids: list[int] = Field(default_factory=list, max_length=50)
    motion_score: float | None = None
    experimental: bool = True


class ClassificationPayload(EventPayload):
    """A frame or crop classifier (fire, smoke, abnormal behaviour)."""

    label: str = Field(default="", max_length=100)
    score: Score | None = None
    model: str | None = Field(default=None, max_length=200)


class HealthPayload(EventPayload):
    """A camera, feed or sensor that stopped, slowed or recovered."""

    status: Literal["ok", "degraded", "down"] = "down"
    fps: float | None = Field(default=None, ge=0)
    stale_s: float | None = Field(default=None, ge=0)
    error: str | None = Field(default=None, max_length=2000)


class Extracted(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    locations: list[str] = Field(default_factory=list, max_length=50)
    times: list[str] = Field(default_factory=list, max_length=50)
    casualties: dict[str, int] = Field(default_factory=dict)


class TextReportPayload(EventPayload):
    lang: str | None = Field(default=None, max_length=20)
    category: str | None = Field(default=None, max_length=100)
    scores: dict[str, float] = Field(default_factory=dict)
    urgency: Score | None = None
    sentiment: float | None = Field(
        default=None, ge=-1, le=1, description="Polarity: -1 negative to 1 positive; None: unscored"
    )
    emotion: str | None = Field(
        default=None, max_length=50, description="Strongest CLUE emotion (Chinese messages)."
    )
    emotion_score: Score | None = Field(default=None, description="Probability of `emotion`.")
    extracted: Extracted = Field(default_factory=Extracted)
    area: str | None = Field(
        default=None, max_length=200, description="Area for opinion and surge grouping."
    )
    channel: str | None = Field(default=None, max_length=100)
    truncated: bool = False


class TextSurgePayload(EventPayload):
    category: str = Field(default="", max_length=100)
    area: str | None = Field(default=None, max_length=200)
    observed: int = Field(default=0, ge=0)
    expected: float = Field(default=0.0, ge=0)
    score: float | None = None
    window_s: float | None = Field(default=None, gt=0)


class TrafficPayload(EventPayload):
    sensor: str = Field(default="", max_length=200)
    observed: float | None = None
    expected: float | None = None
    drop_ratio: float | None = None
    neighbours_affected: float | None = Field(default=None, ge=0, le=1)
    unit: str = Field(default="mph", max_length=20)


class ManualReportPayload(EventPayload):
    reporter: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    category: str | None = Field(default=None, max_length=100)


PAYLOAD_TYPES: dict[EventKind, type[EventPayload]] = {
    EventKind.VIDEO_INTRUSION: TrackedObjectPayload,
    EventKind.VIDEO_LOITERING: TrackedObjectPayload,
    EventKind.VIDEO_STATIONARY: TrackedObjectPayload,
    EventKind.VIDEO_LINE_CROSSING: LineCrossingPayload,
    EventKind.VIDEO_CROWDING: CrowdingPayload,
    EventKind.VIDEO_SPEEDING: SpeedPayload,
    EventKind.VIDEO_FALL: FallPayload,
    EventKind.VIDEO_FIGHT: FightPayload,
    EventKind.VIDEO_FIRE: ClassificationPayload,
    EventKind.VIDEO_CLASSIFICATION: ClassificationPayload,
    EventKind.CAMERA_HEALTH: HealthPayload,
    EventKind.TEXT_REPORT: TextReportPayload,
    EventKind.TEXT_SURGE: TextSurgePayload,
    EventKind.TRAFFIC_CONGESTION: TrafficPayload,
    EventKind.TRAFFIC_INCIDENT: TrafficPayload,
    EventKind.SENSOR_HEALTH: HealthPayload,
    EventKind.MANUAL_REPORT: ManualReportPayload,
}
