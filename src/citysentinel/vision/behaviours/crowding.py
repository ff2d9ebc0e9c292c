"""Crowding: the count or density of watched objects in a zone stays over a threshold."""

from __future__ import annotations

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import CrowdingPayload
from citysentinel.vision.analytics_config import CrowdingConfig
from citysentinel.vision.behaviours.base import FrameContext, class_ids


class Crowding:
    """Start after `min_duration_s` at or over the threshold; end after `clear_s` well below it.

    "Well below" is under threshold x `clear_ratio`.
    The two thresholds (hysteresis) and the two durations keep a crowd hovering
    around the threshold from flapping between start and end. With
    `density_per_m2`, the value is count / `zone_area_m2`.

    Example:
        >>> Crowding(CrowdingConfig(type="crowding", zone="square", min_count=20)).threshold
        20.0
    """

    def __init__(self, config: CrowdingConfig) -> None:
        self.config = config
        self.name = config.name or f"crowding:{config.zone or 'frame'}"
        self._classes = class_ids(config.classes)
        self.threshold = float(
            config.min_count if config.min_count is not None else config.density_per_m2 or 0.0
        )
        self._over_since: float | None = None
        self._under_since: float | None = None
        self._active = False
        self._last_event_s = 0.0

    def _value(self, count: int) -> float:
        if self.config.density_per_m2 is not None and self.config.zone_area_m2:
            return count / self.config.zone_area_m2
        return float(count)

    def process(self, frame: FrameContext) -> list[Event]:
        mask = frame.in_zone(self.config.zone) & frame.of_classes(self._classes)
        count = int(mask.sum())
        value, now = self._value(count), frame.seconds
        if value >= self.threshold:
            self._over_since = now if self._over_since is None else self._over_since
        else:
            self._over_since = None
        if value < self.threshold * self.config.clear_ratio:
            self._under_since = now if self._under_since is None else self._under_since
        else:
            self._under_since = None
        state = self._transition(now)
        if state is None:
            return []
        self._last_event_s = now
        return [self._event(frame, state, count, value)]

    def _transition(self, now: float) -> EventState | None:
        if not self._active:
            if (
                self._over_since is not None
                and now - self._over_since >= self.config.min_duration_s
            ):
                self._active = True
                return EventState.START
            return None
        if self._under_since is not None and now - self._under_since >= self.config.clear_s:
            self._active = False
            return EventState.END
        if now - self._last_event_s >= self.config.update_interval_s:
            return EventState.UPDATE
        return None

    def _event(self, frame: FrameContext, state: EventState, count: int, value: float) -> Event:
        density = value if self.config.density_per_m2 is not None else None
        payload = CrowdingPayload(count=count, density_per_m2=density, threshold=self.threshold)
        return frame.event(
            EventKind.VIDEO_CROWDING,
            state,
            payload,
            zone=self.config.zone,
            labels=list(self.config.classes),
        )
