"""CAP 1.2 (OASIS Common Alerting Protocol) documents for incidents."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citysentinel.events import Severity
from citysentinel.incidents import Category, Incident, IncidentStatus
from citysentinel.incidents.summary import GENERIC_ACTION, sub_category_name

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"

CapScope = Literal["Public", "Restricted", "Private"]
MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]


class CapConfig(BaseModel):
    """How incidents are described in CAP 1.2 alerts."""

    model_config = ConfigDict(extra="forbid")

    sender: str = Field(
        default="citysentinel@example.org",
        pattern=r"^[^\s,<&]+$",
        description="CAP sender id (no spaces, commas, < or &).",
    )
    sender_name: str = Field(default="citysentinel", description="Human-readable sender.")
    language: str = Field(default="en-US", description="Language of the info block.")
    scope: CapScope = Field(
        default="Private", description="CAP scope: Public, Restricted, Private."
    )
    restriction: str | None = Field(
        default=None,
        min_length=1,
        description="Who may see a Restricted alert (CAP <restriction>); required for Restricted.",
    )
    addresses: list[str] = Field(
        default_factory=list,
        description="Recipients of a Private alert (CAP <addresses>); when empty, a Private"
        " alert is addressed to the sender itself.",
    )
    area_radius_km: float = Field(
        default=0.2, gt=0, description="Radius of the circle drawn around an incident's point."
    )
    expires_after_s: float = Field(
        default=3600, gt=0, description="Alerts expire this long after they are sent."
    )
    chinese_info: bool = Field(
        default=True, description="Add a second zh-CN info block when a Chinese summary exists."
    )

    @model_validator(mode="after")
    def _scope_needs(self) -> CapConfig:
        if self.scope == "Restricted" and not self.restriction:
            raise ValueError("scope Restricted needs a restriction")
        return self


class CapReference(NamedTuple):
    """An earlier CAP message this one refers to (CAP <references> entry)."""

    sender: str
    identifier: str
    sent: datetime


# CAP categories by FIWARE subCategory; anything not listed falls back to the category.
_SUB_CATEGORY_CAP: dict[str, str] = {
    **dict.fromkeys(("fire", "forestFire", "buildingFire"), "Fire"),
    **dict.fromkeys(
        ("earthquake", "landslide", "tsunami", "volcanicEruption", "snowAvalanche"), "Geo"
    ),
    **dict.fromkeys(("flood", "frost", "drought"), "Met"),
    **dict.fromkeys(("infrastructureDamage", "cameraFailure", "sensorFailure"), "Infra"),
    **dict.fromkeys(("trappedPeople", "missingPerson"), "Rescue"),
    **dict.fromkeys(("explosion", "bombThreat"), "CBRNE"),
    **dict.fromkeys(("gasLeak", "crowdRisk"), "Safety"),
}
_CATEGORY_CAP: dict[Category, str] = {
    Category.TRAFFIC: "Transport",
    Category.NATURAL_DISASTER: "Geo",
    Category.WEATHER: "Met",
    Category.ENVIRONMENT: "Env",
    Category.HEALTH: "Health",
    Category.SECURITY: "Security",
    Category.AGRICULTURE: "Other",
}
_SEVERITY_CAP: dict[Severity, str] = {
    Severity.INFORMATIONAL: "Minor",
    Severity.LOW: "Minor",
    Severity.MEDIUM: "Moderate",
    Severity.HIGH: "Severe",
    Severity.CRITICAL: "Extreme",
}
_SUB_CATEGORY_RESPONSE: dict[str, str] = {
    **dict.fromkeys(("buildingFire", "gasLeak", "explosion", "bombThreat"), "Evacuate"),
    **dict.fromkeys(
        ("trafficJam", "carAccident", "roadClosed", "hazardOnRoad", "carWrongDirection"), "Avoid"
    ),
}
_ACTION_MARKERS = ("Suggested action:", "建议措施：")
# XML 1.0 forbids most control characters even when escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ID_INVALID = re.compile(r"[\s,<&]")


def cap_category(category: Category, sub_category: str) -> str:
    """The CAP <category> for a FIWARE category and subCategory.

    Example:
        >>> cap_category(Category.ENVIRONMENT, "buildingFire")
        'Fire'
        >>> cap_category(Category.TRAFFIC, "carAccident")
        'Transport'
    """
    return _SUB_CATEGORY_CAP.get(sub_category) or _CATEGORY_CAP.get(category, "Other")


def cap_datetime(value: datetime) -> str:
    """A CAP date-time: UTC, whole seconds, numeric offset (never `Z`).

    Example:
        >>> cap_datetime(datetime(2026, 11, 25, 6, 0, 0, 123, tzinfo=UTC))
        '2026-11-25T06:00:00+00:00'
    """
    if value.tzinfo is None:
        raise ValueError("CAP date-times need a time zone")
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def cap_identifier(incident: Incident) -> str:
    """The CAP <identifier> of an incident's current version: unique per message.

    Example:
        >>> from citysentinel.incidents import Incident
        >>> now = datetime(2026, 11, 25, 6, tzinfo=UTC)
        >>> i = Incident(id="abc", key="k", rule="r", category="security",
        ...     sub_category="fight", severity="high", base_severity="high", title="Fight",
        ...     source="cam", first_seen=now, last_seen=now, created_at=now, updated_at=now,
        ...     version=2)
        >>> cap_identifier(i)
        'abc.v2'
    """
    return _identifier(incident, incident.version)


def default_msg_type(incident: Incident) -> MsgType:
    """`Alert` for a fresh open incident, `Update` once it changed, was acknowledged or ended."""
    fresh = incident.version <= 1 and incident.status is IncidentStatus.OPEN
    return "Alert" if fresh else "Update"


def incident_to_cap(
    incident: Incident,
    config: CapConfig,
    *,
    sent: datetime | None = None,
    msg_type: MsgType | None = None,
    references: list[CapReference] | None = None,
) -> bytes:
    """A CAP 1.2 alert (UTF-8 XML) describing the incident's current state.

    An `Update` without explicit `references` refers to the incident's first alert
    (`<id>.v1`, sent at `created_at`). A resolved incident gives an `Update` with
    responseType `AllClear`.

    Example:
        >>> from citysentinel.incidents import Incident
        >>> now = datetime(2026, 11, 25, 6, tzinfo=UTC)
        >>> i = Incident(id="abc", key="k", rule="r", category="security",
        ...     sub_category="fight", severity="high", base_severity="high", title="Fight",
        ...     source="cam", first_seen=now, last_seen=now, created_at=now, updated_at=now,
        ...     version=1)
        >>> xml = incident_to_cap(i, CapConfig(), sent=now)
        >>> b"<msgType>Alert</msgType>" in xml
        True
    """
    sent = sent or datetime.now(UTC)
    msg_type = msg_type or default_msg_type(incident)
    if references is None and msg_type != "Alert" and incident.version > 1:
        first = CapReference(config.sender, _identifier(incident, 1), incident.created_at)
        references = [first]
    alert = ET.Element(_q("alert"))
    _sub(alert, "identifier", cap_identifier(incident))
    _sub(alert, "sender", config.sender)
    _sub(alert, "sent", cap_datetime(sent))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", msg_type)
    _sub(alert, "source", incident.source)
    _sub(alert, "scope", config.scope)
    if config.scope == "Restricted":
        _sub(alert, "restriction", config.restriction or "")
    if config.scope == "Private":
        _sub(alert, "addresses", " ".join(_quote(a) for a in config.addresses or [config.sender]))
    _sub(alert, "code", "citysentinel")
    if references:
        refs = (f"{r.sender},{r.identifier},{cap_datetime(r.sent)}" for r in references)
        _sub(alert, "references", " ".join(refs))
    _sub(alert, "incidents", _ID_INVALID.sub("_", incident.id))
    _add_info(alert, incident, config, sent, lang=0)
    if config.chinese_info and incident.summary_zh:
        _add_info(alert, incident, config, sent, lang=1)
    xml: bytes = ET.tostring(
        alert, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NAMESPACE
    )
    return xml


def _add_info(
    alert: ET.Element, incident: Incident, config: CapConfig, sent: datetime, *, lang: int
) -> None:
    info = _sub(alert, "info")
    _sub(info, "language", config.language if lang == 0 else "zh-CN")
    _sub(info, "category", cap_category(incident.category, incident.sub_category))
    _sub(info, "event", sub_category_name(incident.sub_category, lang))
    _sub(info, "responseType", _response_type(incident))
    _sub(info, "urgency", _urgency(incident))
    _sub(info, "severity", _SEVERITY_CAP[incident.severity])
    _sub(info, "certainty", _certainty(incident))
    _sub(info, "effective", cap_datetime(sent))
    _sub(info, "onset", cap_datetime(incident.first_seen))
    _sub(info, "expires", cap_datetime(sent + timedelta(seconds=config.expires_after_s)))
    _sub(info, "senderName", config.sender_name)
    place = incident.zone or incident.address or incident.source
    headline = (
        incident.title if lang == 0 else f"{sub_category_name(incident.sub_category, 1)}：{place}"
    )
    _sub(info, "headline", headline)
    summary = incident.summary_en if lang == 0 else incident.summary_zh
    if summary:
        _sub(info, "description", summary)
    _sub(info, "instruction", _instruction(summary, lang))
    params = {
        "citysentinelIncidentId": incident.id,
        "citysentinelStatus": incident.status.value,
        "citysentinelEventCount": str(incident.event_count),
        "citysentinelSeverity": incident.severity.value,
        "fiwareCategory": incident.category.value,
        "fiwareSubCategory": incident.sub_category,
    }
    for name, value in params.items():
        param = _sub(info, "parameter")
        _sub(param, "valueName", name)
        _sub(param, "value", value)
    area = _sub(info, "area")
    parts = [p for p in (incident.zone, incident.address) if p]
    _sub(area, "areaDesc", ", ".join(parts) or incident.source)
    if incident.point is not None:
        # CAP circles are "lat,lon radius_km"; GeoJSON points are [lon, lat].
        lat, lon = incident.point.lat, incident.point.lon
        _sub(area, "circle", f"{_num(lat)},{_num(lon)} {_num(config.area_radius_km)}")


def _response_type(incident: Incident) -> str:
    if incident.status is IncidentStatus.RESOLVED:
        return "AllClear"
    specific = _SUB_CATEGORY_RESPONSE.get(incident.sub_category)
    if specific:
        return specific
    return "Assess" if incident.severity.rank >= Severity.HIGH.rank else "Monitor"


def _urgency(incident: Incident) -> str:
    if incident.status is IncidentStatus.RESOLVED:
        return "Past"
    return "Immediate" if incident.severity.rank >= Severity.HIGH.rank else "Expected"


def _certainty(incident: Incident) -> str:
    # Incidents carry no confidence; repeated events or an operator's acknowledgement confirm it.
    confirmed = incident.event_count >= 2 or incident.acknowledged_by is not None
    return "Observed" if confirmed else "Likely"


def _instruction(summary: str, lang: int) -> str:
    marker = _ACTION_MARKERS[lang]
    if marker in summary:
        action = summary.split(marker, 1)[1].strip()
        if action:
            return action
    return GENERIC_ACTION[lang]


def _identifier(incident: Incident, version: int) -> str:
    return f"{_ID_INVALID.sub('_', incident.id)}.v{version}"


def _q(tag: str) -> str:
    return f"{{{CAP_NAMESPACE}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, _q(tag))
    if text is not None:
        element.text = _XML_INVALID.sub("", text)
    return element


def _quote(address: str) -> str:
    # CAP address lists are space-delimited; addresses with spaces are double-quoted.
    cleaned = address.replace('"', "")
    return f'"{cleaned}"' if re.search(r"\s", cleaned) else cleaned


def _num(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
