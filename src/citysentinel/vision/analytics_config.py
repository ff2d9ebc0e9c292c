"""Per-camera analytics config: tracker, object filters, snapshots and behaviours (by `type`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citysentinel.incidents.rules import Schedule
from citysentinel.vision.detections import COCO_CLASSES

NormPoint = tuple[float, float]
Polygon = Annotated[list[NormPoint], Field(min_length=3)]

PEOPLE = ["person"]
VEHICLES = ["bicycle", "car", "motorcycle", "bus", "truck"]
LEFT_OBJECTS = ["backpack", "handbag", "suitcase"]
_BOTH_WAYS: tuple[Literal["in", "out"], ...] = ("in", "out")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_labels(labels: Iterable[str]) -> None:
    for label in labels:
        if label not in COCO_CLASSES:
            close = difflib.get_close_matches(label, COCO_CLASSES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown class {label!r}{hint}")


def _check_polygon(points: Iterable[NormPoint]) -> None:
    if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in points):
        raise ValueError("points must be normalised to 0-1 (x right, y down)")


class TrackerConfig(_Strict):
    """The multi-object tracker (ByteTrack from the `trackers` package)."""

    type: Literal["bytetrack"] = Field(default="bytetrack", description="Tracker backend.")
    lost_track_s: float = Field(
        default=2.0, gt=0, le=60, description="Seconds a track survives without a detection."
    )
    track_activation_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Minimum score for a detection to start a track."
    )
    high_conf_det_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Score splitting ByteTrack's two association rounds."
    )
    minimum_iou_threshold: float = Field(
        default=0.1, ge=0, le=1, description="Minimum IoU to match a detection to a track."
    )
    minimum_consecutive_frames: int = Field(
        default=2, ge=1, le=30, description="Frames a track needs before it gets an id."
    )


class ObjectFilter(_Strict):
    """Drops one class's detections that are unlikely, too small or too big, or masked."""

    min_score: float = Field(default=0.3, ge=0, le=1, description="Minimum detector score.")
    min_area: float = Field(
        default=0.0, ge=0, le=1, description="Minimum box area as a fraction of the frame."
    )
    max_area: float = Field(
        default=1.0, gt=0, le=1, description="Maximum box area as a fraction of the frame."
    )
    masks: list[Polygon] = Field(
        default_factory=list,
        description="Ignore polygons (normalised); a box whose bottom centre is inside is dropped.",
    )

    @field_validator("masks")
    @classmethod
    def _normalised(cls, value: list[list[NormPoint]]) -> list[list[NormPoint]]:
        for polygon in value:
            _check_polygon(polygon)
        return value

    @model_validator(mode="after")
    def _area_order(self) -> ObjectFilter:
        if self.min_area > self.max_area:
            raise ValueError("min_area must not exceed max_area")
        return self


class ObjectsConfig(_Strict):
    """Which classes are tracked, and the filters applied before tracking (Frigate's `objects`)."""

    track: list[str] = Field(
        default_factory=lambda: [*PEOPLE, *VEHICLES, *LEFT_OBJECTS],
        description="COCO class labels to keep; all others are dropped before tracking.",
    )
    filters: dict[str, ObjectFilter] = Field(
        default_factory=dict, description="Per-class filters keyed by label; others use defaults."
    )
    masks: list[Polygon] = Field(
        default_factory=list, description="Ignore polygons (normalised) for every class."
    )

    @model_validator(mode="after")
    def _known(self) -> ObjectsConfig:
        _check_labels(self.track)
        _check_labels(self.filters)
        for polygon in self.masks:
            _check_polygon(polygon)
        return self

    def filter_for(self, label: str) -> ObjectFilter:
        return self.filters.get(label) or ObjectFilter()


class SnapshotConfig(_Strict):
    """The JPEG evidence attached to start and end events."""

    enabled: bool = Field(default=True, description="Attach a snapshot to start/end events.")
    blur_faces: bool = Field(default=True, description="Blur faces (or head regions) first.")
    blur_method: Literal["gaussian", "pixelate"] = Field(
        default="gaussian", description="How blurred regions are obscured."
    )
    jpeg_quality: int = Field(default=80, ge=10, le=100, description="JPEG quality 10-100.")
    draw: bool = Field(default=True, description="Draw boxes, ids, zones and lines.")


