"""Tests for the generated config reference and for a description on every config field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from citysentinel.config import SiteConfig
from citysentinel.config_reference import GENERATED_BY, iter_fields, render_reference

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config-reference.md"
REGENERATE = "regenerate it with `citysentinel docs config-reference`"

# Fields reachable from SiteConfig that have no description, in modules this test's
# owner may not edit. Each entry must still be missing one: add the description
# there, then delete the entry here.
UNDESCRIBED_ELSEWHERE = {
    ("citysentinel.events.model", "Point", "type"),
}


def _all_fields() -> list[tuple[type[BaseModel], str]]:
    return [(model, name) for model, name, _ in iter_fields(SiteConfig)]


def test_every_config_field_has_a_description() -> None:
    missing = sorted(
        {
            (model.__module__, model.__name__, name)
            for model, name, field in iter_fields(SiteConfig)
            if not (field.description or "").strip()
        }
    )
    unexpected = [m for m in missing if m not in UNDESCRIBED_ELSEWHERE]
    assert not unexpected, "fields without a description: " + ", ".join(
        f"{module}.{model}.{name}" for module, model, name in unexpected
    )


def test_allow_list_is_not_stale() -> None:
    fields = {
        (model.__module__, model.__name__, name): field
        for model, name, field in iter_fields(SiteConfig)
    }
    for entry in UNDESCRIBED_ELSEWHERE:
        assert entry in fields, f"{entry} is no longer reachable from SiteConfig"
        assert not fields[entry].description, f"{entry} has a description now: drop it here"


def test_walk_reaches_the_nested_models() -> None:
    names = {model.__name__ for model, _ in _all_fields()}
    expected = {"SiteConfig", "CameraZone", "Schedule", "CountWindow", "EscalationStep"}
    assert expected | {"MqttSinkConfig", "WebhookConfig", "CapConfig", "Point"} <= names


def test_checked_in_reference_is_up_to_date() -> None:
    assert DOCS.exists(), f"{DOCS} is missing; {REGENERATE}"
    assert DOCS.read_text(encoding="utf-8") == render_reference(), f"{DOCS} drifted; {REGENERATE}"


def test_reference_is_deterministic() -> None:
    assert render_reference() == render_reference()


def test_reference_says_it_is_generated() -> None:
    head = render_reference().splitlines()[:3]
    assert any(GENERATED_BY in line and "do not edit" in line for line in head)


@pytest.mark.parametrize(
    "fragment",
    [
        "| `site.name` | string | **required** |",
        "| `site.timezone` | string | `UTC` |",
        "| `cameras[].zones[].polygon` | list of [number, number] | **required** |",
        "Constraints: at least 3 items.",
        "| `api.port` | integer | `8080` |",
        "Constraints: >= 0; <= 65535.",
        "pattern `^[a-z0-9][a-z0-9_-]*$`",
        "`video.intrusion`, `video.loitering`",
        "| `rules[].match.schedule[].start` | time of day (HH:MM) | **required** |",
        "| `rules[].match.count` | mapping (see below), or null | `null` |",
        "| `text_feeds[].type` | one of `http`, `file`, `folder` | **required** |",
        "| `rules[].incident.severity` | one of `informational`, `low`, `medium`, `high`,",
        "`[mon, tue, wed, thu, fri, sat, sun]`",
        "| `sinks.webhooks[].secret` | secret string, or null | `null` |",
        "| `health` | `fallenPatient`,",
        "## `rules[].escalate[]`",
    ],
)
def test_reference_renders(fragment: str) -> None:
    assert fragment in render_reference()


def test_every_field_is_in_the_reference() -> None:
    text = render_reference()
    for model, name in _all_fields():
        assert f".{name}` |" in text or f"| `{name}` |" in text, f"{model.__name__}.{name}"
