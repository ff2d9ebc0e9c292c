"""Declarative incident rules from the site config, and how an event is matched."""

from __future__ import annotations

import fnmatch
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citysentinel.events import Event, EventKind, EventState, Severity
from citysentinel.incidents.model import Category

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# FIWARE Alert subCategory vocabulary (smart-data-models Alert), per category.
SUB_CATEGORIES: dict[Category, tuple[str, ...]] = {
    Category.TRAFFIC: (
        "trafficJam",
        "carAccident",
        "carWrongDirection",
        "carStopped",
        "pothole",
        "roadClosed",
        "roadWorks",
        "hazardOnRoad",
        "injuredBiker",
        "speeding",
    ),
    Category.NATURAL_DISASTER: (
        "earthquake",
        "flood",
        "fire",
        "forestFire",
        "landslide",
        "tsunami",
        "volcanicEruption",
        "snowAvalanche",
    ),
    Category.WEATHER: (
        "rainfall",
        "highTemperature",
        "lowTemperature",
        "heatWave",
        "coldWave",
        "ice",
        "snow",
        "wind",
        "fog",
        "tornado",
        "tropicalCyclone",
        "hurricane",
        "storm",
    ),
    Category.ENVIRONMENT: (
        "airPollution",
        "waterPollution",
        "pollution",
        "noiseLevelExceeded",
        "buildingFire",
        "gasLeak",
        "explosion",
        "infrastructureDamage",
    ),
    Category.HEALTH: (
        "fallenPatient",
        "heartAttack",
        "medicalEmergency",
        "foodPoisoning",
        "outbreak",
        "asthmaAttack",
        "injuredPerson",
    ),
    Category.SECURITY: (
        "suspiciousAction",
        "assault",
        "robbery",
        "vandalism",
        "bombThreat",
        "terrorism",
        "crowdRisk",
        "trespassing",
        "loitering",
        "abandonedObject",
        "missingPerson",
        "trappedPeople",
        "cameraFailure",
        "sensorFailure",
        "publicDisorder",
        "fight",
    ),
    Category.AGRICULTURE: ("plantDisease", "pest", "frost", "drought"),
}


class Schedule(BaseModel):
    """A daily time window in the site's time zone; `end` before `start` spans midnight."""

    model_config = ConfigDict(extra="forbid")

    days: list[Weekday] = Field(
        default_factory=lambda: list(_WEEKDAYS), description="Days the window applies on."
    )
    start: time = Field(description="Start time, HH:MM.")
    end: time = Field(description="End time, HH:MM (exclusive).")

    def contains(self, local: datetime) -> bool:
        t = local.timetz().replace(tzinfo=None)
        day = _WEEKDAYS[local.weekday()]
        if self.start <= self.end:
            return day in self.days and self.start <= t < self.end
        # Over midnight: the part after midnight belongs to the previous day's window.
        if t >= self.start:
            return day in self.days
        previous = _WEEKDAYS[(local.weekday() - 1) % 7]
        return t < self.end and previous in self.days


class CountWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int = Field(ge=1, description="Matching events needed before an incident opens.")
    window_s: float = Field(gt=0, description="Within this many seconds (event time).")


