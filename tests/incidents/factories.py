"""Small factories and a fake clock for the incident tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from citysentinel.events import (
    Event,
    EventKind,
    EventState,
    Evidence,
    EvidenceType,
    Location,
    Point,
    Severity,
)
from citysentinel.incidents import (
    EngineResult,
    Incident,
    IncidentEngine,
    RuleConfig,
    Silence,
    SilenceMatchers,
)

# A Wednesday afternoon, UTC.
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test advances by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def at(seconds: float) -> datetime:
    """`T0` plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def make_snapshot(name: str = "snap") -> Evidence:
    return Evidence(type=EvidenceType.SNAPSHOT, path=f"evidence/{name}.jpg")


def make_event(
    kind: EventKind | str = EventKind.VIDEO_INTRUSION,
    *,
    source: str = "cam-gate",
    zone: str | None = "yard",
    time: datetime = T0,
    state: EventState = EventState.START,
    labels: Sequence[str] = ("person",),
    confidence: float = 0.9,
    severity_hint: Severity | None = None,
    point: tuple[float, float] | None = None,
    address: str | None = None,
    evidence: Sequence[Evidence] = (),
) -> Event:
    """An event; `point` is `(lon, lat)`."""
    return Event(
        kind=EventKind(kind),
        source=source,
        state=state,
        time=time,
        location=Location(
            zone=zone,
            address=address,
            point=Point(coordinates=point) if point is not None else None,
        ),
        labels=list(labels),
        confidence=confidence,
        severity_hint=severity_hint,
        evidence=list(evidence),
    )


def make_rule(
    rule_id: str = "yard-intrusion",
    *,
    kind: str | list[str] = "video.intrusion",
    match: dict[str, Any] | None = None,
    category: str = "security",
    sub_category: str = "trespassing",
    severity: str = "medium",
    incident: dict[str, Any] | None = None,
    **fields: Any,
) -> RuleConfig:
    """A rule validated from the same shape as the YAML config; extra keys go to the rule."""
    return RuleConfig.model_validate(
        {
            "id": rule_id,
            "match": {"kind": kind, **(match or {})},
            "incident": {
                "category": category,
                "sub_category": sub_category,
                "severity": severity,
                **(incident or {}),
            },
            **fields,
        }
    )


def make_engine(
    *rules: RuleConfig,
    clock: FakeClock | None = None,
    tz: str = "UTC",
    max_evidence: int = 5,
) -> tuple[IncidentEngine, FakeClock]:
    """An engine over `rules` (a default intrusion rule when none) and its fake clock."""
    clock = clock or FakeClock()
    engine = IncidentEngine(
        rules or [make_rule()], ZoneInfo(tz), clock=clock, max_evidence=max_evidence
    )
    return engine, clock


def feed(engine: IncidentEngine, clock: FakeClock, *events: Event) -> list[EngineResult]:
    """Process `events` in order, moving the clock to each event's time first."""
    results = []
    for event in events:
        clock.now = event.time
        results.append(engine.process(event))
    return results


def make_silence(
    *,
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    silence_id: str = "quiet",
    **matchers: Any,
) -> Silence:
    """A silence from `starts_at`, one hour long unless `ends_at` is given."""
    return Silence(
        id=silence_id,
        matchers=SilenceMatchers.model_validate(matchers),
        starts_at=starts_at,
        ends_at=ends_at or starts_at + timedelta(hours=1),
        created_by="operator",
        created_at=starts_at,
    )


def make_incident(**fields: Any) -> Incident:
    """An open incident with sensible defaults, for tests that need no engine."""
    defaults: dict[str, Any] = {
        "key": "yard-intrusion|cam-gate|yard",
        "rule": "yard-intrusion",
        "category": "security",
        "sub_category": "trespassing",
        "severity": Severity.HIGH,
        "base_severity": Severity.HIGH,
        "title": "Intrusion into restricted area at yard",
        "source": "cam-gate",
        "sources": ["cam-gate"],
        "zone": "yard",
        "first_seen": T0,
        "last_seen": T0,
        "event_count": 1,
        "created_at": T0,
        "updated_at": T0,
    }
    return Incident.model_validate({**defaults, **fields})
