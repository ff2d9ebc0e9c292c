"""Face blurring: CenterFace decoding, the head fallback, and a real face on a real photo."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from citysentinel.models.registry import ENV_MODEL_DIR
from citysentinel.vision.privacy import (
    CenterFaceBlurrer,
    Mode,
    ModelOutdated,
    decode,
    load_face_blurrer,
    pad_boxes,
)
from citysentinel.vision.snapshot import HeadRegionBlurrer, blur_regions
from tests.models.fixtures import coco128, installed
from tests.vision.factories import make_detections

# coco128 image 459: one man facing the camera; his face by eye, in pixels (516 x 640 image).
FACE_IMAGE = "000000000459.jpg"
FACE_BY_EYE = (140, 120, 240, 250)
PERSON_459 = [0.0, 85.0, 515.0, 633.0]  # its COCO person box (labels/000000000459.txt)


@dataclass
class Info:
    name: str
    shape: list[int | str | None]


class FakeSession:
    """CenterFace's interface; `run` returns maps with one face centre per (y, x) cell."""

    def __init__(
        self, cells: Sequence[tuple[int, int]] = (), dims: Sequence[int | str] = ("B", 3, "H", "W")
    ) -> None:
        self.cells = list(cells)
        self.dims = list(dims)

    def get_inputs(self) -> list[Info]:
        return [Info("input.1", list(self.dims))]

    def get_outputs(self) -> list[Info]:
        return [Info(n, []) for n in ("537", "538", "539", "540")]

    def run(self, names: list[str] | None, feed: dict[str, Any]) -> list[Any]:
        b, _, h, w = feed["input.1"].shape
        heat = np.zeros((b, 1, h // 4, w // 4), np.float32)
        for y, x in self.cells:
            heat[:, 0, y, x] = 0.9
        scale = np.full((b, 2, h // 4, w // 4), np.log(4.0), np.float32)  # 16 px faces
        return [heat, scale, np.zeros((b, 2, h // 4, w // 4), np.float32)]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@pytest.mark.parametrize(
    ("cell", "log_hw", "offset", "expected"),
    [
        ((0, 0), (np.log(4.0), np.log(4.0)), (0.0, 0.0), [0.0, 0.0, 10.0, 10.0]),  # clipped later
        ((2, 3), (np.log(4.0), np.log(2.0)), (0.0, 0.0), [10.0, 2.0, 18.0, 18.0]),
        ((2, 3), (np.log(4.0), np.log(4.0)), (0.5, -0.25), [5.0, 4.0, 21.0, 20.0]),
    ],
)
def test_decode_reads_centre_size_and_offset(
    cell: tuple[int, int],
    log_hw: tuple[float, float],
    offset: tuple[float, float],
    expected: list[float],
) -> None:
    heat = np.zeros((8, 8), np.float32)
    heat[cell] = 0.8
    scale = np.stack([np.full((8, 8), v, np.float32) for v in log_hw])
    off = np.stack([np.full((8, 8), v, np.float32) for v in offset])
    boxes, scores = decode(heat, scale, off, 0.5)
    got = boxes.clip(0).tolist()[0]
    assert got == pytest.approx(expected, abs=1e-4)
    assert scores.tolist() == pytest.approx([0.8])


def test_pad_boxes_grows_and_clips() -> None:
    out = pad_boxes(np.array([[0, 10, 20, 30]], np.float32), 0.5, 25, 100)
    assert out.tolist() == [[0.0, 0.0, 25.0, 40.0]]


def test_no_face_found_still_blurs_the_head() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    person = make_detections([[100, 40, 140, 200]])
    blurrer = CenterFaceBlurrer(FakeSession())
    assert blurrer.regions(image, person).tolist() == [[100.0, 40.0, 140.0, 88.0]]
    no_backstop = CenterFaceBlurrer(FakeSession(), head_fallback=False)
    assert len(no_backstop.regions(image, person)) == 0


@pytest.mark.parametrize("mode", ["frame", "persons"])
def test_a_face_in_the_head_spares_the_head_box(mode: Mode) -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    person = make_detections([[100, 40, 140, 200]], labels="person")
    # Frame mode: 320x240 runs as is, so cell (y=12, x=30) is the face centre (122, 50).
    # Persons mode: the crop (96..144 x 32..120) is scaled by 160/88; cell (4, 12) is near
    # (96 + 50/1.82, 32 + 18/1.82) = (123, 42).
    cells = [(12, 30)] if mode == "frame" else [(4, 12)]
    blurrer = CenterFaceBlurrer(FakeSession(cells), mode=mode)
    regions = blurrer.regions(image, person)
    assert len(regions) == 1
    x1, y1, x2, y2 = regions[0].tolist()
    assert 100 < (x1 + x2) / 2 < 140 and 35 < (y1 + y2) / 2 < 60
    assert y2 - y1 < 30  # the padded face, not the 48 px head region


def test_a_face_on_the_torso_does_not_spare_the_head() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    person = make_detections([[100, 40, 140, 200]])
    blurrer = CenterFaceBlurrer(FakeSession([(30, 30)]), mode="frame")  # centre y = 122
    regions = blurrer.regions(image, person)
    assert [100.0, 40.0, 140.0, 88.0] in regions.tolist() and len(regions) == 2


def test_a_fixed_input_model_is_refused() -> None:
    with pytest.raises(ModelOutdated, match="models install --only centerface"):
        CenterFaceBlurrer(FakeSession(dims=[10, 3, 32, 32]))


def test_missing_model_falls_back_to_head_regions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="citysentinel.vision.privacy"):
        blurrer = load_face_blurrer()
    assert isinstance(blurrer, HeadRegionBlurrer)
    assert len(caplog.records) == 1 and "not installed" in caplog.records[0].getMessage()


@pytest.fixture(scope="module")
def face_photo() -> np.ndarray:
    image = cv2.imread(str(coco128() / "images" / FACE_IMAGE))
    assert image is not None
    return image


@pytest.mark.parametrize("mode", ["frame", "persons"])
def test_centerface_finds_the_face_on_a_real_photo(face_photo: np.ndarray, mode: Mode) -> None:
    installed("centerface")
    blurrer = CenterFaceBlurrer(mode=mode)
    faces = blurrer.faces(face_photo, make_detections([PERSON_459]))
    assert len(faces) == 1
    assert iou(faces[0].tolist(), FACE_BY_EYE) > 0.6


def test_blurring_the_real_face_changes_its_pixels(face_photo: np.ndarray) -> None:
    installed("centerface")
    regions = CenterFaceBlurrer().regions(face_photo, make_detections([PERSON_459]))
    out = blur_regions(face_photo, regions)
    x1, y1, x2, y2 = FACE_BY_EYE
    diff = np.abs(out.astype(int) - face_photo.astype(int)).mean(axis=2)
    assert diff[y1:y2, x1:x2].mean() > 8  # facial detail smoothed away
    assert diff[400:, :].max() == 0  # the chest and tie untouched
