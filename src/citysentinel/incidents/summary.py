"""Human-readable incident summaries in English and Chinese, from templates."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from citysentinel.events import EvidenceType, Severity
from citysentinel.incidents.model import Incident, IncidentStatus

SUB_CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "trafficJam": ("Traffic jam", "交通拥堵"),
    "carAccident": ("Traffic accident", "交通事故"),
    "carWrongDirection": ("Vehicle in wrong direction", "车辆逆行"),
    "carStopped": ("Stopped vehicle", "违停车辆"),
    "hazardOnRoad": ("Hazard on road", "道路障碍"),
    "roadClosed": ("Road closed", "道路封闭"),
    "speeding": ("Speeding", "超速"),
    "earthquake": ("Earthquake", "地震"),
    "flood": ("Flood", "洪水"),
    "fire": ("Fire", "火灾"),
    "forestFire": ("Forest fire", "森林火灾"),
    "buildingFire": ("Building fire", "建筑火灾"),
    "storm": ("Storm", "风暴"),
    "explosion": ("Explosion", "爆炸"),
    "gasLeak": ("Gas leak", "燃气泄漏"),
    "infrastructureDamage": ("Infrastructure damage", "基础设施损坏"),
    "fallenPatient": ("Person fallen", "人员跌倒"),
    "medicalEmergency": ("Medical emergency", "医疗急救"),
    "foodPoisoning": ("Food poisoning", "食物中毒"),
    "outbreak": ("Disease outbreak", "疫情"),
    "injuredPerson": ("Injured person", "人员受伤"),
    "suspiciousAction": ("Suspicious activity", "可疑行为"),
    "assault": ("Assault", "袭击"),
    "fight": ("Fight", "打架斗殴"),
    "robbery": ("Robbery", "抢劫"),
    "terrorism": ("Violence or terror", "暴力恐怖事件"),
    "crowdRisk": ("Crowd risk", "人群聚集风险"),
    "trespassing": ("Intrusion into restricted area", "闯入禁区"),
    "loitering": ("Loitering", "徘徊逗留"),
    "abandonedObject": ("Abandoned object", "遗留物品"),
    "missingPerson": ("Missing person", "人员失踪"),
    "trappedPeople": ("People trapped", "人员被困"),
    "cameraFailure": ("Camera failure", "摄像头故障"),
    "sensorFailure": ("Sensor failure", "传感器故障"),
    "publicDisorder": ("Public disorder", "公共秩序混乱"),
}

SEVERITY_NAMES: dict[Severity, tuple[str, str]] = {
    Severity.INFORMATIONAL: ("Informational", "提示"),
    Severity.LOW: ("Low", "低"),
    Severity.MEDIUM: ("Medium", "中"),
    Severity.HIGH: ("High", "高"),
    Severity.CRITICAL: ("Critical", "严重"),
}

STATUS_NAMES: dict[IncidentStatus, tuple[str, str]] = {
    IncidentStatus.OPEN: ("open", "待处理"),
    IncidentStatus.ACKNOWLEDGED: ("acknowledged", "已确认"),
    IncidentStatus.RESOLVED: ("resolved", "已解决"),
}

DEFAULT_ACTIONS: dict[str, tuple[str, str]] = {
    "carAccident": (
        "Dispatch traffic police and an ambulance; warn upstream drivers.",
        "派遣交警和救护车，提醒上游车辆。",
    ),
    "trafficJam": (
        "Check the cameras nearby and adjust signal timing or divert traffic.",
        "查看附近摄像头，调整信号配时或分流交通。",
    ),
    "fire": (
        "Call the fire service and check the nearest camera.",
        "通知消防部门并查看最近的摄像头。",
    ),
    "buildingFire": (
        "Call the fire service and evacuate the building.",
        "通知消防部门并疏散建筑内人员。",
    ),
    "fallenPatient": (
        "Check on the person and send medical help if needed.",
        "核实人员状况，必要时派遣医疗救助。",
    ),
    "trespassing": (
        "Verify on camera and send security to the area.",
        "通过摄像头核实并派遣安保人员到场。",
    ),
    "crowdRisk": (
        "Watch the crowd and prepare to open exits or send staff.",
        "关注人群动态，准备疏导或增派人员。",
    ),
    "fight": ("Verify on camera and send police.", "通过摄像头核实并通知警方。"),
    "cameraFailure": ("Check the camera's power and network.", "检查摄像头电源和网络。"),
    "sensorFailure": ("Check the sensor's power and link.", "检查传感器电源和通信。"),
}
GENERIC_ACTION = ("Review the evidence and decide on a response.", "查看证据并决定处置措施。")


def sub_category_name(sub_category: str, lang: int) -> str:
    names = SUB_CATEGORY_NAMES.get(sub_category)
    return names[lang] if names else sub_category


def render_summaries(
    incident: Incident, tz: ZoneInfo, action: tuple[str | None, str | None] = (None, None)
) -> tuple[str, str]:
    """The English and Chinese summaries: what, where, when, evidence, suggested action.

    Example:
        "High: Intrusion into restricted area at yard (cam-gate), since 2026-11-25 22:14
        (3 events, status open). Evidence: 2 snapshots. Suggested action: ..."
    """
    first = incident.first_seen.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    last = incident.last_seen.astimezone(tz).strftime("%H:%M")
    where_parts = [p for p in (incident.zone, incident.address) if p]
    if incident.point is not None:
        where_parts.append(f"{incident.point.lat:.5f},{incident.point.lon:.5f}")
    where = ", ".join(where_parts) or incident.source
    sources = ", ".join(incident.sources or [incident.source])
    default_action = DEFAULT_ACTIONS.get(incident.sub_category, GENERIC_ACTION)
    act_en = action[0] or default_action[0]
    act_zh = action[1] or default_action[1]
    ev_en, ev_zh = _evidence_phrases(incident)
    sev_en, sev_zh = SEVERITY_NAMES[incident.severity]
    st_en, st_zh = STATUS_NAMES[incident.status]
    en = (
        f"{sev_en}: {sub_category_name(incident.sub_category, 0)} at {where} ({sources}),"
        f" from {first} to {last} ({_plural(incident.event_count, 'event')}, status {st_en})."
        f" Evidence: {ev_en}. Suggested action: {act_en}"
    )
    zh = (
        f"【{sev_zh}】{where}（{sources}）发生{sub_category_name(incident.sub_category, 1)}，"
        f"时间 {first} 至 {last}（共 {incident.event_count} 条事件，状态：{st_zh}）。"
        f"证据：{ev_zh}。建议措施：{act_zh}"
    )
    return en, zh


def _evidence_phrases(incident: Incident) -> tuple[str, str]:
    counts: dict[EvidenceType, int] = {}
    for ev in incident.evidence:
        counts[ev.type] = counts.get(ev.type, 0) + 1
    if not counts:
        return "none attached", "无"
    # (English singular, English plural, Chinese counter and noun)
    names = {
        EvidenceType.SNAPSHOT: ("snapshot", "snapshots", "张截图"),
        EvidenceType.CLIP: ("clip", "clips", "段视频"),
        EvidenceType.TEXT: ("text excerpt", "text excerpts", "条文本"),
        EvidenceType.SERIES: ("sensor series", "sensor series", "段传感器数据"),
        EvidenceType.URL: ("link", "links", "个链接"),
    }
    en = ", ".join(f"{n} {names[t][0] if n == 1 else names[t][1]}" for t, n in counts.items())
    zh = "、".join(f"{n}{names[t][2]}" for t, n in counts.items())
    return en, zh


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
