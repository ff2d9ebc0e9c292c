"""Snapshots: region blurring, head-region fallback, drawing, and the JPEG evidence written."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from citysentinel.events import Event, EventKind, EvidenceType
from citysentinel.vision.analytics_config import SnapshotConfig
from citysentinel.vision.snapshot import (
    HeadRegionBlurrer,
    SnapshotWriter,
    blur_regions,
    draw,
    encode_jpeg,
)
from tests.vision.factories import T0, box_at, make_detections, make_scene

H, W = 480, 640


def noise() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (H, W, 3), dtype=np.uint8)


def frame(image: np.ndarray | None = None) -> SimpleNamespace:
    return SimpleNamespace(image=noise() if image is None else image, t=T0)


@pytest.mark.parametrize("method", ["gaussian", "pixelate"])
@pytest.mark.parametrize(
    "boxes",
    [
        [[100, 100, 200, 180]],
        [[10, 20, 60, 70], [300, 300, 420, 460]],
        [[-20, -20, 40, 40]],  # partly outside the frame: clipped
    ],
)
def test_blur_changes_pixels_inside_only(method: str, boxes: list[list[float]]) -> None:
    image = noise()
    out = blur_regions(image, np.array(boxes, dtype=np.float32), method)  # type: ignore[arg-type]
    inside = np.zeros((H, W), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        inside[max(0, int(y1)) : int(y2), max(0, int(x1)) : int(x2)] = True
    changed = (out != image).any(axis=2)
    assert not changed[~inside].any()
    assert changed[inside].mean() > 0.9  # noise is smoothed almost everywhere in the box
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (image == noise()).all()  # the input is not modified


def test_blur_skips_empty_boxes() -> None:
    image = noise()
    out = blur_regions(image, np.array([[50, 50, 50, 90], [700, 10, 800, 20]], dtype=np.float32))
    assert (out == image).all()


def test_head_region_blurrer_takes_the_top_of_person_boxes() -> None:
    det = make_detections([[100, 100, 140, 220], [300, 300, 400, 350]], labels=["person", "car"])
    regions = HeadRegionBlurrer(head_fraction=0.25).regions(noise(), det)
    assert regions.tolist() == [[100, 100, 140, 130]]
    with pytest.raises(ValueError):
        HeadRegionBlurrer(0)


def test_draw_marks_boxes_zones_and_lines() -> None:
    blank = np.zeros((H, W, 3), dtype=np.uint8)
    det = make_detections([box_at(320, 400)], ids=[12])
    out = draw(blank, det, make_scene())
    assert out[240, 100].any()  # the gate line / yard edge
    assert out[399, 310].any()  # the box's bottom edge
    assert out[300, 100].sum() == 0  # inside the yard, nothing drawn
    assert not blank.any()


def test_snapshot_is_a_dated_valid_jpeg_with_heads_blurred(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path, "cam-1", make_scene(), SnapshotConfig(draw=False))
    det = make_detections([[100, 100, 140, 220]], ids=[3])
    event = Event(kind=EventKind.VIDEO_INTRUSION, source="cam-1", time=T0)
    f = frame()
    evidence = writer.capture(f, det, [event])
    assert evidence is not None and evidence.type is EvidenceType.SNAPSHOT
    assert evidence.path == "cam-1/2026/11/25/120000000000-intrusion.jpg"
    data = (tmp_path / evidence.path).read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (H, W, 3)
    # JPEG is lossy: compare against the same frame encoded without blurring.
    plain = cv2.imdecode(np.frombuffer(encode_jpeg(f.image, 80), np.uint8), cv2.IMREAD_COLOR)
    assert plain is not None
    diff = np.abs(image.astype(int) - plain.astype(int)).mean(axis=2)
    head = diff[100:136, 100:140].mean()  # top 30 % of the person box
    elsewhere = diff[300:400, 300:500].mean()
    assert head > 20 > 2 > elsewhere


def test_annotate_without_blur_and_disabled_capture(tmp_path: Path) -> None:
    f = frame(np.zeros((H, W, 3), dtype=np.uint8))
    cfg = SnapshotConfig(enabled=False, blur_faces=False, draw=False)
    writer = SnapshotWriter(tmp_path, "cam-1", config=cfg)
    assert (writer.annotate(f, make_detections([box_at(100, 200)])) == 0).all()
    assert writer.capture(f, make_detections([]), [Event(kind="video.fall", source="c")]) is None
    assert list(tmp_path.iterdir()) == []


def test_encode_jpeg_round_trip() -> None:
    data = encode_jpeg(np.full((16, 16, 3), 128, np.uint8), quality=95)
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9"
