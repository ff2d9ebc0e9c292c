"""Silences: matchers, active windows, and how the engine mutes and unmutes incidents."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from citysentinel.events import Severity
from citysentinel.incidents import ChangeAction, ChangeType, Silence, SilenceMatchers
from citysentinel.incidents.silences import silencing

from .factories import T0, at, feed, make_engine, make_event, make_incident, make_rule, make_silence


# -- matchers -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("matchers", "incident", "expected"),
    [
        ({"rule": "yard-intrusion"}, {}, True),
        ({"rule": "other"}, {}, False),
        ({"category": "security"}, {}, True),
        ({"category": "traffic"}, {}, False),
        ({"sub_category": "trespassing"}, {}, True),
        ({"sub_category": "loitering"}, {}, False),
        ({"source": "cam-gate"}, {}, True),
        ({"source": "cam-*"}, {}, True),
        ({"source": "lpr-*"}, {}, False),
        ({"source": "cam-b"}, {"sources": ["cam-a", "cam-b"]}, True),  # any grouped source
        ({"zone": "yard"}, {}, True),
        ({"zone": "ya*"}, {}, True),
        ({"zone": "dock"}, {}, False),
        ({"zone": "yard"}, {"zone": None}, False),
        ({"max_severity": "high"}, {"severity": Severity.HIGH}, True),  # inclusive
        ({"max_severity": "high"}, {"severity": Severity.LOW}, True),
        ({"max_severity": "medium"}, {"severity": Severity.HIGH}, False),
        ({"max_severity": "high"}, {"severity": Severity.CRITICAL}, False),
        # every matcher given must hold
        ({"rule": "yard-intrusion", "zone": "dock"}, {}, False),
        ({"category": "security", "source": "cam-*", "max_severity": "critical"}, {}, True),
    ],
)
def test_matchers(matchers: dict[str, Any], incident: dict[str, Any], expected: bool) -> None:
    assert SilenceMatchers.model_validate(matchers).matches(make_incident(**incident)) is expected


def test_matchers_need_at_least_one_field() -> None:
    with pytest.raises(ValidationError, match="at least one matcher"):
        SilenceMatchers()


def test_silence_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="ends_at must be after starts_at"):
        make_silence(starts_at=T0, ends_at=T0, rule="yard-intrusion")


@pytest.mark.parametrize(
    ("now", "expected"),
    [(at(-1), False), (at(0), True), (at(3599), True), (at(3600), False)],
)
def test_silence_active_window(now: datetime, expected: bool) -> None:
    assert make_silence(starts_at=T0, rule="x").active(now) is expected


def test_silencing_returns_the_first_active_matching_silence() -> None:
    silences = [
        make_silence(silence_id="expired", starts_at=at(-7200), rule="yard-intrusion"),
        make_silence(silence_id="other-rule", rule="other"),
        make_silence(silence_id="first", zone="yard"),
        make_silence(silence_id="second", category="security"),
    ]
    found = silencing(silences, make_incident(), T0)
    assert found is not None
    assert found.id == "first"
    assert silencing(silences[:2], make_incident(), T0) is None


# -- in the engine ----------------------------------------------------------------------
def test_incident_opened_under_a_silence_is_flagged() -> None:
    engine, clock = make_engine()
    engine.set_silences([make_silence(zone="yard")])
    muted, loud = feed(engine, clock, make_event(), make_event(zone="dock"))
    assert (muted.changes[0].silenced, muted.changes[0].after.silence_id) == (True, "quiet")
    assert (loud.changes[0].silenced, loud.changes[0].after.silence_id) == (False, None)
    assert muted.changes[0].type is ChangeType.NEW  # still recorded, only muted


def test_updates_of_a_silenced_incident_stay_flagged() -> None:
    engine, clock = make_engine()
    engine.set_silences([make_silence(rule="yard-intrusion")])
    results = feed(engine, clock, make_event(), make_event(time=at(30)))
    assert [c.silenced for r in results for c in r.changes] == [True, True]


def test_set_silences_mutes_and_unmutes_open_incidents() -> None:
    engine, clock = make_engine()
    (opened,) = feed(engine, clock, make_event())
    clock.advance(10)

    (muted,) = engine.set_silences([make_silence(starts_at=at(0), source="cam-*")])
    assert (muted.type, muted.action, muted.actor, muted.at) == (
        ChangeType.UPDATE,
        ChangeAction.SILENCED,
        "engine",
        at(10),
    )
    assert (muted.silenced, muted.after.silence_id, muted.after.version) == (True, "quiet", 2)
    assert muted.before == opened.changes[0].after

    # the same silences again change nothing
    assert engine.set_silences([make_silence(starts_at=at(0), source="cam-*")]) == []

    clock.advance(10)
    (unmuted,) = engine.set_silences([])
    assert (unmuted.action, unmuted.silenced, unmuted.after.silence_id) == (
        ChangeAction.UNSILENCED,
        False,
        None,
    )
    assert unmuted.after.version == 3


def test_set_silences_ignores_incidents_that_do_not_match() -> None:
    engine, clock = make_engine()
    feed(engine, clock, make_event())
    assert engine.set_silences([make_silence(zone="dock")]) == []
    assert not engine.active()[0].silenced


def test_expiring_silence_unsilences_on_tick() -> None:
    engine, clock = make_engine()
    engine.set_silences([make_silence(ends_at=at(600), rule="yard-intrusion")])
    (opened,) = feed(engine, clock, make_event())
    assert opened.changes[0].silenced
    clock.now = at(599)
    assert engine.tick() == []
    clock.now = at(600)
    (chg,) = engine.tick()
    assert (chg.action, chg.type, chg.silenced, chg.at) == (
        ChangeAction.UNSILENCED,
        ChangeType.UPDATE,
        False,
        at(600),
    )
    clock.now = at(700)
    assert engine.tick() == []


def test_silence_starting_later_silences_on_tick() -> None:
    engine, clock = make_engine()
    engine.set_silences([make_silence(starts_at=at(300), zone="yard")])
    (opened,) = feed(engine, clock, make_event())
    assert not opened.changes[0].silenced
    clock.now = at(300)
    assert [(c.action, c.silenced) for c in engine.tick()] == [(ChangeAction.SILENCED, True)]


def test_escalating_above_max_severity_breaks_through_the_silence() -> None:
    rule = make_rule(escalate=[{"after_events": 2, "severity": "critical"}])
    engine, clock = make_engine(rule)
    engine.set_silences([make_silence(rule="yard-intrusion", max_severity="high")])
    opened, escalated = feed(engine, clock, make_event(), make_event(time=at(5)))
    assert opened.changes[0].silenced
    (chg,) = escalated.changes
    assert (chg.action, chg.after.severity, chg.silenced, chg.after.silence_id) == (
        ChangeAction.ESCALATED,
        Severity.CRITICAL,
        False,
        None,
    )


def test_resolved_incidents_are_not_silenced_afterwards() -> None:
    engine, clock = make_engine()
    (opened,) = feed(engine, clock, make_event())
    engine.resolve(opened.changes[0].after, "alice", "done")
    assert engine.set_silences([make_silence(zone="yard")]) == []


def test_restored_silences_apply_on_the_next_tick() -> None:
    first, clock = make_engine()
    feed(first, clock, make_event())
    rebuilt, _ = make_engine(clock=clock)
    silence: Silence = make_silence(zone="yard")
    rebuilt.restore(first.active(), [silence])
    clock.advance(1)
    assert [c.action for c in rebuilt.tick()] == [ChangeAction.SILENCED]
    clock.now = silence.ends_at + timedelta(seconds=1)
    assert [c.action for c in rebuilt.tick()] == [ChangeAction.UNSILENCED]
