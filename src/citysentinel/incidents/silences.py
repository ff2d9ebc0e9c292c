"""Silences: mute matching incidents for a time (Alertmanager-style)."""

from __future__ import annotations

import fnmatch
import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from citysentinel.events import Severity
from citysentinel.incidents.model import Incident


class SilenceMatchers(BaseModel):
    """Every matcher given must hold; source and zone accept glob patterns."""

    model_config = ConfigDict(extra="forbid")

    rule: str | None = Field(default=None, description="Rule id.")
    category: str | None = Field(default=None, description="FIWARE category.")
    sub_category: str | None = Field(default=None, description="FIWARE subCategory.")
    source: str | None = Field(default=None, description="Source id or glob pattern.")
    zone: str | None = Field(default=None, description="Zone name or glob pattern.")
    max_severity: Severity | None = Field(
        default=None, description="Only mute incidents at or below this severity."
    )

    @model_validator(mode="after")
    def _not_everything(self) -> SilenceMatchers:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a silence needs at least one matcher")
        return self

    def matches(self, incident: Incident) -> bool:
        checks: list[bool] = []
        if self.rule is not None:
            checks.append(incident.rule == self.rule)
        if self.category is not None:
            checks.append(incident.category.value == self.category)
        if self.sub_category is not None:
            checks.append(incident.sub_category == self.sub_category)
        if self.source is not None:
            checks.append(any(fnmatch.fnmatchcase(s, self.source) for s in incident.sources))
        if self.zone is not None:
            checks.append(fnmatch.fnmatchcase(incident.zone or "", self.zone))
        if self.max_severity is not None:
            checks.append(incident.severity.rank <= self.max_severity.rank)
        return all(checks)


class Silence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    matchers: SilenceMatchers
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: str
    created_at: AwareDatetime
    comment: str = ""
    expired_by: str | None = Field(default=None, description="Who ended it early, if anyone.")

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


def silencing(silences: list[Silence], incident: Incident, now: datetime) -> Silence | None:
    """The first active silence that mutes `incident`, if any."""
    for s in silences:
        if s.active(now) and s.matchers.matches(incident):
            return s
    return None