class _Behaviour(_Strict):
    name: str | None = Field(
        default=None, description="Name used in logs and stats; defaults to type and zone/line."
    )
    enabled: bool = Field(default=True, description="Run this behaviour.")
    classes: list[str] = Field(
        default_factory=lambda: list(PEOPLE), description="COCO class labels it watches."
    )

    @field_validator("classes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        _check_labels(value)
        return value


class IntrusionConfig(_Behaviour):
    """A watched object enters a restricted zone (optionally only within schedules)."""

    type: Literal["intrusion"] = Field(description="Behaviour type.")
    zone: str = Field(description="Name of a zone of this camera.")
    schedule: list[Schedule] = Field(
        default_factory=list, description="Daily windows (site time zone); empty means always."
    )
    grace_s: float = Field(
        default=1.0, ge=0, description="Seconds out of the zone or unseen before the event ends."
    )


class LoiteringConfig(_Behaviour):
    """A track stays in a zone longer than `dwell_s`."""

    type: Literal["loitering"] = Field(description="Behaviour type.")
    zone: str = Field(description="Name of a zone of this camera.")
    dwell_s: float = Field(default=60.0, gt=0, description="Seconds in the zone before it starts.")
    update_interval_s: float = Field(
        default=30.0, gt=0, description="Seconds between update events while it goes on."
    )
    grace_s: float = Field(
        default=2.0, ge=0, description="Seconds out of the zone or unseen before the event ends."
    )


class LineCrossingConfig(_Behaviour):
    """Tracks crossing a line, counted per class and direction in time buckets."""

    type: Literal["line_crossing"] = Field(description="Behaviour type.")
    line: str = Field(description="Name of a line of this camera.")
    classes: list[str] = Field(
        default_factory=lambda: [*PEOPLE, *VEHICLES], description="COCO class labels it counts."
    )
    bucket_s: float = Field(default=60.0, gt=0, description="Length of a count bucket in seconds.")
    keep_buckets: int = Field(default=60, ge=1, description="Past buckets kept for stats.")
    alert_on: list[Literal["in", "out"]] = Field(
        default_factory=lambda: list(_BOTH_WAYS),
        description="Directions that emit an event; empty counts only. 'in' = to the left of a->b.",
    )
    rearm_distance: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="After a count a track must get this far from the line (fraction of the "
        "frame diagonal) before it counts again; stops jitter on the line double counting.",
    )


class CrowdingConfig(_Behaviour):
    """The count (or density) of watched objects stays over a threshold."""

    type: Literal["crowding"] = Field(description="Behaviour type.")
    zone: str | None = Field(default=None, description="Zone name, or none for the whole frame.")
    min_count: int | None = Field(default=None, ge=1, description="Objects that make a crowd.")
    density_per_m2: float | None = Field(
        default=None, gt=0, description="Objects per square metre that make a crowd."
    )
    zone_area_m2: float | None = Field(
        default=None, gt=0, description="Ground area the zone (or frame) covers, for density."
    )
    min_duration_s: float = Field(
        default=10.0, ge=0, description="Seconds over the threshold before it starts."
    )
    clear_ratio: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Hysteresis: it ends when the value falls below threshold x this ratio...",
    )
    clear_s: float = Field(default=5.0, ge=0, description="...for this many seconds.")
    update_interval_s: float = Field(
        default=30.0, gt=0, description="Seconds between update events while it goes on."
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> CrowdingConfig:
        if (self.min_count is None) == (self.density_per_m2 is None):
            raise ValueError("set exactly one of min_count and density_per_m2")
        if self.density_per_m2 is not None and self.zone_area_m2 is None:
            raise ValueError("density_per_m2 needs zone_area_m2")
        return self


class StationaryConfig(_Behaviour):
    """A vehicle or left object that does not move for `min_stationary_s`."""

    type: Literal["stationary"] = Field(description="Behaviour type.")
    zone: str | None = Field(default=None, description="Zone name, or none for the whole frame.")
    classes: list[str] = Field(
        default_factory=lambda: [*VEHICLES, *LEFT_OBJECTS], description="COCO labels it watches."
    )
    min_stationary_s: float = Field(default=60.0, gt=0, description="Seconds without moving.")
    max_movement: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="Movement allowed while still stationary, as a fraction of the frame diagonal.",
    )
    grace_s: float = Field(default=2.0, ge=0, description="Seconds unseen before the event ends.")


class GroundHomography(_Strict):
    """Four image points and where they lie on the ground, for metric speeds and distances."""

    image: Annotated[list[NormPoint], Field(min_length=4, max_length=4)] = Field(
        description="Four points in normalised image coordinates (on the ground plane)."
    )
    ground: Annotated[list[NormPoint], Field(min_length=4, max_length=4)] = Field(
        description="The same four points on the ground, in metres (any planar x, y)."
    )

    @field_validator("image")
    @classmethod
    def _normalised(cls, value: list[NormPoint]) -> list[NormPoint]:
        _check_polygon(value)
        return value


