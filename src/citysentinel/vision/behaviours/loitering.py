"""Loitering: a track that stays in a zone longer than the configured dwell time."""

from __future__ import annotations

from citysentinel.events import Event, EventKind, EventState
from citysentinel.vision.analytics_config import LoiteringConfig
from citysentinel.vision.behaviours.base import (
    FrameContext,
    Presence,
    Visit,
    class_ids,
    rows_where,
    visit_event,
)


class Loitering:
    """Start once a track has been in the zone `dwell_s`; update periodically; end on exit.

    Updates come every `update_interval_s` while it stays.
    Dwell counts from the first frame the anchor is in the zone; absences
    shorter than `grace_s` do not reset it.

    Example:
        >>> Loitering(LoiteringConfig(type="loitering", zone="bench", dwell_s=30)).name
        'loitering:bench'
    """

    def __init__(self, config: LoiteringConfig) -> None:
        self.config = config
        self.name = config.name or f"loitering:{config.zone}"
        self._classes = class_ids(config.classes)
        self._presence = Presence(config.grace_s)

    def process(self, frame: FrameContext) -> list[Event]:
        mask = frame.in_zone(self.config.zone) & frame.of_classes(self._classes)
        now = frame.seconds
        ended = self._presence.update(frame, rows_where(mask), now)
        events = [self._event(frame, v, EventState.END) for v in ended if v.active]
        for visit in self._presence.visits.values():
            if visit.last_s != now:
                continue  # not seen this frame: within its grace period
            dwell = now - visit.first_s
            if not visit.active and dwell >= self.config.dwell_s:
                visit.active, visit.last_event_s = True, now
                events.append(self._event(frame, visit, EventState.START))
            elif visit.active and now - visit.last_event_s >= self.config.update_interval_s:
                visit.last_event_s = now
                events.append(self._event(frame, visit, EventState.UPDATE))
        return events

    def _event(self, frame: FrameContext, v: Visit, state: EventState) -> Event:
        return visit_event(frame, EventKind.VIDEO_LOITERING, v, state, self.config.zone)
