"""Intrusion: a watched object inside a restricted zone, optionally only within schedules."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from citysentinel.events import Event, EventKind, EventState
from citysentinel.vision.analytics_config import IntrusionConfig
from citysentinel.vision.behaviours.base import (
    FrameContext,
    Presence,
    Visit,
    class_ids,
    rows_where,
    visit_event,
)


class Intrusion:
    """Start when a watched track's anchor enters the zone; end when it leaves or is lost.

    Starts only while a schedule window is open (site time zone `tz`); an
    intrusion already going on ends normally when the window closes. Leaving
    for less than `grace_s` (flicker on the edge, a missed detection) does not end it.

    Example:
        >>> b = Intrusion(IntrusionConfig(type="intrusion", zone="yard"), ZoneInfo("UTC"))
        >>> b.name
        'intrusion:yard'
    """

    def __init__(self, config: IntrusionConfig, tz: ZoneInfo) -> None:
        self.config = config
        self.name = config.name or f"intrusion:{config.zone}"
        self._classes = class_ids(config.classes)
        self._tz = tz
        self._presence = Presence(config.grace_s)

    def _scheduled(self, frame: FrameContext) -> bool:
        if not self.config.schedule:
            return True
        local = frame.t.astimezone(self._tz)
        return any(s.contains(local) for s in self.config.schedule)

    def process(self, frame: FrameContext) -> list[Event]:
        mask = frame.in_zone(self.config.zone) & frame.of_classes(self._classes)
        ended = self._presence.update(frame, rows_where(mask), frame.seconds)
        events = [self._event(frame, v, EventState.END) for v in ended if v.active]
        if self._scheduled(frame):
            for visit in self._presence.visits.values():
                if not visit.active and visit.last_s == frame.seconds:
                    visit.active = True
                    events.append(self._event(frame, visit, EventState.START))
        return events

    def _event(self, frame: FrameContext, v: Visit, state: EventState) -> Event:
        return visit_event(frame, EventKind.VIDEO_INTRUSION, v, state, self.config.zone)