class SpeedConfig(_Behaviour):
    """A track moving faster than a limit, in pixels/s or (with a homography) metres/s."""

    type: Literal["speed"] = Field(description="Behaviour type.")
    zone: str | None = Field(default=None, description="Zone name, or none for the whole frame.")
    classes: list[str] = Field(
        default_factory=lambda: list(VEHICLES), description="COCO labels it watches."
    )
    unit: Literal["px_s", "m_s"] = Field(default="m_s", description="Unit of `limit`.")
    limit: float = Field(gt=0, description="Speed limit in `unit`.")
    window_s: float = Field(default=1.0, gt=0, description="Seconds of motion a speed spans.")
    homography: GroundHomography | None = Field(
        default=None, description="Image to ground mapping; needed for m_s."
    )
    grace_s: float = Field(default=1.0, ge=0, description="Seconds under the limit before it ends.")

    @model_validator(mode="after")
    def _metric_needs_homography(self) -> SpeedConfig:
        if self.unit == "m_s" and self.homography is None:
            raise ValueError("unit m_s needs a homography")
        return self


class FallConfig(_Behaviour):
    """A person falls: a fast drop or upright-to-horizontal flip, then lying for `lying_s`.

    Uses MoveNet's torso angle when keypoints are confident, else the track's box
    (height/width ratio, drop of the box centre relative to the upright box height).
    """

    type: Literal["fall"] = Field(description="Behaviour type.")
    zone: str | None = Field(default=None, description="Zone name, or none for the whole frame.")
    use_pose: bool = Field(
        default=True,
        description="Use pose keypoints when the camera has a pose model; box-only otherwise.",
    )
    window_s: float = Field(
        default=1.0, gt=0, le=10, description="Seconds within which the drop or flip must happen."
    )
    min_drop_ratio: float = Field(
        default=0.3,
        gt=0,
        le=2,
        description="Drop of the box centre within `window_s`, as a fraction of the upright box "
        "height, that counts as falling.",
    )
    upright_ratio: float = Field(
        default=1.3, gt=0, description="Box height/width at or above which a person is upright."
    )
    lying_ratio: float = Field(
        default=0.8, gt=0, description="Box height/width at or below which a person is horizontal."
    )
    upright_angle_deg: float = Field(
        default=30.0, ge=0, le=90, description="Torso angle from vertical under which upright."
    )
    lying_angle_deg: float = Field(
        default=60.0, ge=0, le=90, description="Torso angle from vertical over which horizontal."
    )
    min_keypoint_score: float = Field(
        default=0.3, ge=0, le=1, description="Shoulder and hip scores needed to trust the pose."
    )
    lying_s: float = Field(
        default=1.0, ge=0, description="Seconds horizontal after the fall before it starts."
    )
    fall_timeout_s: float = Field(
        default=3.0,
        gt=0,
        description="Seconds after a drop or flip to become horizontal; else it was no fall.",
    )
    getup_s: float = Field(
        default=1.0, ge=0, description="Seconds upright again before the event ends."
    )
    grace_s: float = Field(
        default=2.0, ge=0, description="Seconds a track may be unseen before the event ends."
    )

    @model_validator(mode="after")
    def _ordered(self) -> FallConfig:
        if self.lying_ratio >= self.upright_ratio:
            raise ValueError("lying_ratio must be below upright_ratio")
        if self.upright_angle_deg >= self.lying_angle_deg:
            raise ValueError("upright_angle_deg must be below lying_angle_deg")
        return self


class FightConfig(_Behaviour):
    """EXPERIMENTAL fight cue: close persons with fast limb motion for `min_duration_s`.

    Limb motion is wrist and elbow speed relative to the body, in body heights per
    second, from pose keypoints; without pose, box shape jitter (width and height
    change per second over box height). A cue for an operator, not a verdict.
    """

    type: Literal["fight"] = Field(description="Behaviour type (experimental).")
    zone: str | None = Field(default=None, description="Zone name, or none for the whole frame.")
    use_pose: bool = Field(
        default=True,
        description="Use pose keypoints when the camera has a pose model; box jitter otherwise.",
    )
    max_distance: float = Field(
        default=0.8,
        gt=0,
        le=5,
        description="Two persons are close when their box centres are within this many mean "
        "box heights (or their boxes overlap).",
    )
    min_limb_speed: float = Field(
        default=1.0,
        gt=0,
        description="Mean wrist/elbow speed relative to the body, in body heights per second.",
    )
    min_box_jitter: float = Field(
        default=0.6,
        gt=0,
        description="Without pose: box width+height change per second over box height.",
    )
    window_s: float = Field(
        default=1.0, gt=0, le=10, description="Seconds of motion averaged into a motion score."
    )
    min_duration_s: float = Field(
        default=2.0, ge=0, description="Seconds the cue must hold before it starts."
    )
    clear_s: float = Field(default=2.0, ge=0, description="Seconds without the cue before it ends.")


