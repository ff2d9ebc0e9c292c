"""Detector backends: letterbox math and decoding on synthetic tensors, real inference, registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from citysentinel.eval.detection import read_yolo_labels
from citysentinel.vision.detections import COCO_CLASSES, Detections
from citysentinel.vision.detectors import (
    DETECTORS,
    CenterNetConfig,
    CenterNetDetector,
    Detector,
    DetectorConfig,
    NanoDetConfig,
    NanoDetDetector,
    OnnxDetector,
    OnnxDetectorConfig,
    build_detector,
    default_config,
    letterbox,
)
from citysentinel.vision.detectors.base import Letterbox, batched_nms
from citysentinel.vision.detectors.centernet import decode_detections
from citysentinel.vision.detectors.generic_onnx import CUSTOM_CLASS_OFFSET
from citysentinel.vision.detectors.nanodet import BINS, decode_level
from tests.models.fixtures import coco128, installed

PERSON_IMAGE = "000000000036"  # one large person under an umbrella


@dataclass
class _Arg:
    name: str
    shape: tuple[int, ...] = ()


class FakeSession:
    """Stands in for an onnxruntime session where the test is about decoding."""

    def __init__(self, outputs: list[np.ndarray[Any, Any]], names: list[str] | None = None) -> None:
        self.outputs = outputs
        self.names = names or [f"out{i}" for i in range(len(outputs))]

    def get_inputs(self) -> list[_Arg]:
        return [_Arg("images")]

    def get_outputs(self) -> list[_Arg]:
        return [_Arg(n) for n in self.names]

    def run(
        self, names: list[str], feed: dict[str, np.ndarray[Any, Any]]
    ) -> list[np.ndarray[Any, Any]]:
        return [self.outputs[self.names.index(n)] for n in names]


def _fake(outputs: list[np.ndarray[Any, Any]], names: list[str] | None = None) -> Any:
    return FakeSession(outputs, names)


@pytest.mark.parametrize(
    ("hw", "size", "scale", "pad_x", "pad_y"),
    [
        ((624, 832), (416, 416), 0.5, 0, 52),
        ((832, 624), (416, 416), 0.5, 52, 0),
        ((100, 100), (512, 512), 5.12, 0, 0),
        ((480, 640), (640, 384), 0.8, 64, 0),
    ],
)
def test_letterbox_centres_and_undo_inverts(
    hw: tuple[int, int], size: tuple[int, int], scale: float, pad_x: int, pad_y: int
) -> None:
    frame = np.full((*hw, 3), 200, np.uint8)
    image, lb = letterbox(frame, *size)
    assert image.shape == (size[1], size[0], 3)
    assert (lb.scale, lb.pad_x, lb.pad_y) == pytest.approx((scale, pad_x, pad_y))
    assert image[size[1] // 2, size[0] // 2, 0] == 200
    assert image[0, 0, 0] == (0 if pad_x or pad_y else 200)
    box = np.array([[10, 20, 50, 60]], np.float32)
    in_net = box * lb.scale + np.array([lb.pad_x, lb.pad_y] * 2, np.float32)
    assert lb.undo(in_net) == pytest.approx(box, abs=1e-3)


def test_undo_clips_to_the_frame() -> None:
    lb = Letterbox(scale=1.0, pad_x=10, pad_y=0, width=100, height=50)
    assert lb.undo(np.array([[0, -5, 200, 80]], np.float32)).tolist() == [[0, 0, 100, 50]]


def _peaked(bin_index: int) -> np.ndarray[Any, Any]:
    logits = np.full(BINS, -50.0, np.float32)
    logits[bin_index] = 50.0
    return logits


def test_nanodet_decode_uses_half_cell_anchors_and_bin_expectation() -> None:
    grid_w, stride = 4, 8
    scores = np.zeros((16, 80), np.float32)
    scores[6, 0] = 0.9  # location y=1, x=2 -> anchor (20, 12)
    scores[6, 2] = 0.2  # under the threshold
    reg = np.zeros((16, 4 * BINS), np.float32)
    reg[6] = np.concatenate([_peaked(1), _peaked(1), _peaked(2), _peaked(3)])
    xyxy, conf, cls = decode_level(scores, reg, stride, grid_w, threshold=0.3)
    assert xyxy.tolist() == [[12.0, 4.0, 36.0, 36.0]]
    assert conf == pytest.approx([0.9]) and cls.tolist() == [0]


def test_nanodet_decode_takes_the_softmax_expectation() -> None:
    scores = np.zeros((1, 80), np.float32)
    scores[0, 5] = 0.8
    reg = np.zeros((1, 4 * BINS), np.float32)  # uniform: expectation 5 bins on every side
    xyxy, _, cls = decode_level(scores, reg, 16, 1, threshold=0.5)
    assert xyxy == pytest.approx(np.array([[8 - 80, 8 - 80, 8 + 80, 8 + 80]], np.float32))
    assert cls.tolist() == [5]


def test_nanodet_postprocess_pairs_levels_nms_and_undoes_letterbox() -> None:
    size = 64
    outs = []
    for stride in (8, 16, 32):
        n = (size // stride) ** 2
        scores, reg = np.zeros((1, n, 80), np.float32), np.zeros((1, n, 4 * BINS), np.float32)
        if stride == 8:  # two overlapping boxes of one class and one of another class
            for loc, cls, score in ((9, 0, 0.9), (10, 0, 0.8), (9, 2, 0.7)):
                scores[0, loc, cls] = score
            reg[0, 9] = np.concatenate([_peaked(1)] * 4)  # anchor (12, 12) -> (4, 4, 20, 20)
            # anchor (20, 12) -> the same box, so NMS keeps only the 0.9 one of class 0
            reg[0, 10] = np.concatenate([_peaked(2), _peaked(1), _peaked(0), _peaked(1)])
        outs += [scores, reg]
    detector = NanoDetDetector(NanoDetConfig(type="nanodet", input_size=size), session=_fake(outs))
    lb = Letterbox(scale=0.5, pad_x=0, pad_y=0, width=128, height=128)
    det = detector.postprocess(outs[::-1], lb)  # output order must not matter
    assert sorted(det.class_id.tolist()) == [0, 2]
    person = det[det.class_id == 0]
    # anchor (12, 12) +- 8 in input pixels -> (4..20) / 0.5 in frame pixels
    assert person.xyxy.tolist() == [[8.0, 8.0, 40.0, 40.0]]


def test_centernet_decode_filters_scores_and_maps_back() -> None:
    rows = np.zeros((1, 100, 6), np.float32)
    rows[0, 0] = [100, 100, 200, 300, 0.8, 2]
    rows[0, 1] = [0, 0, 10, 10, 0.1, 0]
    lb = Letterbox(scale=0.5, pad_x=0, pad_y=64, width=1024, height=768)
    det = decode_detections(rows, lb, threshold=0.3, nms_iou=None, max_detections=100)
    assert det.xyxy.tolist() == [[200.0, 72.0, 400.0, 472.0]]
    assert det.class_id.tolist() == [2] and det.labels() == ["car"]


def test_batched_nms_is_per_class() -> None:
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 1, 0], np.int64)
    assert batched_nms(xyxy, scores, classes, 0.5, 100).tolist() == [0, 2, 3]
    assert batched_nms(xyxy, scores, classes, 0.5, 2).tolist() == [0, 2]
    assert batched_nms(xyxy[:0], scores[:0], classes[:0], 0.5, 10).tolist() == []


def _onnx(**kw: Any) -> OnnxDetectorConfig:
    return OnnxDetectorConfig.model_validate({"type": "onnx", "model": "m.onnx", **kw})


def test_generic_onnx_preprocess_follows_the_config() -> None:
    frame = np.zeros((20, 40, 3), np.uint8)
    frame[..., 2] = 255  # red in BGR
    cfg = _onnx(
        input_size=(40, 40), layout="NCHW", channel_order="RGB", mean=(0.5, 0, 0), std=(0.5, 1, 1)
    )
    tensor, lb = OnnxDetector(cfg, session=_fake([np.zeros((1, 0, 6), np.float32)])).preprocess(
        frame
    )
    assert tensor.shape == (1, 3, 40, 40) and tensor.dtype == np.float32
    assert tensor[0, 0, 20, 20] == pytest.approx(1.0)  # (255/255 - 0.5) / 0.5, red first
    assert tensor[0, 2, 0, 0] == pytest.approx(114 / 255)  # YOLO-grey padding
    assert (lb.pad_x, lb.pad_y) == (0, 10)
    nhwc, _ = OnnxDetector(
        _onnx(layout="NHWC", input_dtype="uint8"), session=_fake([np.zeros((1, 0, 6), np.float32)])
    ).preprocess(frame)
    assert nhwc.shape == (1, 640, 640, 3) and nhwc.dtype == np.uint8


def test_generic_onnx_postprocess_maps_classes_and_normalised_boxes() -> None:
    rows = np.array(
        [[[0.1, 0.1, 0.5, 0.5, 0.9, 1], [0.1, 0.1, 0.5, 0.5, 0.8, 0], [0, 0, 1, 1, 0.1, 0]]],
        np.float32,
    )
    cfg = _onnx(
        input_size=(100, 100), normalized_boxes=True, class_names=["fire", "car"], nms_iou=0.5
    )
    lb = Letterbox(scale=1.0, pad_x=0, pad_y=0, width=100, height=100)
    det = OnnxDetector(cfg, session=_fake([rows])).postprocess([rows], lb)
    assert det.class_id.tolist() == [COCO_CLASSES.index("car"), CUSTOM_CLASS_OFFSET + 0]
    assert det.xyxy[0].tolist() == pytest.approx([10, 10, 50, 50])


def test_detector_config_is_a_discriminated_union() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(DetectorConfig)
    assert isinstance(adapter.validate_python({"type": "nanodet"}), NanoDetConfig)
    assert isinstance(adapter.validate_python({"type": "centernet", "threads": 2}), CenterNetConfig)
    cfg = adapter.validate_python({"type": "onnx", "model": "x.onnx", "input_size": [320, 320]})
    assert isinstance(cfg, OnnxDetectorConfig) and cfg.input_size == (320, 320)
    for bad in (
        {"type": "yolo"},
        {"type": "nanodet", "colour": 1},
        {"type": "nanodet", "input_size": 400},
        {"type": "onnx"},
    ):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
    assert set(DETECTORS) == {"nanodet", "centernet", "onnx"}
    with pytest.raises(ValueError, match="known: nanodet, centernet, onnx"):
        default_config("yolo")


def _person_truth() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    root = coco128()
    frame = cv2.imread(str(root / "images" / f"{PERSON_IMAGE}.jpg"), cv2.IMREAD_COLOR)
    assert frame is not None
    boxes, classes = read_yolo_labels(
        root / "labels" / f"{PERSON_IMAGE}.txt", frame.shape[1], frame.shape[0]
    )
    return frame, boxes[classes == 0]


def _best_iou(det: Detections, truth: np.ndarray[Any, Any]) -> float:
    boxes = det[det.class_id == 0].xyxy
    if len(boxes) == 0:
        return 0.0
    t = truth[0]
    iw = np.clip(np.minimum(boxes[:, 2], t[2]) - np.maximum(boxes[:, 0], t[0]), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], t[3]) - np.maximum(boxes[:, 1], t[1]), 0, None)
    inter = iw * ih
    union = det[det.class_id == 0].areas() + (t[2] - t[0]) * (t[3] - t[1]) - inter
    return float((inter / union).max())


@pytest.mark.parametrize("backend", ["nanodet", "centernet"])
def test_real_inference_finds_the_person(backend: str) -> None:
    installed(backend)
    frame, truth = _person_truth()
    detector = build_detector(default_config(backend, score_threshold=0.3))
    assert isinstance(detector, Detector)
    det = detector.detect(frame)
    assert _best_iou(det, truth) > 0.7, det.xyxy


def test_generic_onnx_backend_reproduces_centernet() -> None:
    path = installed("centernet")
    frame, truth = _person_truth()
    cfg = _onnx(
        model=path, input_size=(512, 512), layout="NHWC", channel_order="RGB", scale=1.0,
        pad_value=0, output="tower_0/detections", score_threshold=0.3, max_detections=100,
    )  # fmt: skip
    generic = cast(OnnxDetector, build_detector(cfg)).detect(frame)
    native = CenterNetDetector(CenterNetConfig(type="centernet", score_threshold=0.3)).detect(frame)
    assert _best_iou(generic, truth) > 0.7
    assert generic.xyxy == pytest.approx(native.xyxy, abs=1e-3)
    assert generic.class_id.tolist() == native.class_id.tolist()


def test_model_override_path_is_used(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"NO_SUCHFILE|No such file|doesn't exist|does not exist"):
        NanoDetDetector(NanoDetConfig(type="nanodet", model=tmp_path / "absent.onnx"))
