"""COCO mAP of a detector backend on a YOLO-labelled image folder (pycocotools)."""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from citysentinel.vision.detections import COCO_CLASSES, VEHICLE_CLASSES, Detections
from citysentinel.vision.detectors import Detector, build_detector, default_config

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
PERSON = COCO_CLASSES.index("person")
VEHICLES = tuple(sorted(COCO_CLASSES.index(n) for n in VEHICLE_CLASSES))


class EvalError(ValueError):
    """The evaluation inputs are unusable (no images, unknown format or backend)."""


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    width: int
    height: int
    boxes: np.ndarray[Any, Any]  # [K, 4] xyxy pixels
    classes: np.ndarray[Any, Any]  # [K]


def read_yolo_labels(
    path: Path, width: int, height: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """`cls cx cy w h` lines (normalised) -> (xyxy pixel boxes, class ids); no file = no boxes.

    Example:
        >>> p = Path("/tmp/_cs_doctest.txt"); _ = p.write_text("0 0.5 0.5 0.5 1.0\\n")
        >>> boxes, classes = read_yolo_labels(p, 200, 100)
        >>> boxes.tolist(), classes.tolist()
        ([[50.0, 0.0, 150.0, 100.0]], [0])
    """
    if not path.is_file():
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    arr = np.array([r[:5] for r in rows], dtype=np.float64)
    cx, cy, w, h = arr[:, 1] * width, arr[:, 2] * height, arr[:, 3] * width, arr[:, 4] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes, arr[:, 0].astype(np.int64)


def load_dataset(
    images: Path, labels: Path, label_format: str, limit: int | None
) -> list[LabelledImage]:
    """Images (sorted by name) with their labels; `limit` keeps the first N."""
    if label_format != "yolo":
        raise EvalError(f"label format {label_format!r} is not supported (use yolo)")
    if not images.is_dir():
        raise EvalError(f"{images} is not a folder of images")
    paths = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not paths:
        raise EvalError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {images}")
    out = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise EvalError(f"cannot read image {p}")
        h, w = img.shape[:2]
        boxes, classes = read_yolo_labels(labels / f"{p.stem}.txt", w, h)
        out.append(LabelledImage(p, w, h, boxes, classes))
    return out


def coco_ground_truth(dataset: list[LabelledImage]) -> dict[str, Any]:
    """The COCO-format ground truth dict (category id = class id + 1; COCO ids start at 1)."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, item in enumerate(dataset, start=1):
        images.append(
            {
                "id": image_id,
                "width": item.width,
                "height": item.height,
                "file_name": item.path.name,
            }
        )
        for box, cls in zip(item.boxes.tolist(), item.classes.tolist(), strict=True):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [box[0], box[1], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(COCO_CLASSES)]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_results(image_id: int, det: Detections) -> list[dict[str, Any]]:
    xywh = np.concatenate([det.xyxy[:, :2], det.xyxy[:, 2:] - det.xyxy[:, :2]], axis=1)
    return [
        {
            "image_id": image_id,
            "category_id": int(c) + 1,
            "bbox": [float(v) for v in b],
            "score": float(s),
        }
        for b, s, c in zip(xywh, det.confidence, det.class_id, strict=True)
    ]


def _ap50(precision: np.ndarray[Any, Any], classes: tuple[int, ...]) -> float:
    """AP at IoU 0.5 per class (area all, 100 dets), averaged over classes with ground truth."""
    aps = []
    for k in classes:
        p = precision[0, :, k, 0, 2]
        if (p > -1).any():
            aps.append(float(p[p > -1].mean()))
    return round(statistics.fmean(aps), 4) if aps else float("nan")


def coco_map(gt: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, float]:
    """mAP50-95, mAP50, person AP50 and vehicle AP50 (mean over vehicle classes present)."""
    # pycocotools ships no type information.
    from pycocotools.coco import COCO  # type: ignore[import-untyped]
    from pycocotools.cocoeval import COCOeval  # type: ignore[import-untyped]

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if not results:
            return {"map50": 0.0, "map50_95": 0.0, "person_ap50": 0.0, "vehicle_ap50": 0.0}
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [T iou, R recall, K class, A area, M maxDets]
    return {
        "map50": round(float(ev.stats[1]), 4),
        "map50_95": round(float(ev.stats[0]), 4),
        "person_ap50": _ap50(precision, (PERSON,)),
        "vehicle_ap50": _ap50(precision, VEHICLES),
    }


def evaluate(detector: Detector, dataset: list[LabelledImage]) -> tuple[dict[str, float], float]:
    """Run `detector` on every image; return the COCO figures and mean ms per image."""
    results: list[dict[str, Any]] = []
    times = []
    for image_id, item in enumerate(dataset, start=1):
        frame = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if frame is None:
            raise EvalError(f"cannot read image {item.path}")
        start = time.perf_counter()
        det = detector.detect(frame.astype(np.uint8, copy=False))
        times.append((time.perf_counter() - start) * 1000)
        results.extend(coco_results(image_id, det))
    return coco_map(coco_ground_truth(dataset), results), round(statistics.fmean(times), 2)


def evaluate_detector(
    images: Path,
    labels: Path,
    *,
    backend: str,
    label_format: str = "yolo",
    limit: int | None = None,
    model: Path | None = None,
    threads: int = 1,
    score_threshold: float = 0.05,
    max_detections: int = 1000,
) -> dict[str, Any]:
    """The `citysentinel eval detection` figures for one backend.

    Example:
        >>> evaluate_detector(Path("images"), Path("labels"), backend="nanodet")  # doctest: +SKIP
        {'backend': 'nanodet', 'images': 128, 'map50': 0.49, 'map50_95': 0.34, ...}
    """
    # COCOeval caps detections per image *and class*; a per-image cap of 100 (the runtime
    # default) costs NanoDet about 0.01 mAP50-95, so evaluation keeps up to 1000.
    overrides: dict[str, Any] = {
        "threads": threads,
        "score_threshold": score_threshold,
        "max_detections": max_detections,
    }
    if model is not None:
        overrides["model"] = model
    try:
        config = default_config(backend, **overrides)
    except ValueError as exc:  # unknown backend or invalid settings (pydantic errors too)
        raise EvalError(str(exc)) from exc
    dataset = load_dataset(images, labels, label_format, limit)
    detector = build_detector(config)
    figures, ms = evaluate(detector, dataset)
    return {"backend": backend, "images": len(dataset), **figures, "ms_per_image": ms}
