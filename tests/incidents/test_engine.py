"""The incident engine: counting, dedup, cooldown, grouping, escalation, lifecycle, restore."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from citysentinel.events import EventKind, EventState, Severity
from citysentinel.incidents import (
    ChangeAction,
    ChangeType,
    IncidentStatus,
    LifecycleError,
)
from citysentinel.incidents.engine import ENGINE_ACTOR

from .factories import T0, at, feed, make_engine, make_event, make_rule, make_snapshot

# A point in Shanghai, (lon, lat); 0.00027 degrees of latitude is about 30 m.
ORIGIN = (121.4737, 31.2304)
NEAR = (121.4737, 31.2304 + 0.00027)  # ~30 m north
FAR = (121.4737, 31.2304 + 0.0018)  # ~200 m north


# -- matching through the engine ------------------------------------------------
def test_first_matching_event_opens_a_new_incident() -> None:
    engine, clock = make_engine()
    event = make_event(evidence=[make_snapshot()])
    (result,) = feed(engine, clock, event)
    (chg,) = result.changes
    inc = chg.after
    assert (chg.type, chg.action, chg.actor, chg.at, chg.before) == (
        ChangeType.NEW,
        ChangeAction.OPENED,
        ENGINE_ACTOR,
        T0,
        None,
    )
    assert chg.event_id == event.id
    assert result.links == [(inc.id, event.id)]
    assert (inc.rule, inc.category, inc.sub_category, inc.severity) == (
        "yard-intrusion",
        "security",
        "trespassing",
        Severity.MEDIUM,
    )
    assert (inc.status, inc.version, inc.event_count) == (IncidentStatus.OPEN, 1, 1)
    assert (inc.source, inc.sources, inc.zone, inc.first_seen, inc.last_seen) == (
        "cam-gate",
        ["cam-gate"],
        "yard",
        T0,
        T0,
    )
    assert inc.title == "Intrusion into restricted area at yard"
    assert inc.evidence == event.evidence
    assert engine.active() == [inc]
    assert engine.get(inc.id) == inc


@pytest.mark.parametrize(
    "event_fields",
    [
        {"kind": EventKind.VIDEO_FALL},
        {"zone": "dock"},
        {"labels": ["car"]},
        {"confidence": 0.2},
        {"source": "lpr-1"},
    ],
)
def test_events_a_rule_does_not_match_open_nothing(event_fields: dict[str, Any]) -> None:
    rule = make_rule(
        match={"zones": ["yard"], "labels": ["person"], "min_confidence": 0.5, "sources": ["cam-*"]}
    )
    engine, clock = make_engine(rule)
    (result,) = feed(engine, clock, make_event(**event_fields))
    assert (result.changes, result.links, engine.active()) == ([], [], [])


def test_disabled_rule_opens_nothing() -> None:
    engine, clock = make_engine(make_rule(enabled=False))
    (result,) = feed(engine, clock, make_event())
    assert result.changes == []
    assert engine.rules == []


def test_schedule_window_is_applied_by_the_engine() -> None:
    # 22:00-06:00 in Shanghai is 14:00-22:00 UTC.
    rule = make_rule(match={"schedule": [{"start": "22:00", "end": "06:00"}]})
    engine, clock = make_engine(rule, tz="Asia/Shanghai")
    outside, inside = feed(
        engine, clock, make_event(time=at(-60)), make_event(time=at(0), source="cam-2")
    )
    assert outside.changes == []
    assert [c.action for c in inside.changes] == [ChangeAction.OPENED]


def test_event_matching_two_rules_opens_one_incident_per_rule() -> None:
    loiter = make_rule(
        "yard-loiter", kind=["video.intrusion", "video.loitering"], sub_category="loitering"
    )
    engine, clock = make_engine(make_rule(), loiter)
    (result,) = feed(engine, clock, make_event())
    assert sorted(c.after.rule for c in result.changes) == ["yard-intrusion", "yard-loiter"]
    assert len({inc_id for inc_id, _ in result.links}) == 2


# -- count over a window ---------------------------------------------------------
@pytest.mark.parametrize(
    ("offsets", "opens_on"),
    [
        ([0, 10, 20], 2),
        ([0, 30, 60], 2),  # the window is inclusive
        ([0, 30, 61], None),
        ([0, 70, 140], None),  # spread out
        ([0, 70, 100, 120], 3),  # the first one slid out of the window
        ([0, 10], None),
    ],
)
def test_count_window_opens_only_on_the_nth_event_within_the_window(
    offsets: list[float], opens_on: int | None
) -> None:
    rule = make_rule(match={"count": {"min": 3, "window_s": 60}})
    engine, clock = make_engine(rule)
    results = feed(engine, clock, *(make_event(time=at(s)) for s in offsets))
    opened = [i for i, r in enumerate(results) if r.changes]
    assert opened == ([] if opens_on is None else [opens_on])
    if opens_on is not None:
        assert results[opens_on].changes[0].type is ChangeType.NEW


def test_count_window_incident_holds_every_event_that_filled_the_window() -> None:
    rule = make_rule(match={"count": {"min": 3, "window_s": 60}})
    engine, clock = make_engine(rule)
    events = [make_event(time=at(s)) for s in (0, 70, 100, 120)]
    results = feed(engine, clock, *events)
    (change,) = results[3].changes
    assert change.after.event_count == 3
    assert change.after.first_seen == at(70)  # the event that slid out is not part of it
    assert [event_id for _, event_id in results[3].links] == [e.id for e in events[1:]]


def test_count_window_is_per_source_and_zone() -> None:
    rule = make_rule(match={"count": {"min": 2, "window_s": 60}})
    engine, clock = make_engine(rule)
    results = feed(
        engine,
        clock,
        make_event(time=at(0), source="cam-a"),
        make_event(time=at(5), source="cam-b"),
        make_event(time=at(10), source="cam-a", zone="dock"),
        make_event(time=at(15), source="cam-a"),
    )
    assert [len(r.changes) for r in results] == [0, 0, 0, 1]
    assert results[3].changes[0].after.key == "yard-intrusion|cam-a|yard"


def test_count_window_events_after_opening_update_the_incident() -> None:
    rule = make_rule(match={"count": {"min": 2, "window_s": 60}})
    engine, clock = make_engine(rule)
    results = feed(engine, clock, *(make_event(time=at(s)) for s in (0, 10, 20)))
    assert [c.action for r in results for c in r.changes] == [
        ChangeAction.OPENED,
        ChangeAction.EVENT,
    ]


# -- dedup ------------------------------------------------------------------------
def test_repeated_events_update_the_open_incident() -> None:
    engine, clock = make_engine()
    events = [make_event(time=at(s)) for s in (0, 30, 90)]
    results = feed(engine, clock, *events)
    changes = [c for r in results for c in r.changes]
    assert [(c.type, c.action) for c in changes] == [
        (ChangeType.NEW, ChangeAction.OPENED),
        (ChangeType.UPDATE, ChangeAction.EVENT),
        (ChangeType.UPDATE, ChangeAction.EVENT),
    ]
    assert len({c.incident_id for c in changes}) == 1
    last = changes[-1].after
    assert (last.event_count, last.first_seen, last.last_seen, last.version) == (3, T0, at(90), 3)
    assert [link for r in results for link in r.links] == [(last.id, e.id) for e in events]
    assert [c.event_id for c in changes] == [e.id for e in events]
    assert len(engine.active()) == 1


def test_update_keeps_before_and_after_apart() -> None:
    engine, clock = make_engine()
    first, second = feed(engine, clock, make_event(time=at(0)), make_event(time=at(30)))
    chg = second.changes[0]
    assert chg.before is not None
    assert (chg.before.event_count, chg.after.event_count) == (1, 2)
    assert (chg.before.version, chg.after.version) == (1, 2)
    assert first.changes[0].after.event_count == 1


def test_late_event_moves_first_seen_back_but_not_last_seen() -> None:
    engine, clock = make_engine()
    feed(engine, clock, make_event(time=at(100)))
    clock.now = at(110)
    result = engine.process(make_event(time=at(40)))
    inc = result.changes[0].after
    assert (inc.first_seen, inc.last_seen, inc.event_count) == (at(40), at(100), 2)


@pytest.mark.parametrize(
    ("max_evidence", "per_event", "events", "expected"),
    [
        (3, 1, 5, ["e2-0", "e3-0", "e4-0"]),
        (5, 2, 2, ["e0-0", "e0-1", "e1-0", "e1-1"]),
        (2, 4, 1, ["e0-2", "e0-3"]),  # a single event can already exceed the cap
    ],
)
def test_evidence_is_capped_keeping_the_newest(
    max_evidence: int, per_event: int, events: int, expected: list[str]
) -> None:
    engine, clock = make_engine(max_evidence=max_evidence)
    for i in range(events):
        snaps = [make_snapshot(f"e{i}-{j}") for j in range(per_event)]
        feed(engine, clock, make_event(time=at(i), evidence=snaps))
    (inc,) = engine.active()
    assert [ev.path for ev in inc.evidence] == [f"evidence/{name}.jpg" for name in expected]


@pytest.mark.parametrize(
    "second",
    [{"source": "cam-north"}, {"zone": "dock"}, {"zone": None}],
)
def test_different_source_or_zone_opens_a_separate_incident(second: dict[str, Any]) -> None:
    engine, clock = make_engine()
    first_result, second_result = feed(
        engine, clock, make_event(time=at(0)), make_event(time=at(10), **second)
    )
    assert [c.type for c in second_result.changes] == [ChangeType.NEW]
    assert second_result.changes[0].incident_id != first_result.changes[0].incident_id
    assert len(engine.active()) == 2


# -- END events --------------------------------------------------------------------
def test_end_event_never_opens_an_incident() -> None:
    engine, clock = make_engine(make_rule(resolve_on_end=True))
    (result,) = feed(engine, clock, make_event(state=EventState.END))
    assert (result.changes, result.links, engine.active()) == ([], [], [])


def test_end_event_without_resolve_on_end_only_updates() -> None:
    engine, clock = make_engine()
    _, end = feed(engine, clock, make_event(), make_event(time=at(5), state=EventState.END))
    (chg,) = end.changes
    assert (chg.type, chg.action, chg.after.status) == (
        ChangeType.UPDATE,
        ChangeAction.EVENT,
        IncidentStatus.OPEN,
    )
    assert chg.after.last_event_state == "end"
    assert engine.active() == [chg.after]


def test_end_event_with_resolve_on_end_resolves() -> None:
    engine, clock = make_engine(make_rule(resolve_on_end=True))
    _, end = feed(engine, clock, make_event(), make_event(time=at(5), state=EventState.END))
    (chg,) = end.changes
    inc = chg.after
    assert (chg.type, chg.action, chg.actor) == (
        ChangeType.END,
        ChangeAction.RESOLVED,
        ENGINE_ACTOR,
    )
    assert (inc.status, inc.resolved_by, inc.resolved_at, inc.event_count) == (
        IncidentStatus.RESOLVED,
        ENGINE_ACTOR,
        at(5),
        2,
    )
    assert engine.active() == []
    assert engine.get(inc.id) == inc  # still known during its cooldown


# -- cooldown ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("offset_after_resolve", "reopens"),
    [(1, False), (30, False), (59, False), (60, True), (300, True)],
)
def test_cooldown_links_to_the_resolved_incident_then_reopens(
    offset_after_resolve: float, reopens: bool
) -> None:
    engine, clock = make_engine(make_rule(resolve_on_end=True, cooldown_s=60))
    opened, _ = feed(engine, clock, make_event(), make_event(time=at(10), state=EventState.END))
    resolved_id = opened.changes[0].incident_id
    late = make_event(time=at(10 + offset_after_resolve))
    (result,) = feed(engine, clock, late)
    if reopens:
        assert [c.type for c in result.changes] == [ChangeType.NEW]
        assert result.changes[0].incident_id != resolved_id
        assert result.links == [(result.changes[0].incident_id, late.id)]
    else:
        assert result.changes == []
        assert result.links == [(resolved_id, late.id)]
        assert engine.active() == []


def test_cooldown_applies_after_an_operator_resolve() -> None:
    engine, clock = make_engine(make_rule(cooldown_s=120))
    (opened,) = feed(engine, clock, make_event())
    clock.advance(10)
    engine.resolve(opened.changes[0].after, "alice", "false alarm")
    during, after = feed(engine, clock, make_event(time=at(100)), make_event(time=at(131)))
    assert (during.changes, during.links[0][0]) == ([], opened.changes[0].incident_id)
    assert [c.action for c in after.changes] == [ChangeAction.OPENED]


def test_zero_cooldown_reopens_at_once() -> None:
    engine, clock = make_engine(make_rule(resolve_on_end=True, cooldown_s=0))
    results = feed(
        engine,
        clock,
        make_event(),
        make_event(time=at(5), state=EventState.END),
        make_event(time=at(5)),
    )
    assert [c.action for c in results[2].changes] == [ChangeAction.OPENED]


def test_tick_forgets_resolved_incidents_after_their_cooldown() -> None:
    engine, clock = make_engine(make_rule(cooldown_s=60))
    (opened,) = feed(engine, clock, make_event())
    inc_id = opened.changes[0].incident_id
    engine.resolve(opened.changes[0].after, "alice", "done")
    clock.advance(60)
    engine.tick()
    assert engine.get(inc_id) is not None
    clock.advance(1)
    engine.tick()
    assert engine.get(inc_id) is None


# -- grouping ------------------------------------------------------------------------
def grouping_rule(**group: Any) -> Any:
    return make_rule(group={"window_s": 120, **group})


def test_related_event_in_the_same_zone_joins_the_open_incident() -> None:
    engine, clock = make_engine(grouping_rule())
    opened, grouped, again = feed(
        engine,
        clock,
        make_event(source="cam-a"),
        make_event(source="cam-b", time=at(60)),
        make_event(source="cam-b", time=at(90)),
    )
    inc_id = opened.changes[0].incident_id
    (g,) = grouped.changes
    assert (g.type, g.action, g.incident_id) == (ChangeType.UPDATE, ChangeAction.GROUPED, inc_id)
    assert g.after.sources == ["cam-a", "cam-b"]
    assert g.after.grouped_keys == ["yard-intrusion|cam-b|yard"]
    assert g.after.event_count == 2
    (a,) = again.changes
    assert (a.action, a.incident_id, a.after.event_count) == (ChangeAction.EVENT, inc_id, 3)
    assert a.after.grouped_keys == ["yard-intrusion|cam-b|yard"]
    assert len(engine.active()) == 1


@pytest.mark.parametrize(
    ("second", "grouped"),
    [
        ({"source": "cam-b", "time": at(120)}, True),  # window inclusive
        ({"source": "cam-b", "time": at(121)}, False),  # outside the window
        ({"source": "cam-b", "zone": "dock", "time": at(10)}, False),  # another zone, no point
        ({"source": "cam-b", "zone": "dock", "point": NEAR, "time": at(10)}, True),
        ({"source": "cam-b", "zone": "dock", "point": FAR, "time": at(10)}, False),
        ({"source": "cam-b", "zone": None, "point": NEAR, "time": at(10)}, True),
        ({"source": "cam-b", "zone": None, "point": NEAR, "time": at(200)}, False),
    ],
)
def test_grouping_needs_the_window_and_zone_or_radius(
    second: dict[str, Any], grouped: bool
) -> None:
    engine, clock = make_engine(grouping_rule(radius_m=50))
    opened, result = feed(
        engine, clock, make_event(source="cam-a", point=ORIGIN), make_event(**second)
    )
    (chg,) = result.changes
    if grouped:
        assert (chg.action, chg.incident_id) == (
            ChangeAction.GROUPED,
            opened.changes[0].incident_id,
        )
    else:
        assert (chg.action, chg.type) == (ChangeAction.OPENED, ChangeType.NEW)


def test_window_is_measured_from_the_last_event_of_the_incident() -> None:
    engine, clock = make_engine(grouping_rule())
    results = feed(
        engine,
        clock,
        make_event(source="cam-a", time=at(0)),
        make_event(source="cam-a", time=at(100)),
        make_event(source="cam-b", time=at(200)),
    )
    assert results[2].changes[0].action is ChangeAction.GROUPED


def test_without_grouping_another_source_opens_its_own_incident() -> None:
    engine, clock = make_engine()
    _, second = feed(engine, clock, make_event(source="cam-a"), make_event(source="cam-b"))
    assert second.changes[0].action is ChangeAction.OPENED


def test_grouping_joins_another_rule_of_the_same_category_only() -> None:
    loiter = make_rule(
        "yard-loiter",
        kind="video.loitering",
        sub_category="loitering",
        group={"window_s": 120},
    )
    fall = make_rule(
        "yard-fall",
        kind="video.fall",
        category="health",
        sub_category="fallenPatient",
        group={"window_s": 120},
    )
    engine, clock = make_engine(make_rule(), loiter, fall)
    opened, loitering, fallen = feed(
        engine,
        clock,
        make_event(source="cam-a"),
        make_event(EventKind.VIDEO_LOITERING, source="cam-b", time=at(10)),
        make_event(EventKind.VIDEO_FALL, source="cam-c", time=at(20)),
    )
    assert loitering.changes[0].action is ChangeAction.GROUPED
    assert loitering.changes[0].incident_id == opened.changes[0].incident_id
    assert fallen.changes[0].action is ChangeAction.OPENED
    assert fallen.changes[0].after.category == "health"


def test_grouping_prefers_the_nearest_incident() -> None:
    south = (ORIGIN[0], ORIGIN[1] - 0.0006)  # ~67 m south, ~97 m from NEAR
    engine, clock = make_engine(grouping_rule(radius_m=80))
    far, near, joined = feed(
        engine,
        clock,
        make_event(source="cam-far", zone="a", point=south),
        make_event(source="cam-near", zone="b", point=NEAR),
        make_event(source="cam-x", zone="c", point=ORIGIN, time=at(5)),
    )
    assert [far.changes[0].action, near.changes[0].action] == [ChangeAction.OPENED] * 2
    assert joined.changes[0].action is ChangeAction.GROUPED
    assert joined.changes[0].incident_id == near.changes[0].incident_id
    assert joined.changes[0].after.sources == ["cam-near", "cam-x"]
    assert len(engine.active()) == 2


# -- escalation and severity ------------------------------------------------------------
def test_escalation_by_event_count() -> None:
    rule = make_rule(
        escalate=[
            {"after_events": 3, "severity": "high"},
            {"after_events": 5, "severity": "critical"},
        ]
    )
    engine, clock = make_engine(rule)
    results = feed(engine, clock, *(make_event(time=at(i)) for i in range(6)))
    changes = [r.changes[0] for r in results]
    assert [c.after.severity for c in changes] == [
        Severity.MEDIUM,
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.HIGH,
        Severity.CRITICAL,
        Severity.CRITICAL,
    ]
    assert [c.action for c in changes] == [
        ChangeAction.OPENED,
        ChangeAction.EVENT,
        ChangeAction.ESCALATED,
        ChangeAction.EVENT,
        ChangeAction.ESCALATED,
        ChangeAction.EVENT,
    ]
    assert changes[-1].after.base_severity is Severity.MEDIUM


def test_escalation_by_duration_on_tick_while_unacknowledged() -> None:
    rule = make_rule(
        escalate=[{"after_s": 300, "severity": "high"}, {"after_s": 900, "severity": "critical"}]
    )
    engine, clock = make_engine(rule)
    feed(engine, clock, make_event())
    clock.now = at(299)
    assert engine.tick() == []
    clock.now = at(300)
    (chg,) = engine.tick()
    assert (chg.type, chg.action, chg.actor, chg.at) == (
        ChangeType.UPDATE,
        ChangeAction.ESCALATED,
        ENGINE_ACTOR,
        at(300),
    )
    assert chg.before is not None
    assert (chg.before.severity, chg.after.severity, chg.after.version) == (
        Severity.MEDIUM,
        Severity.HIGH,
        2,
    )
    assert chg.note == "open and unacknowledged for 300 s"
    clock.now = at(600)
    assert engine.tick() == []  # no repeat for the same step
    clock.now = at(900)
    assert [c.after.severity for c in engine.tick()] == [Severity.CRITICAL]


@pytest.mark.parametrize("operator_action", ["acknowledge", "resolve"])
def test_no_duration_escalation_once_handled(operator_action: str) -> None:
    rule = make_rule(cooldown_s=3600, escalate=[{"after_s": 300, "severity": "high"}])
    engine, clock = make_engine(rule)
    (opened,) = feed(engine, clock, make_event())
    inc = opened.changes[0].after
    clock.advance(60)
    if operator_action == "acknowledge":
        engine.acknowledge(inc, "alice")
    else:
        engine.resolve(inc, "alice", "handled")
    clock.now = at(600)
    assert [c for c in engine.tick() if c.action is ChangeAction.ESCALATED] == []
    current = engine.get(inc.id)
    assert current is not None
    assert current.severity is Severity.MEDIUM


@pytest.mark.parametrize(
    ("template", "hint", "use_hint", "expected"),
    [
        ("medium", None, True, Severity.MEDIUM),
        ("medium", Severity.HIGH, True, Severity.HIGH),
        ("medium", Severity.LOW, True, Severity.MEDIUM),  # a hint never lowers
        ("medium", Severity.CRITICAL, False, Severity.MEDIUM),
        ("low", Severity.CRITICAL, True, Severity.CRITICAL),
    ],
)
def test_severity_hint_on_opening(
    template: str, hint: Severity | None, use_hint: bool, expected: Severity
) -> None:
    rule = make_rule(severity=template, incident={"use_severity_hint": use_hint})
    engine, clock = make_engine(rule)
    (result,) = feed(engine, clock, make_event(severity_hint=hint))
    inc = result.changes[0].after
    assert (inc.severity, inc.base_severity) == (expected, expected)


def test_severity_hint_on_a_later_event_escalates() -> None:
    engine, clock = make_engine()
    _, second = feed(
        engine, clock, make_event(), make_event(time=at(5), severity_hint=Severity.CRITICAL)
    )
    (chg,) = second.changes
    assert (chg.action, chg.after.severity, chg.after.base_severity) == (
        ChangeAction.ESCALATED,
        Severity.CRITICAL,
        Severity.MEDIUM,
    )


# -- auto-resolve -------------------------------------------------------------------------
def test_auto_resolve_after_idle_on_tick() -> None:
    engine, clock = make_engine(make_rule(auto_resolve_after_s=600))
    (opened, _) = feed(engine, clock, make_event(), make_event(time=at(300)))
    inc_id = opened.changes[0].incident_id
    assert engine.tick(at(899)) == []
    # tick(now) stamps its changes with `now`, not with the (older) clock.
    (chg,) = engine.tick(at(900))
    assert (chg.type, chg.action, chg.actor, chg.at, chg.incident_id) == (
        ChangeType.END,
        ChangeAction.RESOLVED,
        ENGINE_ACTOR,
        at(900),
        inc_id,
    )
    assert (chg.after.status, chg.after.resolved_at, chg.after.resolution) == (
        IncidentStatus.RESOLVED,
        at(900),
        "no new events for 600 s",
    )
    assert engine.active() == []
    assert engine.tick(at(1000)) == []


def test_auto_resolve_also_applies_to_acknowledged_incidents() -> None:
    engine, clock = make_engine(make_rule(auto_resolve_after_s=60))
    (opened,) = feed(engine, clock, make_event())
    engine.acknowledge(opened.changes[0].after, "alice")
    clock.now = at(60)
    assert [c.action for c in engine.tick()] == [ChangeAction.RESOLVED]


def test_no_auto_resolve_without_the_setting() -> None:
    engine, clock = make_engine()
    feed(engine, clock, make_event())
    clock.now = at(86_400)
    assert engine.tick() == []
    assert len(engine.active()) == 1


# -- lifecycle ------------------------------------------------------------------------------
def test_lifecycle_open_acknowledge_assign_note_resolve() -> None:
    engine, clock = make_engine()
    (opened,) = feed(engine, clock, make_event())
    inc = opened.changes[0].after

    clock.advance(10)
    ack = engine.acknowledge(inc, "alice", note="on it")
    clock.advance(10)
    assigned = engine.assign(ack.after, "bob", "alice")
    clock.advance(10)
    noted = engine.note(assigned.after, "bob", "guard sent")
    clock.advance(10)
    resolved = engine.resolve(noted.after, "bob", "intruder left")

    steps = [opened.changes[0], ack, assigned, noted, resolved]
    assert [(c.type, c.action, c.actor, c.at) for c in steps[1:]] == [
        (ChangeType.UPDATE, ChangeAction.ACKNOWLEDGED, "alice", at(10)),
        (ChangeType.UPDATE, ChangeAction.ASSIGNED, "alice", at(20)),
        (ChangeType.UPDATE, ChangeAction.NOTE, "bob", at(30)),
        (ChangeType.END, ChangeAction.RESOLVED, "bob", at(40)),
    ]
    assert [c.after.version for c in steps] == [1, 2, 3, 4, 5]
    for previous, current in pairwise(steps):
        assert current.before == previous.after
        assert current.incident_id == inc.id
        assert current.after.updated_at == current.at
    assert [c.note for c in steps[1:]] == ["on it", None, "guard sent", "intruder left"]
    assert [c.after.status for c in steps] == [
        IncidentStatus.OPEN,
        IncidentStatus.ACKNOWLEDGED,
        IncidentStatus.ACKNOWLEDGED,
        IncidentStatus.ACKNOWLEDGED,
        IncidentStatus.RESOLVED,
    ]
    final = resolved.after
    assert (final.acknowledged_by, final.acknowledged_at, final.assignee) == (
        "alice",
        at(10),
        "bob",
    )
    assert (final.resolved_by, final.resolved_at, final.resolution) == (
        "bob",
        at(40),
        "intruder left",
    )
    assert engine.active() == []


def test_events_keep_updating_an_acknowledged_incident() -> None:
    engine, clock = make_engine()
    (opened,) = feed(engine, clock, make_event())
    engine.acknowledge(opened.changes[0].after, "alice")
    (update,) = feed(engine, clock, make_event(time=at(30)))
    (chg,) = update.changes
    assert (chg.action, chg.after.status, chg.after.event_count, chg.after.version) == (
        ChangeAction.EVENT,
        IncidentStatus.ACKNOWLEDGED,
        2,
        3,
    )


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ("acknowledge", "acknowledge", r"already acknowledged \(by alice\)"),
        ("resolve", "acknowledge", r"already resolved \(by alice\)"),
        ("resolve", "resolve", "already resolved by alice"),
        ("resolve", "assign", "resolved by alice"),
    ],
)
def test_actions_the_state_does_not_allow_raise(first: str, second: str, message: str) -> None:
    engine, clock = make_engine()
    (opened,) = feed(engine, clock, make_event())
    inc = opened.changes[0].after
    actions = {
        "acknowledge": lambda: engine.acknowledge(inc, "alice"),
        "resolve": lambda: engine.resolve(inc, "alice", "done"),
        "assign": lambda: engine.assign(inc, "bob", "alice"),
    }
    actions[first]()
    # `inc` is now a stale copy: the engine must judge by its own current version.
    with pytest.raises(LifecycleError, match=message):
        actions[second]()


def test_operator_action_on_a_stale_copy_keeps_newer_updates() -> None:
    engine, clock = make_engine()
    opened, _ = feed(engine, clock, make_event(), make_event(time=at(30)))
    stale = opened.changes[0].after
    clock.advance(5)
    ack = engine.acknowledge(stale, "alice")
    assert ack.before is not None
    assert (ack.before.version, ack.after.version, ack.after.event_count) == (2, 3, 2)


def test_note_on_a_resolved_incident_in_cooldown_is_kept() -> None:
    engine, clock = make_engine()
    (opened,) = feed(engine, clock, make_event())
    resolved = engine.resolve(opened.changes[0].after, "alice", "done")
    noted = engine.note(resolved.after, "bob", "follow-up filed")
    assert (noted.type, noted.after.version, noted.after.status) == (
        ChangeType.UPDATE,
        resolved.after.version + 1,
        IncidentStatus.RESOLVED,
    )
    assert engine.get(resolved.incident_id) == noted.after


# -- restore and warm ---------------------------------------------------------------------
def test_rebuilt_engine_continues_the_same_incident() -> None:
    first, clock = make_engine()
    (opened,) = feed(first, clock, make_event())
    rebuilt, _ = make_engine(clock=clock)
    rebuilt.restore(first.active(), [])
    (update,) = feed(rebuilt, clock, make_event(time=at(30)))
    (chg,) = update.changes
    assert (chg.type, chg.action, chg.incident_id) == (
        ChangeType.UPDATE,
        ChangeAction.EVENT,
        opened.changes[0].incident_id,
    )
    assert (chg.after.event_count, chg.after.version) == (2, 2)
    assert len(rebuilt.active()) == 1


def test_restored_grouped_incident_keeps_taking_its_grouped_keys() -> None:
    rule = make_rule(group={"window_s": 60})
    first, clock = make_engine(rule)
    feed(first, clock, make_event(source="cam-a"), make_event(source="cam-b", time=at(10)))
    rebuilt, _ = make_engine(rule, clock=clock)
    rebuilt.restore(first.active(), [])
    (update,) = feed(rebuilt, clock, make_event(source="cam-b", time=at(500)))
    assert update.changes[0].action is ChangeAction.EVENT
    assert update.changes[0].after.event_count == 3


def test_restored_resolved_incident_keeps_its_cooldown() -> None:
    first, clock = make_engine(make_rule(cooldown_s=60))
    (opened,) = feed(first, clock, make_event())
    resolved = first.resolve(opened.changes[0].after, "alice", "done")
    rebuilt, _ = make_engine(make_rule(cooldown_s=60), clock=clock)
    rebuilt.restore([resolved.after], [])
    (result,) = feed(rebuilt, clock, make_event(time=at(30)))
    assert result.changes == []
    assert result.links[0][0] == resolved.incident_id


@pytest.mark.parametrize(
    ("warm_states", "opens"),
    [
        ([EventState.START, EventState.UPDATE], True),
        ([EventState.START], False),
        ([], False),
        # END events never count towards opening, in process() or in warm().
        ([EventState.START, EventState.END], False),
    ],
)
def test_warm_rebuilds_count_windows(warm_states: list[EventState], opens: bool) -> None:
    rule = make_rule(match={"count": {"min": 3, "window_s": 60}})
    engine, clock = make_engine(rule)
    for i, state in enumerate(warm_states):
        engine.warm(make_event(time=at(i * 10), state=state))
    assert engine.active() == []  # warming never opens anything
    (result,) = feed(engine, clock, make_event(time=at(30)))
    assert bool(result.changes) is opens


def test_end_events_do_not_count_in_process_either() -> None:
    rule = make_rule(match={"count": {"min": 2, "window_s": 60}})
    engine, clock = make_engine(rule)
    results = feed(
        engine,
        clock,
        make_event(time=at(0), state=EventState.END),
        make_event(time=at(10)),
    )
    assert [r.changes for r in results] == [[], []]


def test_max_count_window() -> None:
    engine, _ = make_engine(
        make_rule("a", match={"count": {"min": 2, "window_s": 30}}),
        make_rule("b", match={"count": {"min": 2, "window_s": 90}}),
        make_rule("c"),
    )
    assert engine.max_count_window_s() == 90
    assert make_engine()[0].max_count_window_s() == 0.0
