"""The closed vocabularies of events: kinds, states and severities."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """What an analyzer observed. Unknown kinds are rejected at the boundary."""

    VIDEO_INTRUSION = "video.intrusion"
    VIDEO_LOITERING = "video.loitering"
    VIDEO_LINE_CROSSING = "video.line_crossing"
    VIDEO_CROWDING = "video.crowding"
    VIDEO_STATIONARY = "video.stationary"
    VIDEO_SPEEDING = "video.speeding"
    VIDEO_FALL = "video.fall"
    VIDEO_FIGHT = "video.fight"
    VIDEO_FIRE = "video.fire"
    VIDEO_CLASSIFICATION = "video.classification"
    CAMERA_HEALTH = "camera.health"
    TEXT_REPORT = "text.report"
    TEXT_SURGE = "text.surge"
    TRAFFIC_CONGESTION = "traffic.congestion"
    TRAFFIC_INCIDENT = "traffic.incident"
    SENSOR_HEALTH = "sensor.health"
    MANUAL_REPORT = "manual.report"


class EventState(StrEnum):
    """Frigate-style lifecycle of the observed condition."""

    START = "start"
    UPDATE = "update"
    END = "end"


class Severity(StrEnum):
    """FIWARE Alert severity, ordered from least to most severe."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the ordering: informational is 0, critical is 4."""
        return _SEVERITY_ORDER.index(self)

    def raised(self, steps: int = 1) -> Severity:
        """The severity `steps` levels up, capped at critical."""
        return _SEVERITY_ORDER[min(self.rank + steps, len(_SEVERITY_ORDER) - 1)]

    @classmethod
    def highest(cls, *values: Severity) -> Severity:
        """The most severe of `values`."""
        return max(values, key=lambda s: s.rank)


_SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)
