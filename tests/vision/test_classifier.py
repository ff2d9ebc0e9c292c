"""Run-time ONNX image classifier and the `classify` camera behaviour."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from citysentinel.events import EventKind, EventState
from citysentinel.vision.analytics_config import AnalyticsConfig, ClassifyConfig
from citysentinel.vision.behaviours import FrameContext
from citysentinel.vision.behaviours.classify import Classify, Image
from citysentinel.vision.classifier import ClassifierError, OnnxImageClassifier, Preprocess
from tests.vision.factories import at, box_at, make_detections, make_scene

COLOURS = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0)}  # BGR


@pytest.fixture
def mean_colour_model(tmp_path: Path) -> Path:
    """A real ONNX graph whose logits are the per-channel means of the RGB input."""
    onnx = pytest.importorskip("onnx", reason="building a test graph needs the onnx package")
    h = onnx.helper
    x = h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", 3, 16, 16])
    y = h.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 3])
    axes = h.make_tensor("axes", onnx.TensorProto.INT64, [2], [2, 3])
    node = h.make_node("ReduceMean", ["input", "axes"], ["logits"], keepdims=0)
    graph = h.make_graph([node], "mean", [x], [y], initializer=[axes])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "model.onnx"))
    (tmp_path / "labels.json").write_text(
        json.dumps({"labels": ["red", "green", "blue"], "image_size": 16})
    )
    return tmp_path


def solid(name: str, size: tuple[int, int] = (40, 30)) -> Image:
    return np.full((*size, 3), COLOURS[name], np.uint8)


def test_classifies_colours_in_rgb_order(mean_colour_model: Path) -> None:
    clf = OnnxImageClassifier(mean_colour_model)  # no int8 file: falls back to fp32
    labels, scores = clf.classify([solid("red"), solid("blue"), solid("green")])
    assert labels == ["red", "blue", "green"]
    assert all(0.5 < s <= 1 for s in scores)
    assert clf.classify([]) == ([], [])


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match=r"labels\.json"):
        OnnxImageClassifier(tmp_path)
    (tmp_path / "labels.json").write_text(json.dumps({"labels": ["a"]}))
    with pytest.raises(ClassifierError, match=r"no model\.onnx"):
        OnnxImageClassifier(tmp_path)


def test_preprocess_rejects_grey_images() -> None:
    with pytest.raises(ValueError, match="BGR image"):
        Preprocess(16).one(np.zeros((8, 8), np.uint8))


class FakeClassifier:
    """Says `label` with `score` for crops wider than `min_width`, else `normal`."""

    name = "fake"

    def __init__(self, label: str, score: float, min_width: int = 0) -> None:
        self.label, self.score, self.min_width, self.calls = label, score, min_width, 0

    def classify(self, images: Sequence[Image]) -> tuple[list[str], list[float]]:
        self.calls += 1
        wide = [im.shape[1] >= self.min_width for im in images]
        return [self.label if w else "normal" for w in wide], [self.score] * len(images)


def frame(seconds: float, boxes: Sequence[Sequence[float]] = ()) -> FrameContext:
    det = make_detections(boxes, ids=list(range(len(boxes))))
    anchors = det.anchors()
    scene = make_scene()
    return FrameContext(
        source="cam-test",
        t=at(seconds),
        seconds=seconds,
        scene=scene,
        detections=det,
        labels=det.labels(),
        anchors=anchors,
        zones={n: z.contains(anchors) for n, z in scene.zones.items()},
        history={},
    )


def config(**kw: object) -> ClassifyConfig:
    base: dict[str, object] = {"type": "classify", "model": "m", "alert_labels": ["fire", "fall"]}
    return ClassifyConfig.model_validate({**base, **kw})


IMAGE = np.zeros((480, 640, 3), np.uint8)


@pytest.mark.parametrize(
    ("label", "score", "kinds"),
    [
        (
            "fire",
            0.9,
            [(EventKind.VIDEO_FIRE, EventState.START), (EventKind.VIDEO_FIRE, EventState.END)],
        ),
        (
            "fall",
            0.9,
            [
                (EventKind.VIDEO_CLASSIFICATION, EventState.START),
                (EventKind.VIDEO_CLASSIFICATION, EventState.END),
            ],
        ),
        ("fire", 0.5, []),  # under min_score
        ("normal", 0.99, []),  # not an alert label
    ],
)
def test_frame_events(label: str, score: float, kinds: list[tuple[EventKind, EventState]]) -> None:
    fake = FakeClassifier(label, score)
    b = Classify(config(interval_s=1, min_hits=2, clear_s=3), fake)
    events = [e for s in range(6) for e in b.process(frame(s), IMAGE)]
    fake.label = "normal"  # the fire is out
    events += [e for s in range(6, 12) for e in b.process(frame(s), IMAGE)]
    assert [(e.kind, e.state) for e in events] == kinds
    if events:
        assert events[0].time == at(1)  # second hit in a row
        assert events[0].payload.model_dump()["label"] == label
        assert events[1].time == at(8)  # 3 s after the last hit at 5 s


def test_interval_limits_runs_and_no_image_means_no_work() -> None:
    fake = FakeClassifier("fire", 0.9)
    b = Classify(config(interval_s=2), fake)
    for s in (0.0, 0.5, 1.0, 2.0, 2.5):
        b.process(frame(s), IMAGE)
    assert fake.calls == 2
    assert b.process(frame(10), None) == []


def test_object_crops_only_of_watched_classes() -> None:
    fake = FakeClassifier("fall", 0.9, min_width=60)
    b = Classify(config(target="objects", interval_s=0, min_hits=1, crop_pad=0), fake)
    narrow = frame(0, [box_at(100, 400, w=20)])
    assert b.process(narrow, IMAGE) == []
    crops = b.crops(frame(1, [box_at(100, 400, w=80), box_at(300, 400, w=20)]), IMAGE)
    assert sorted(c.shape[1] for c in crops) == [20, 80]
    events = b.process(frame(1, [box_at(100, 400, w=80)]), IMAGE)
    assert [(e.kind, e.state) for e in events] == [
        (EventKind.VIDEO_CLASSIFICATION, EventState.START)
    ]


def test_config_is_a_behaviour_type() -> None:
    cfg = AnalyticsConfig.model_validate(
        {"behaviours": [{"type": "classify", "model": "var/models/fire", "alert_labels": ["fire"]}]}
    )
    assert isinstance(cfg.behaviours[0], ClassifyConfig)
    with pytest.raises(ValueError, match="alert_labels"):
        AnalyticsConfig.model_validate({"behaviours": [{"type": "classify", "model": "m"}]})
