"""Rule config validation and how a rule matches an event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from citysentinel.events import EventKind, EventState
from citysentinel.incidents.rules import EscalationStep, RuleConfig, Schedule

from .factories import make_event, make_rule

UTC_ZONE = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")


# -- matching filters ---------------------------------------------------------
@pytest.mark.parametrize(
    ("match", "event_fields", "expected"),
    [
        ({}, {}, True),
        # kind list
        ({}, {"kind": EventKind.VIDEO_LOITERING}, False),
        ({"kind": ["video.intrusion", "video.loitering"]}, {"kind": "video.loitering"}, True),
        # source ids and globs
        ({"sources": ["cam-gate"]}, {}, True),
        ({"sources": ["cam-*"]}, {"source": "cam-north"}, True),
        ({"sources": ["cam-?"]}, {"source": "cam-north"}, False),
        ({"sources": ["cam-[ab]"]}, {"source": "cam-b"}, True),
        ({"sources": ["lpr-*", "cam-gate"]}, {}, True),
        ({"sources": ["CAM-*"]}, {}, False),  # globs are case-sensitive
        # zones
        ({"zones": ["yard", "dock"]}, {"zone": "dock"}, True),
        ({"zones": ["yard"]}, {"zone": "dock"}, False),
        ({"zones": ["yard"]}, {"zone": None}, False),
        # labels: any one of the event's labels
        ({"labels": ["person"]}, {"labels": ["car", "person"]}, True),
        ({"labels": ["person", "bike"]}, {"labels": ["car"]}, False),
        ({"labels": ["person"]}, {"labels": []}, False),
        # min confidence is inclusive
        ({"min_confidence": 0.5}, {"confidence": 0.5}, True),
        ({"min_confidence": 0.5}, {"confidence": 0.49}, False),
        # every filter must hold
        ({"zones": ["yard"], "labels": ["car"]}, {"zone": "yard", "labels": ["person"]}, False),
    ],
)
def test_match_filters(match: dict[str, Any], event_fields: dict[str, Any], expected: bool) -> None:
    # A "kind" in `match` replaces the factory's default kind.
    rule = make_rule(match=match)
    assert rule.matches(make_event(**event_fields), UTC_ZONE) is expected


def test_disabled_rule_matches_nothing() -> None:
    rule = make_rule(enabled=False)
    assert not rule.matches(make_event(), UTC_ZONE)


def test_end_state_matches_but_never_opens() -> None:
    rule = make_rule()
    end = make_event(state=EventState.END)
    assert rule.matches(end, UTC_ZONE)
    assert not rule.opens_on(end)
    assert rule.opens_on(make_event(state=EventState.UPDATE))


@pytest.mark.parametrize(
    ("source", "zone", "address", "expected"),
    [
        ("cam-gate", "yard", None, "yard-intrusion|cam-gate|yard"),
        ("cam-gate", None, None, "yard-intrusion|cam-gate|"),
        ("cam-gate", "yard", "Main St", "yard-intrusion|cam-gate|yard"),  # the zone wins
        ("hotline", None, "Main  St ", "yard-intrusion|hotline|@main st"),
        ("hotline", None, "MAIN ST", "yard-intrusion|hotline|@main st"),
        ("hotline", None, "Bridge Rd", "yard-intrusion|hotline|@bridge rd"),
    ],
)
def test_dedup_key_is_rule_source_and_zone_or_place(
    source: str, zone: str | None, address: str | None, expected: str
) -> None:
    assert make_rule().key(make_event(source=source, zone=zone, address=address)) == expected


# -- schedules ------------------------------------------------------------------
# 2026-11-23 is a Monday.
@pytest.mark.parametrize(
    ("schedule", "local", "expected"),
    [
        # a daytime window: start inclusive, end exclusive
        ({"start": "08:00", "end": "18:00"}, datetime(2026, 11, 23, 8, 0), True),
        ({"start": "08:00", "end": "18:00"}, datetime(2026, 11, 23, 17, 59), True),
        ({"start": "08:00", "end": "18:00"}, datetime(2026, 11, 23, 18, 0), False),
        ({"start": "08:00", "end": "18:00"}, datetime(2026, 11, 23, 7, 59), False),
        # weekdays only
        (
            {"days": ["mon", "tue"], "start": "08:00", "end": "18:00"},
            datetime(2026, 11, 24, 9),
            True,
        ),
        (
            {"days": ["mon", "tue"], "start": "08:00", "end": "18:00"},
            datetime(2026, 11, 25, 9),
            False,
        ),
        (
            {"days": ["sat", "sun"], "start": "00:00", "end": "23:59"},
            datetime(2026, 11, 29, 12),
            True,
        ),
        # over midnight: the evening part is the day itself...
        ({"days": ["fri"], "start": "22:00", "end": "06:00"}, datetime(2026, 11, 27, 23, 30), True),
        (
            {"days": ["fri"], "start": "22:00", "end": "06:00"},
            datetime(2026, 11, 27, 21, 59),
            False,
        ),
        # ...and the early-morning part belongs to the previous day's window
        ({"days": ["fri"], "start": "22:00", "end": "06:00"}, datetime(2026, 11, 28, 3, 0), True),
        ({"days": ["fri"], "start": "22:00", "end": "06:00"}, datetime(2026, 11, 28, 6, 0), False),
        ({"days": ["fri"], "start": "22:00", "end": "06:00"}, datetime(2026, 11, 27, 3, 0), False),
        ({"start": "22:00", "end": "06:00"}, datetime(2026, 11, 23, 0, 0), True),
        ({"start": "22:00", "end": "06:00"}, datetime(2026, 11, 23, 12, 0), False),
    ],
)
def test_schedule_contains(schedule: dict[str, Any], local: datetime, expected: bool) -> None:
    assert Schedule.model_validate(schedule).contains(local.replace(tzinfo=SHANGHAI)) is expected


@pytest.mark.parametrize(
    ("utc_time", "expected"),
    [
        # 22:30 UTC on Tuesday is 06:30 Wednesday in Shanghai: outside 22:00-06:00.
        (datetime(2026, 11, 24, 22, 30, tzinfo=UTC), False),
        # 15:00 UTC Tuesday is 23:00 Tuesday in Shanghai: inside, although 15:00 UTC is not.
        (datetime(2026, 11, 24, 15, 0, tzinfo=UTC), True),
        # 19:00 UTC Tuesday is 03:00 Wednesday in Shanghai: the tail of Tuesday's window.
        (datetime(2026, 11, 24, 19, 0, tzinfo=UTC), True),
        # 19:00 UTC Wednesday is 03:00 Thursday: Wednesday is not a scheduled day.
        (datetime(2026, 11, 25, 19, 0, tzinfo=UTC), False),
    ],
)
def test_schedule_uses_the_site_time_zone(utc_time: datetime, expected: bool) -> None:
    rule = make_rule(
        match={"schedule": [{"days": ["mon", "tue"], "start": "22:00", "end": "06:00"}]}
    )
    assert rule.matches(make_event(time=utc_time), SHANGHAI) is expected


def test_any_of_several_schedules_matches() -> None:
    rule = make_rule(
        match={
            "schedule": [
                {"start": "00:00", "end": "06:00"},
                {"start": "20:00", "end": "23:00"},
            ]
        }
    )
    matched = [
        hour
        for hour in range(24)
        if rule.matches(make_event(time=datetime(2026, 11, 25, hour, tzinfo=UTC)), UTC_ZONE)
    ]
    assert matched == [0, 1, 2, 3, 4, 5, 20, 21, 22]


# -- config validation ------------------------------------------------------------
def test_kind_may_be_a_single_string() -> None:
    rule = make_rule(kind="video.fall", category="health", sub_category="fallenPatient")
    assert rule.match.kind == [EventKind.VIDEO_FALL]


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValidationError, match="kind"):
        make_rule(kind="video.teleport")


@pytest.mark.parametrize(
    ("category", "sub_category", "valid"),
    [
        ("security", "trespassing", True),
        ("traffic", "carAccident", True),
        ("health", "fallenPatient", True),
        ("traffic", "trespassing", False),
        ("security", "carAccident", False),
        ("health", "notAThing", False),
    ],
)
def test_sub_category_must_belong_to_category(
    category: str, sub_category: str, valid: bool
) -> None:
    if valid:
        assert make_rule(category=category, sub_category=sub_category).incident.sub_category == (
            sub_category
        )
    else:
        with pytest.raises(ValidationError, match=f"sub_category '{sub_category}' is not in"):
            make_rule(category=category, sub_category=sub_category)


@pytest.mark.parametrize(
    ("step", "valid"),
    [
        ({"after_events": 3, "severity": "high"}, True),
        ({"after_s": 60, "severity": "high"}, True),
        ({"severity": "high"}, False),
        ({"after_events": 3, "after_s": 60, "severity": "high"}, False),
    ],
)
def test_escalation_step_needs_exactly_one_trigger(step: dict[str, Any], valid: bool) -> None:
    if valid:
        assert EscalationStep.model_validate(step).severity == "high"
    else:
        with pytest.raises(ValidationError, match="exactly one of after_events or after_s"):
            EscalationStep.model_validate(step)


@pytest.mark.parametrize(
    "bad",
    [
        {"id": "Bad Id"},
        {"cooldown_s": -1},
        {"auto_resolve_after_s": 0},
        {"surprise": True},
        {"match": {"kind": "video.intrusion", "min_confidence": 1.5}},
        {"match": {"kind": "video.intrusion", "count": {"min": 0, "window_s": 10}}},
        {"match": {"kind": "video.intrusion", "count": {"min": 2, "window_s": 0}}},
        {"match": {"kind": "video.intrusion", "schedule": [{"start": "25:00", "end": "06:00"}]}},
        {
            "match": {
                "kind": "video.intrusion",
                "schedule": [{"days": ["xyz"], "start": "01:00", "end": "02:00"}],
            }
        },
        {"group": {"window_s": 60, "radius_m": 0}},
        {"escalate": [{"after_events": 1, "severity": "high"}]},
    ],
)
def test_invalid_rule_config_is_rejected(bad: dict[str, Any]) -> None:
    config: dict[str, Any] = {
        "id": "ok",
        "match": {"kind": "video.intrusion"},
        "incident": {"category": "security", "sub_category": "trespassing"},
    }
    with pytest.raises(ValidationError):
        RuleConfig.model_validate({**config, **bad})


def test_rule_defaults() -> None:
    rule = make_rule()
    assert (rule.enabled, rule.cooldown_s, rule.resolve_on_end, rule.group, rule.escalate) == (
        True,
        60,
        False,
        None,
        [],
    )
    assert rule.incident.use_severity_hint