class ClassifyConfig(_Behaviour):
    """A fine-tuned image classifier (`train image`) on the frame or on object crops.

    Every `interval_s` the classifier runs on the whole frame (`target: frame`)
    or on crops of the watched `classes` (`target: objects`). A label in
    `alert_labels` scoring at least `min_score` for `min_hits` consecutive runs
    starts an event: `video.fire` for labels in `fire_labels`, else
    `video.classification`; it ends after `clear_s` without a hit.
    """

    type: Literal["classify"] = Field(description="Behaviour type.")
    model: str = Field(description="Model folder written by `citysentinel train image`.")
    int8: bool = Field(
        default=False,
        description="Run model.int8.onnx (4x smaller) instead of model.onnx (faster on CPU).",
    )
    target: Literal["frame", "objects"] = Field(
        default="frame", description="Classify the whole frame or crops of watched objects."
    )
    zone: str | None = Field(
        default=None, description="With `target: objects`, only objects in this zone."
    )
    interval_s: float = Field(default=2.0, ge=0, description="Seconds between classifier runs.")
    alert_labels: list[str] = Field(
        min_length=1, description="Model labels that raise an event (e.g. fire, smoke)."
    )
    fire_labels: list[str] = Field(
        default_factory=lambda: ["fire", "smoke"],
        description="Alert labels reported as `video.fire` instead of `video.classification`.",
    )
    min_score: float = Field(default=0.6, ge=0, le=1, description="Minimum class probability.")
    min_hits: int = Field(default=2, ge=1, description="Consecutive runs with a hit to start.")
    clear_s: float = Field(default=10.0, ge=0, description="Seconds without a hit before it ends.")
    max_crops: int = Field(default=8, ge=1, le=64, description="Largest objects classified a run.")
    crop_pad: float = Field(
        default=0.1, ge=0, le=1, description="Crop padding as a share of the box size per side."
    )


BehaviourConfig = Annotated[
    IntrusionConfig
    | LoiteringConfig
    | LineCrossingConfig
    | CrowdingConfig
    | StationaryConfig
    | SpeedConfig
    | FallConfig
    | FightConfig
    | ClassifyConfig,
    Field(discriminator="type"),
]


class AnalyticsConfig(_Strict):
    """Everything one camera's analyzer does after detection.

    Example:
        >>> cfg = AnalyticsConfig.model_validate({"behaviours": [
        ...     {"type": "intrusion", "zone": "yard"},
        ...     {"type": "line_crossing", "line": "gate", "alert_on": ["in"]}]})
        >>> [b.type for b in cfg.behaviours], cfg.tracker.type
        (['intrusion', 'line_crossing'], 'bytetrack')
    """

    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="Tracker settings.")
    objects: ObjectsConfig = Field(
        default_factory=ObjectsConfig, description="Tracked classes and filters."
    )
    behaviours: list[BehaviourConfig] = Field(
        default_factory=list, description="Behaviours, each chosen by its `type`."
    )
    snapshot: SnapshotConfig = Field(
        default_factory=SnapshotConfig, description="Snapshot evidence."
    )

    def reference_errors(self, zones: Iterable[str], lines: Iterable[str]) -> list[str]:
        """Behaviours naming a zone or line the camera does not have (for CameraConfig).

        Example:
            >>> AnalyticsConfig.model_validate(
            ...     {"behaviours": [{"type": "intrusion", "zone": "yrd"}]}
            ... ).reference_errors(["yard"], [])
            ["behaviours[0].zone: unknown zone 'yrd'; did you mean 'yard'?"]
        """
        zone_set, line_set = list(zones), list(lines)
        errors: list[str] = []
        for i, b in enumerate(self.behaviours):
            zone = getattr(b, "zone", None)
            if zone is not None and zone not in zone_set:
                errors.append(f"behaviours[{i}].zone: unknown zone {zone!r}{_hint(zone, zone_set)}")
            if isinstance(b, LineCrossingConfig) and b.line not in line_set:
                errors.append(
                    f"behaviours[{i}].line: unknown line {b.line!r}{_hint(b.line, line_set)}"
                )
        return errors


def _hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
