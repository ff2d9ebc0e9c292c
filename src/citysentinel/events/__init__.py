"""Typed events and the in-process bus that carries them."""

from citysentinel.events.kinds import EventKind, EventState, Severity
from citysentinel.events.model import Event, Evidence, EvidenceType, Location, Point, SeriesWindow

__all__ = [
    "Event",
    "EventKind",
    "EventState",
    "Evidence",
    "EvidenceType",
    "Location",
    "Point",
    "SeriesWindow",
    "Severity",
]
