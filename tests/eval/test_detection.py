"""`citysentinel eval detection`: YOLO labels to COCO, pycocotools figures, the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from citysentinel.cli import app
from citysentinel.eval.detection import (
    EvalError,
    LabelledImage,
    coco_ground_truth,
    coco_map,
    evaluate_detector,
    load_dataset,
    read_yolo_labels,
)
from citysentinel.vision.detections import COCO_CLASSES
from tests.models.fixtures import coco128, installed

runner = CliRunner()
CAR = COCO_CLASSES.index("car")


def _item(name: str, boxes: list[list[float]], classes: list[int]) -> LabelledImage:
    return LabelledImage(
        Path(name), 640, 480, np.array(boxes, float).reshape(-1, 4), np.array(classes)
    )


def _as_results(dataset: list[LabelledImage], score: float = 0.9) -> list[dict[str, object]]:
    gt = coco_ground_truth(dataset)
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": score,
        }
        for a in gt["annotations"]
    ]


def test_yolo_labels_become_pixel_boxes(tmp_path: Path) -> None:
    label = tmp_path / "a.txt"
    label.write_text("2 0.25 0.5 0.5 0.5\n\n0 0.5 0.5 1 1\n", encoding="utf-8")
    boxes, classes = read_yolo_labels(label, 640, 480)
    assert boxes.tolist() == [[0.0, 120.0, 320.0, 360.0], [0.0, 0.0, 640.0, 480.0]]
    assert classes.tolist() == [2, 0]
    assert read_yolo_labels(tmp_path / "absent.txt", 10, 10)[0].shape == (0, 4)


def test_ground_truth_uses_one_based_category_ids() -> None:
    gt = coco_ground_truth([_item("a.jpg", [[10, 20, 110, 220]], [0])])
    assert gt["images"] == [{"id": 1, "width": 640, "height": 480, "file_name": "a.jpg"}]
    ann = gt["annotations"][0]
    assert ann["category_id"] == 1 and ann["bbox"] == [10, 20, 100, 200] and ann["area"] == 20000
    assert len(gt["categories"]) == 80


def test_perfect_predictions_score_one_and_misses_zero() -> None:
    dataset = [
        _item("a.jpg", [[10, 20, 110, 220], [300, 300, 400, 380]], [0, CAR]),
        _item("b.jpg", [[50, 50, 150, 150]], [CAR]),
    ]
    gt = coco_ground_truth(dataset)
    perfect = coco_map(gt, _as_results(dataset))
    assert perfect == {"map50": 1.0, "map50_95": 1.0, "person_ap50": 1.0, "vehicle_ap50": 1.0}
    shifted = [dict(r, bbox=[b + 500 for b in r["bbox"]]) for r in _as_results(dataset)]  # type: ignore[attr-defined]
    assert coco_map(gt, shifted)["map50"] == 0.0
    assert coco_map(gt, [])["map50_95"] == 0.0


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="not supported"):
        load_dataset(tmp_path, tmp_path, "coco", None)
    with pytest.raises(EvalError, match="no images"):
        load_dataset(tmp_path, tmp_path, "yolo", None)
    with pytest.raises(EvalError, match="unknown detector type 'yolo'"):
        evaluate_detector(tmp_path, tmp_path, backend="yolo")


def test_eval_on_a_few_real_images_gives_sane_figures() -> None:
    installed("nanodet")
    root = coco128()
    result = evaluate_detector(root / "images", root / "labels", backend="nanodet", limit=6)
    assert result["backend"] == "nanodet" and result["images"] == 6
    for key in ("map50", "map50_95", "person_ap50"):
        assert 0.2 < result[key] <= 1.0, result
    assert result["map50"] >= result["map50_95"]
    assert 0 < result["ms_per_image"] < 2000


def test_eval_command_prints_json(tmp_path: Path) -> None:
    installed("centernet")
    root = coco128()
    args = ["eval", "detection", "--images", str(root / "images"), "--labels", str(root / "labels")]
    result = runner.invoke(
        app, [*args, "--format", "yolo", "--backend", "centernet", "--limit", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert set(figures) == {
        "backend",
        "images",
        "map50",
        "map50_95",
        "person_ap50",
        "vehicle_ap50",
        "ms_per_image",
    }
    bad = runner.invoke(app, [*args, "--backend", "yolo", "--json"])
    assert bad.exit_code == 1 and "unknown detector type" in bad.output
