"""COCO crops: a real person / vehicle / animal set from YOLO-labelled images."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from citysentinel.training.datasets import coco_crops

COCO128 = Path(__file__).resolve().parents[3] / "shared/data/vision/coco128_train2017"


@pytest.fixture
def coco128() -> Path:
    if not (COCO128 / "labels").is_dir():
        pytest.skip(f"COCO128 data not found at {COCO128}")
    return COCO128


def test_coco_crops_writes_real_crops(coco128: Path, tmp_path: Path) -> None:
    counts = coco_crops(coco128 / "images", coco128 / "labels", tmp_path, 48, max_per_class=5)
    assert counts == {"person": 5, "vehicle": 5, "animal": 5}
    for name in counts:
        files = sorted((tmp_path / name).glob("*.jpg"))
        assert len(files) == 5
        image = cv2.imread(str(files[0]))
        assert image is not None and min(image.shape[:2]) >= 48
