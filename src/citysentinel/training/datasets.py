"""Real folder-per-class sets built from detection data (COCO crops: person, vehicle, animal)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from citysentinel.eval.image import DatasetError, load_image
from citysentinel.vision.detections import COCO_CLASSES

GROUPS: dict[str, tuple[str, ...]] = {
    "person": ("person",),
    "vehicle": ("car", "bus", "truck", "motorcycle", "bicycle"),
    "animal": (
        "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
    ),
}  # fmt: skip


def _group_of(class_id: int) -> str | None:
    name = COCO_CLASSES[class_id] if 0 <= class_id < len(COCO_CLASSES) else ""
    return next((g for g, members in GROUPS.items() if name in members), None)


def coco_crops(
    images: Path,
    labels: Path,
    out: Path,
    min_size: int = 48,
    *,
    max_per_class: int | None = None,
    pad: float = 0.1,
) -> dict[str, int]:
    """Crop YOLO-labelled boxes into `out/{person,vehicle,animal}/`; return crops per class.

    Boxes whose shorter side is under `min_size` pixels are skipped; each crop is
    padded by `pad` of its size on every side. `max_per_class` caps each class
    (for tiny test sets), taking boxes in file order.

    Example:
        >>> # coco_crops(Path("coco128/images"), Path("coco128/labels"), Path("var/crops"), 48)
        >>> # {'person': 180, 'vehicle': 80, 'animal': 60}
    """
    if not images.is_dir() or not labels.is_dir():
        raise DatasetError(f"need an images folder and a labels folder: {images}, {labels}")
    counts: Counter[str] = Counter()
    for folder in GROUPS:
        (out / folder).mkdir(parents=True, exist_ok=True)
    for label_file in sorted(labels.glob("*.txt")):
        image_path = next(
            (p for p in (images / f"{label_file.stem}{s}" for s in (".jpg", ".png")) if p.exists()),
            None,
        )
        if image_path is None:
            continue
        try:
            image = load_image(image_path)
        except DatasetError:
            continue
        for i, (group, crop) in enumerate(_crops(image, label_file, min_size, pad)):
            if max_per_class is not None and counts[group] >= max_per_class:
                continue
            cv2.imwrite(str(out / group / f"{label_file.stem}_{i}.jpg"), crop)
            counts[group] += 1
    return {g: counts.get(g, 0) for g in GROUPS}


def _crops(
    image: np.ndarray, label_file: Path, min_size: int, pad: float
) -> list[tuple[str, np.ndarray]]:
    h, w = image.shape[:2]
    found: list[tuple[str, np.ndarray]] = []
    for line in label_file.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        group = _group_of(int(float(parts[0])))
        if group is None:
            continue
        cx, cy, bw, bh = (float(v) for v in parts[1:5])
        if min(bw * w, bh * h) < min_size:
            continue
        x1 = int(max(0, (cx - bw * (0.5 + pad)) * w))
        y1 = int(max(0, (cy - bh * (0.5 + pad)) * h))
        x2 = int(min(w, (cx + bw * (0.5 + pad)) * w))
        y2 = int(min(h, (cy + bh * (0.5 + pad)) * h))
        found.append((group, image[y1:y2, x1:x2]))
    return found
