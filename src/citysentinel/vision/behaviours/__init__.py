"""Behaviours over tracked objects, one per file, built from their config by its `type` key."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from citysentinel.vision.analytics_config import (
    BehaviourConfig,
    ClassifyConfig,
    CrowdingConfig,
    FallConfig,
    FightConfig,
    IntrusionConfig,
    LineCrossingConfig,
    LoiteringConfig,
    SpeedConfig,
    StationaryConfig,
)
from citysentinel.vision.behaviours.base import Behaviour, FrameContext, TrackHistory
from citysentinel.vision.behaviours.classify import Classify
from citysentinel.vision.behaviours.crowding import Crowding
from citysentinel.vision.behaviours.fall import Fall, FallSample, FallStateMachine
from citysentinel.vision.behaviours.fight import Fight
from citysentinel.vision.behaviours.intrusion import Intrusion
from citysentinel.vision.behaviours.line_crossing import LineCounts, LineCrossing
from citysentinel.vision.behaviours.loitering import Loitering
from citysentinel.vision.behaviours.speed import Speed
from citysentinel.vision.behaviours.stationary import Stationary
from citysentinel.vision.geometry import GroundPlane, Scene

__all__ = [
    "BEHAVIOURS",
    "Behaviour",
    "Classify",
    "Crowding",
    "Fall",
    "FallSample",
    "FallStateMachine",
    "Fight",
    "FrameContext",
    "Intrusion",
    "LineCounts",
    "LineCrossing",
    "Loitering",
    "Speed",
    "Stationary",
    "TrackHistory",
    "build_behaviours",
    "needs_pose",
]


def _intrusion(c: BehaviourConfig, _scene: Scene, tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, IntrusionConfig)
    return Intrusion(c, tz)


def _loitering(c: BehaviourConfig, _scene: Scene, _tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, LoiteringConfig)
    return Loitering(c)


def _line_crossing(c: BehaviourConfig, scene: Scene, _tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, LineCrossingConfig)
    return LineCrossing(c, scene.lines[c.line], scene.diagonal)


def _crowding(c: BehaviourConfig, _scene: Scene, _tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, CrowdingConfig)
    return Crowding(c)


def _stationary(c: BehaviourConfig, scene: Scene, _tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, StationaryConfig)
    return Stationary(c, scene.diagonal)


def _speed(c: BehaviourConfig, scene: Scene, _tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, SpeedConfig)
    h = c.homography
    return Speed(c, GroundPlane(h.image, h.ground, scene.size) if h else None)


def _fall(c: BehaviourConfig, _scene: Scene, _tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, FallConfig)
    return Fall(c)


def _fight(c: BehaviourConfig, _scene: Scene, _tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, FightConfig)
    return Fight(c)


def _classify(c: BehaviourConfig, _scene: Scene, _tz: ZoneInfo) -> Behaviour:
    assert isinstance(c, ClassifyConfig)
    # Imported here: onnxruntime loads only for cameras that classify.
    from citysentinel.vision.classifier import OnnxImageClassifier

    return Classify(c, OnnxImageClassifier(c.model, threads=1, int8=c.int8))


BehaviourFactory = Callable[[BehaviourConfig, Scene, ZoneInfo], Behaviour]
BEHAVIOURS: dict[str, BehaviourFactory] = {
    "intrusion": _intrusion,
    "loitering": _loitering,
    "line_crossing": _line_crossing,
    "crowding": _crowding,
    "stationary": _stationary,
    "speed": _speed,
    "fall": _fall,
    "fight": _fight,
    "classify": _classify,
}


def build_behaviours(
    configs: Iterable[BehaviourConfig], scene: Scene, tz: ZoneInfo
) -> list[Behaviour]:
    """The enabled behaviours of a camera; a zone or line the scene lacks is a ValueError.

    Example:
        >>> from citysentinel.vision.analytics_config import AnalyticsConfig
        >>> cfg = AnalyticsConfig.model_validate(
        ...     {"behaviours": [{"type": "crowding", "min_count": 5}]})
        >>> [b.name for b in build_behaviours(cfg.behaviours, Scene((640, 480)), ZoneInfo("UTC"))]
        ['crowding:frame']
    """
    built: list[Behaviour] = []
    for c in configs:
        if not c.enabled:
            continue
        zone = getattr(c, "zone", None)
        if zone is not None and zone not in scene.zones:
            raise ValueError(f"{c.type}: camera has no zone {zone!r}")
        if isinstance(c, LineCrossingConfig) and c.line not in scene.lines:
            raise ValueError(f"{c.type}: camera has no line {c.line!r}")
        built.append(BEHAVIOURS[c.type](c, scene, tz))
    return built


def needs_pose(configs: Iterable[BehaviourConfig]) -> bool:
    """Whether any enabled behaviour would use pose keypoints (fall or fight with `use_pose`).

    Example:
        >>> from citysentinel.vision.analytics_config import AnalyticsConfig
        >>> cfg = AnalyticsConfig.model_validate({"behaviours": [{"type": "fall"}]})
        >>> needs_pose(cfg.behaviours)
        True
    """
    return any(
        c.enabled and isinstance(c, FallConfig | FightConfig) and c.use_pose for c in configs
    )