class Match(BaseModel):
    """Which events a rule takes. Every filter given must hold."""

    model_config = ConfigDict(extra="forbid")

    kind: list[EventKind] = Field(description="Event kinds; one or a list.")
    sources: list[str] = Field(
        default_factory=list, description="Source ids or glob patterns; empty means any."
    )
    zones: list[str] = Field(default_factory=list, description="Zone names; empty means any.")
    labels: list[str] = Field(
        default_factory=list, description="At least one event label must be in this list."
    )
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="Minimum confidence.")
    schedule: list[Schedule] = Field(
        default_factory=list, description="Time-of-day windows; empty means always."
    )
    count: CountWindow | None = Field(
        default=None, description="Open only after this many matching events in a window."
    )

    @field_validator("kind", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class IncidentTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category = Field(description="FIWARE Alert category.")
    sub_category: str = Field(description="FIWARE Alert subCategory, e.g. carAccident.")
    severity: Severity = Field(default=Severity.MEDIUM, description="Severity on opening.")
    use_severity_hint: bool = Field(
        default=True, description="Take the event's severity hint when it is higher."
    )
    title: str | None = Field(default=None, max_length=200, description="Title; a default is made.")
    action_en: str | None = Field(default=None, description="Suggested action, English.")
    action_zh: str | None = Field(default=None, description="Suggested action, Chinese.")

    @model_validator(mode="after")
    def _known_sub_category(self) -> IncidentTemplate:
        allowed = SUB_CATEGORIES[self.category]
        if self.sub_category not in allowed:
            raise ValueError(
                f"sub_category {self.sub_category!r} is not in category {self.category.value}:"
                f" use one of {', '.join(allowed)}"
            )
        return self


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_events: int | None = Field(default=None, ge=2, description="Events in the incident.")
    after_s: float | None = Field(
        default=None, gt=0, description="Seconds open and not acknowledged."
    )
    severity: Severity = Field(description="Raise the incident to at least this severity.")

    @model_validator(mode="after")
    def _one_trigger(self) -> EscalationStep:
        if (self.after_events is None) == (self.after_s is None):
            raise ValueError("give exactly one of after_events or after_s")
        return self


class Grouping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_s: float = Field(gt=0, description="Join an incident seen this recently.")
    radius_m: float | None = Field(
        default=None, gt=0, description="...whose location is this close (or in the same zone)."
    )


class RuleConfig(BaseModel):
    """One declarative rule: which events open which incident, and how it evolves.

    Example (YAML):
        - id: yard-intrusion
          match: {kind: video.intrusion, zones: [yard], labels: [person]}
          incident: {category: security, sub_category: trespassing, severity: high}
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100, description="Unique id.")
    description: str = Field(default="", description="What the rule is for.")
    enabled: bool = Field(default=True, description="Disabled rules match nothing.")
    match: Match = Field(description="Which events this rule takes.")
    incident: IncidentTemplate = Field(description="What incident it opens.")
    cooldown_s: float = Field(
        default=60, ge=0, description="After a resolve, fold new events into it this long."
    )
    auto_resolve_after_s: float | None = Field(
        default=None, gt=0, description="Resolve when no event arrives for this long."
    )
    resolve_on_end: bool = Field(
        default=False, description="Resolve when the source reports the condition ended."
    )
    escalate: list[EscalationStep] = Field(default_factory=list, description="Escalation steps.")
    group: Grouping | None = Field(
        default=None, description="Join a related open incident of the same category."
    )

    def matches(self, event: Event, tz: ZoneInfo) -> bool:
        """True when every filter holds for `event` (the count window is the engine's)."""
        m = self.match
        if not self.enabled or event.kind not in m.kind or event.confidence < m.min_confidence:
            return False
        if m.sources and not any(fnmatch.fnmatchcase(event.source, p) for p in m.sources):
            return False
        if m.zones and event.location.zone not in m.zones:
            return False
        if m.labels and not set(event.labels) & set(m.labels):
            return False
        if m.schedule:
            local = event.time.astimezone(tz)
            if not any(s.contains(local) for s in m.schedule):
                return False
        return True

    def key(self, event: Event) -> str:
        """Dedup key: rule, source and zone; without a zone, the named place (`address`).

        A hotline or a text feed is one source for reports from all over the city:
        keyed on the source alone, every fire it reports would fold into one incident.
        """
        loc = event.location
        place = loc.zone or ""
        if not place and loc.address:
            place = "@" + " ".join(loc.address.casefold().split())[:200]
        return f"{self.id}|{event.source}|{place}"

    def opens_on(self, event: Event) -> bool:
        return event.state is not EventState.END
