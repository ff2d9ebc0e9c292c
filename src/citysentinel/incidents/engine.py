"""The incident engine: rules, dedup, cooldown, grouping, escalation, lifecycle, silences.

Pure, synchronous logic over in-memory state. It never touches storage: the
composition root feeds it events in storage order, persists the changes it
returns, and rebuilds it from storage on restart with `restore` and `warm`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from citysentinel.events import Event, EventState, Point, Severity
from citysentinel.events.model import utcnow
from citysentinel.incidents.model import (
    ChangeAction,
    Incident,
    IncidentChange,
    IncidentStatus,
    change,
)
from citysentinel.incidents.proximity import ProximityIndex
from citysentinel.incidents.rules import RuleConfig
from citysentinel.incidents.silences import Silence, silencing
from citysentinel.incidents.summary import render_summaries, sub_category_name

ENGINE_ACTOR = "engine"


class LifecycleError(Exception):
    """An operator action that the incident's current state does not allow."""


@dataclass
class EngineResult:
    """What processing one event produced: changes to persist and publish, and links."""

    changes: list[IncidentChange] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (incident id, event id)


class IncidentEngine:
    """Turns events into incidents.

        Example:
            >>> from citysentinel.incidents.proximity import ProximityIndex
    from citysentinel.incidents.rules import RuleConfig
            >>> rule = RuleConfig.model_validate({"id": "fall", "match": {"kind": "video.fall"},
            ...     "incident": {"category": "health", "sub_category": "fallenPatient"}})
            >>> engine = IncidentEngine([rule], ZoneInfo("UTC"))
            >>> result = engine.process(Event(kind="video.fall", source="cam-1"))
            >>> result.changes[0].type.value
            'new'
    """

    def __init__(
        self,
        rules: Iterable[RuleConfig],
        tz: ZoneInfo,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_evidence: int = 5,
    ) -> None:
        self.rules = [r for r in rules if r.enabled]
        self._rules_by_id = {r.id: r for r in self.rules}
        self.tz = tz
        self._clock = clock
        self._max_evidence = max_evidence
        self._active: dict[str, Incident] = {}
        self._near = ProximityIndex()
        self._by_key: dict[str, str] = {}
        self._cooling: dict[str, Incident] = {}
        # Matches waiting for a count window to fill: (event time, event id) per key.
        self._pending: dict[str, deque[tuple[datetime, str]]] = {}
        self._silences: list[Silence] = []

    # -- state ------------------------------------------------------------
    def restore(self, incidents: Iterable[Incident], silences: Iterable[Silence]) -> None:
        """Load active and recently resolved incidents and silences from storage."""
        for inc in incidents:
            if inc.is_active:
                self._track(inc)
            else:
                self._cool(inc)
        self._silences = list(silences)

    def warm(self, event: Event) -> None:
        """Replay an already-processed event into the count windows only."""
        for rule in self.rules:
            # Mirror process(): END events never open, so they never count either.
            if rule.match.count and rule.opens_on(event) and rule.matches(event, self.tz):
                key = rule.key(event)
                if key not in self._by_key:
                    self._count(rule, key, event)

    def active(self) -> list[Incident]:
        return list(self._active.values())

    def get(self, incident_id: str) -> Incident | None:
        return self._active.get(incident_id) or next(
            (i for i in self._cooling.values() if i.id == incident_id), None
        )

    def max_count_window_s(self) -> float:
        return max((r.match.count.window_s for r in self.rules if r.match.count), default=0.0)

    def set_silences(self, silences: Iterable[Silence]) -> list[IncidentChange]:
        """Replace the silences and report incidents they mute or unmute."""
        self._silences = list(silences)
        return self._resilence(self._clock())

    # -- events -----------------------------------------------------------
    def process(self, event: Event) -> EngineResult:
        """Match `event` against every rule and fold it into incidents."""
        result = EngineResult()
        for rule in self.rules:
            if rule.matches(event, self.tz):
                self._apply_rule(rule, event, result)
        return result

    def _apply_rule(self, rule: RuleConfig, event: Event, result: EngineResult) -> None:
        key = rule.key(event)
        incident_id = self._by_key.get(key)
        if incident_id is not None:
            self._add_event(rule, self._active[incident_id], event, result)
            return
        if not rule.opens_on(event):
            return
        cooled = self._cooling.get(key)
        if cooled is not None and cooled.resolved_at is not None:
            if event.time - cooled.resolved_at < timedelta(seconds=rule.cooldown_s):
                result.links.append((cooled.id, event.id))
                return
            del self._cooling[key]
        earlier: list[tuple[datetime, str]] = []
        if rule.match.count:
            window = self._count(rule, key, event)
            if window is None:
                return
            earlier = window[:-1]
        related = self._related(rule, event)
        if related is not None:
            self._by_key[key] = related.id
            self._add_event(rule, related, event, result, ChangeAction.GROUPED, key)
            return
        self._open(rule, key, event, result, earlier)

    def _count(self, rule: RuleConfig, key: str, event: Event) -> list[tuple[datetime, str]] | None:
        """Record a match; the window's matches (oldest first) once it holds enough."""
        assert rule.match.count is not None
        window = timedelta(seconds=rule.match.count.window_s)
        seen = self._pending.setdefault(key, deque())
        seen.append((event.time, event.id))
        while seen and event.time - seen[0][0] > window:
            seen.popleft()
        if len(seen) >= rule.match.count.min:
            del self._pending[key]
            return list(seen)
        return None

    def _related(self, rule: RuleConfig, event: Event) -> Incident | None:
        if rule.group is None:
            return None
        window = timedelta(seconds=rule.group.window_s)
        best: tuple[float, Incident] | None = None
        loc = event.location
        found = self._near.candidates(
            rule.incident.category, loc.zone, loc.point, rule.group.radius_m
        )
        for incident_id in found:
            inc = self._active[incident_id]
            if abs(event.time - inc.last_seen) > window:
                continue
            distance = _distance_m(inc.point, event.location.point)
            same_zone = inc.zone is not None and inc.zone == event.location.zone
            near = rule.group.radius_m is not None and distance <= rule.group.radius_m
            if (same_zone or near) and (best is None or distance < best[0]):
                best = (distance, inc)
        return best[1] if best else None

    def _open(
        self,
        rule: RuleConfig,
        key: str,
        event: Event,
        result: EngineResult,
        earlier: list[tuple[datetime, str]] | None = None,
    ) -> None:
        """Open an incident; `earlier` are the count window's matches before `event`."""
        earlier = earlier or []
        tpl = rule.incident
        severity = tpl.severity
        if tpl.use_severity_hint and event.severity_hint is not None:
            severity = Severity.highest(severity, event.severity_hint)
        now = self._clock()
        place = event.location.zone or event.location.address or event.source
        inc = Incident(
            key=key,
            rule=rule.id,
            category=tpl.category,
            sub_category=tpl.sub_category,
            severity=severity,
            base_severity=severity,
            title=tpl.title or f"{sub_category_name(tpl.sub_category, 0)} at {place}",
            source=event.source,
            sources=[event.source],
            zone=event.location.zone,
            point=event.location.point,
            address=event.location.address,
            first_seen=min([event.time, *(t for t, _ in earlier)]),
            last_seen=event.time,
            event_count=1 + len(earlier),
            last_event_state=event.state.value,
            evidence=list(event.evidence)[-self._max_evidence :],
            created_at=now,
            updated_at=now,
            version=0,
        )
        inc = self._escalate_by_count(rule, inc)
        self._track(inc)
        result.changes.append(self._finish(ChangeAction.OPENED, None, inc, event=event))
        # A count rule's incident holds every event that filled the window, not just the last.
        result.links.extend((inc.id, event_id) for _, event_id in earlier)
        result.links.append((inc.id, event.id))

    def _add_event(
        self,
        rule: RuleConfig,
        inc: Incident,
        event: Event,
        result: EngineResult,
        action: ChangeAction = ChangeAction.EVENT,
        alias: str | None = None,
    ) -> None:
        before = inc
        after = inc.model_copy(deep=True)
        after.event_count += 1
        after.last_seen = max(after.last_seen, event.time)
        after.first_seen = min(after.first_seen, event.time)
        after.last_event_state = event.state.value
        if event.source not in after.sources:
            after.sources.append(event.source)
        if after.point is None and event.location.point is not None:
            after.point = event.location.point
        after.evidence = (after.evidence + list(event.evidence))[-self._max_evidence :]
        if alias is not None:
            after.grouped_keys.append(alias)
        if rule.incident.use_severity_hint and event.severity_hint is not None:
            after.severity = Severity.highest(after.severity, event.severity_hint)
        after = self._escalate_by_count(rule, after)
        if after.severity.rank > before.severity.rank and action is ChangeAction.EVENT:
            action = ChangeAction.ESCALATED
        result.links.append((inc.id, event.id))
        if event.state is EventState.END and rule.resolve_on_end:
            self._resolve_fields(after, ENGINE_ACTOR, "the source reported the condition ended")
            action = ChangeAction.RESOLVED
        self._replace(after)
        result.changes.append(self._finish(action, before, after, event=event))

    # -- time -------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> list[IncidentChange]:
        """Escalate incidents open too long, auto-resolve idle ones, apply silence changes."""
        now = now or self._clock()
        changes: list[IncidentChange] = []
        for inc in list(self._active.values()):
            rule = self._rules_by_id.get(inc.rule)
            if rule is None:
                continue
            idle = (now - inc.last_seen).total_seconds()
            if rule.auto_resolve_after_s is not None and idle >= rule.auto_resolve_after_s:
                after = inc.model_copy(deep=True)
                self._resolve_fields(after, ENGINE_ACTOR, f"no new events for {idle:.0f} s", now)
                self._replace(after)
                changes.append(self._finish(ChangeAction.RESOLVED, inc, after, now=now))
                continue
            target = self._duration_target(rule, inc, now)
            if target.rank > inc.severity.rank:
                after = inc.model_copy(deep=True)
                after.severity = target
                self._replace(after)
                note = f"open and unacknowledged for {(now - inc.first_seen).total_seconds():.0f} s"
                changes.append(self._finish(ChangeAction.ESCALATED, inc, after, note=note, now=now))
        for key, inc in list(self._cooling.items()):
            rule = self._rules_by_id.get(inc.rule)
            cooldown = rule.cooldown_s if rule else 0.0
            if inc.resolved_at is None or (now - inc.resolved_at).total_seconds() > cooldown:
                del self._cooling[key]
        changes.extend(self._resilence(now))
        return changes

    def _duration_target(self, rule: RuleConfig, inc: Incident, now: datetime) -> Severity:
        target = inc.severity
        if inc.status is not IncidentStatus.OPEN:
            return target
        open_s = (now - inc.first_seen).total_seconds()
        for step in rule.escalate:
            if step.after_s is not None and open_s >= step.after_s:
                target = Severity.highest(target, step.severity)
        return target

    def _escalate_by_count(self, rule: RuleConfig, inc: Incident) -> Incident:
        for step in rule.escalate:
            if step.after_events is not None and inc.event_count >= step.after_events:
                inc.severity = Severity.highest(inc.severity, step.severity)
        return inc

    def _resilence(self, now: datetime) -> list[IncidentChange]:
        changes = []
        for inc in list(self._active.values()):
            silence = silencing(self._silences, inc, now)
            silence_id = silence.id if silence else None
            if silence_id == inc.silence_id:
                continue
            after = inc.model_copy(deep=True)
            self._replace(after)
            action = ChangeAction.SILENCED if silence else ChangeAction.UNSILENCED
            changes.append(
                self._finish(action, inc, after, silence_override=(silence, now), now=now)
            )
        return changes

    # -- operator actions -------------------------------------------------
    def acknowledge(self, inc: Incident, actor: str, note: str | None = None) -> IncidentChange:
        inc = self._current(inc)
        if inc.status is not IncidentStatus.OPEN:
            by = inc.acknowledged_by if inc.is_active else inc.resolved_by
            raise LifecycleError(f"incident is already {inc.status.value} (by {by})")
        after = inc.model_copy(deep=True)
        after.status = IncidentStatus.ACKNOWLEDGED
        after.acknowledged_by = actor
        after.acknowledged_at = self._clock()
        self._replace(after)
        return self._finish(ChangeAction.ACKNOWLEDGED, inc, after, actor=actor, note=note)

    def assign(
        self, inc: Incident, assignee: str, actor: str, note: str | None = None
    ) -> IncidentChange:
        inc = self._current(inc)
        if not inc.is_active:
            raise LifecycleError(f"incident was resolved by {inc.resolved_by}")
        after = inc.model_copy(deep=True)
        after.assignee = assignee
        self._replace(after)
        return self._finish(ChangeAction.ASSIGNED, inc, after, actor=actor, note=note)

    def resolve(self, inc: Incident, actor: str, resolution: str) -> IncidentChange:
        inc = self._current(inc)
        if not inc.is_active:
            raise LifecycleError(f"incident was already resolved by {inc.resolved_by}")
        after = inc.model_copy(deep=True)
        self._resolve_fields(after, actor, resolution)
        self._replace(after)
        return self._finish(ChangeAction.RESOLVED, inc, after, actor=actor, note=resolution)

    def note(self, inc: Incident, actor: str, text: str) -> IncidentChange:
        inc = self._current(inc)
        after = inc.model_copy(deep=True)
        if inc.is_active or inc.id in {i.id for i in self._cooling.values()}:
            self._replace(after)
        return self._finish(ChangeAction.NOTE, inc, after, actor=actor, note=text)

    # -- helpers ----------------------------------------------------------
    def _current(self, inc: Incident) -> Incident:
        """The engine's latest version of `inc`: callers may hold a stale copy."""
        return self.get(inc.id) or inc

    def _resolve_fields(
        self, inc: Incident, actor: str, why: str, now: datetime | None = None
    ) -> None:
        inc.status = IncidentStatus.RESOLVED
        inc.resolved_by = actor
        inc.resolved_at = now or self._clock()
        inc.resolution = why

    def _track(self, inc: Incident) -> None:
        self._active[inc.id] = inc
        self._near.add(inc)
        for key in (inc.key, *inc.grouped_keys):
            self._by_key[key] = inc.id

    def _cool(self, inc: Incident) -> None:
        for key in (inc.key, *inc.grouped_keys):
            self._cooling[key] = inc

    def _replace(self, inc: Incident) -> None:
        """Store the new version of an incident under its keys."""
        if inc.is_active:
            self._track(inc)
            return
        self._active.pop(inc.id, None)
        self._near.remove(inc.id)
        for key in (inc.key, *inc.grouped_keys):
            if self._by_key.get(key) == inc.id:
                del self._by_key[key]
        self._cool(inc)

    def _finish(
        self,
        action: ChangeAction,
        before: Incident | None,
        after: Incident,
        *,
        actor: str = ENGINE_ACTOR,
        note: str | None = None,
        event: Event | None = None,
        silence_override: tuple[Silence | None, datetime] | None = None,
        now: datetime | None = None,
    ) -> IncidentChange:
        now = now or self._clock()
        if silence_override is not None:
            silence: Silence | None = silence_override[0]
        else:
            silence = silencing(self._silences, after, now)
        after.silenced = silence is not None
        after.silence_id = silence.id if silence else None
        after.version += 1
        after.updated_at = now
        rule = self._rules_by_id.get(after.rule)
        action_text = (rule.incident.action_en, rule.incident.action_zh) if rule else (None, None)
        after.summary_en, after.summary_zh = render_summaries(after, self.tz, action_text)
        return change(
            action,
            before,
            after,
            actor=actor,
            at=now,
            note=note,
            event_id=event.id if event else None,
        )


def _distance_m(a: Point | None, b: Point | None) -> float:
    """Great-circle distance in metres; infinite when either point is unknown."""
    if a is None or b is None:
        return math.inf
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
