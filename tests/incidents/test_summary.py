"""English and Chinese incident summaries: what, where, when, evidence, suggested action."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from citysentinel.events import Evidence, EvidenceType, Point, SeriesWindow, Severity
from citysentinel.incidents import IncidentStatus
from citysentinel.incidents.summary import render_summaries

from .factories import at, feed, make_engine, make_event, make_incident, make_rule, make_snapshot

SHANGHAI = ZoneInfo("Asia/Shanghai")


def text_evidence() -> Evidence:
    return Evidence(type=EvidenceType.TEXT, text="someone climbed the fence")


def series_evidence() -> Evidence:
    return Evidence(
        type=EvidenceType.SERIES,
        series=SeriesWindow(sensor="loop-7", start=at(0), step_s=60, values=[1.0, None, 3.0]),
    )


def test_english_summary_says_what_where_when_evidence_and_action() -> None:
    incident = make_incident(
        severity=Severity.HIGH,
        sources=["cam-gate", "cam-north"],
        event_count=3,
        last_seen=at(25 * 60),
        evidence=[make_snapshot("a"), make_snapshot("b")],
    )
    en, _ = render_summaries(incident, SHANGHAI)
    assert en == (
        "High: Intrusion into restricted area at yard (cam-gate, cam-north),"
        " from 2026-11-25 22:00 to 22:25 (3 events, status open)."
        " Evidence: 2 snapshots. Suggested action:"
        " Verify on camera and send security to the area."
    )


def test_chinese_summary_says_what_where_when_evidence_and_action() -> None:
    incident = make_incident(
        severity=Severity.HIGH,
        event_count=3,
        last_seen=at(25 * 60),
        evidence=[make_snapshot("a"), make_snapshot("b")],
    )
    _, zh = render_summaries(incident, SHANGHAI)
    assert zh == (
        "【高】yard（cam-gate）发生闯入禁区，时间 2026-11-25 22:00 至 22:25"
        "（共 3 条事件，状态：待处理）。证据：2张截图。"
        "建议措施：通过摄像头核实并派遣安保人员到场。"
    )


@pytest.mark.parametrize(
    ("evidence", "en", "zh"),
    [
        ([], "Evidence: none attached.", "证据：无。"),
        ([make_snapshot()], "Evidence: 1 snapshot.", "证据：1张截图。"),
        (
            [make_snapshot("a"), text_evidence(), make_snapshot("b")],
            "Evidence: 2 snapshots, 1 text excerpt.",
            "证据：2张截图、1条文本。",
        ),
        (
            [series_evidence(), series_evidence()],
            "Evidence: 2 sensor series.",
            "证据：2段传感器数据。",
        ),
        (
            [Evidence(type=EvidenceType.CLIP, url="http://nvr/clip.mp4")],
            "Evidence: 1 clip.",
            "证据：1段视频。",
        ),
        (
            [Evidence(type=EvidenceType.URL, url="http://a"), Evidence(type="url", url="http://b")],
            "Evidence: 2 links.",
            "证据：2个链接。",
        ),
    ],
)
def test_evidence_phrases(evidence: list[Evidence], en: str, zh: str) -> None:
    summary_en, summary_zh = render_summaries(make_incident(evidence=evidence), ZoneInfo("UTC"))
    assert en in summary_en
    assert zh in summary_zh


@pytest.mark.parametrize(
    ("location", "where"),
    [
        ({}, "at yard (cam-gate)"),
        ({"address": "12 Dock Rd"}, "at yard, 12 Dock Rd (cam-gate)"),
        ({"point": Point(coordinates=(121.47370, 31.23040))}, "at yard, 31.23040,121.47370 ("),
        ({"zone": None}, "at cam-gate (cam-gate)"),
    ],
)
def test_where_is_zone_address_and_point_or_the_source(
    location: dict[str, Any], where: str
) -> None:
    en, zh = render_summaries(make_incident(**location), ZoneInfo("UTC"))
    assert where in en
    assert where.removeprefix("at ").split(" (")[0] in zh


@pytest.mark.parametrize(
    ("count", "phrase"),
    [(1, "(1 event, status"), (2, "(2 events, status")],
)
def test_event_count_is_pluralised(count: int, phrase: str) -> None:
    en, zh = render_summaries(make_incident(event_count=count), ZoneInfo("UTC"))
    assert phrase in en
    assert f"共 {count} 条事件" in zh


@pytest.mark.parametrize(
    ("status", "en", "zh"),
    [
        (IncidentStatus.OPEN, "status open", "状态：待处理"),
        (IncidentStatus.ACKNOWLEDGED, "status acknowledged", "状态：已确认"),
        (IncidentStatus.RESOLVED, "status resolved", "状态：已解决"),
    ],
)
def test_status_is_named(status: IncidentStatus, en: str, zh: str) -> None:
    summary_en, summary_zh = render_summaries(make_incident(status=status), ZoneInfo("UTC"))
    assert en in summary_en
    assert zh in summary_zh


@pytest.mark.parametrize(
    ("severity", "en", "zh"),
    [
        (Severity.INFORMATIONAL, "Informational: ", "【提示】"),
        (Severity.LOW, "Low: ", "【低】"),
        (Severity.MEDIUM, "Medium: ", "【中】"),
        (Severity.CRITICAL, "Critical: ", "【严重】"),
    ],
)
def test_severity_leads_the_summary(severity: Severity, en: str, zh: str) -> None:
    summary_en, summary_zh = render_summaries(make_incident(severity=severity), ZoneInfo("UTC"))
    assert summary_en.startswith(en)
    assert summary_zh.startswith(zh)


def test_rule_action_overrides_the_default() -> None:
    en, zh = render_summaries(make_incident(), ZoneInfo("UTC"), ("Call gate 3.", "呼叫三号门。"))
    assert en.endswith("Suggested action: Call gate 3.")
    assert zh.endswith("建议措施：呼叫三号门。")


def test_unknown_sub_category_falls_back_to_its_id_and_a_generic_action() -> None:
    incident = make_incident(category="security", sub_category="vandalism")
    en, zh = render_summaries(incident, ZoneInfo("UTC"))
    assert "vandalism at yard" in en
    assert en.endswith("Suggested action: Review the evidence and decide on a response.")
    assert "发生vandalism" in zh
    assert zh.endswith("建议措施：查看证据并决定处置措施。")


def test_times_are_shown_in_the_site_time_zone() -> None:
    incident = make_incident(first_seen=datetime(2026, 11, 25, 23, 50, tzinfo=UTC))
    en, zh = render_summaries(incident, SHANGHAI)
    assert "from 2026-11-26 07:50" in en
    assert "时间 2026-11-26 07:50" in zh


def test_engine_keeps_summaries_current() -> None:
    rule = make_rule(
        incident={"action_en": "Send the yard guard.", "action_zh": "派遣院内保安。"},
    )
    engine, clock = make_engine(rule, tz="Asia/Shanghai")
    opened, updated = feed(
        engine,
        clock,
        make_event(evidence=[make_snapshot()]),
        make_event(time=at(120), evidence=[make_snapshot("b")]),
    )
    first = opened.changes[0].after
    assert "(1 event, status open)" in first.summary_en
    assert first.summary_en.endswith("Suggested action: Send the yard guard.")
    assert first.summary_zh.endswith("建议措施：派遣院内保安。")
    latest = updated.changes[0].after
    assert "from 2026-11-25 22:00 to 22:02 (2 events, status open)" in latest.summary_en
    assert "Evidence: 2 snapshots." in latest.summary_en
    clock.advance(5)
    ack = engine.acknowledge(latest, "alice")
    assert "状态：已确认" in ack.after.summary_zh
