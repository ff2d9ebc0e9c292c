"""Image classifier evaluation: accuracy, macro-F1, per-class report and confusion matrix."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from citysentinel.vision.classifier import ClassifierError, OnnxImageClassifier

Image = npt.NDArray[np.uint8]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


class ImageEvalError(ValueError):
    """A model or data folder that cannot be evaluated, with the reason."""


class DatasetError(ValueError):
    """A data folder that cannot be trained or evaluated on, with the reason."""


@dataclass
class ImageSet:
    """Readable images of a folder-per-class set: paths, class index per path, class names.

    Example:
        >>> # s = ImageSet.scan(Path("data/crops")); s.classes, len(s.paths), s.skipped
    """

    classes: list[str]
    paths: list[Path]
    targets: list[int]
    skipped: list[Path] = field(default_factory=list)

    @classmethod
    def scan(cls, root: Path, classes: list[str] | None = None) -> ImageSet:
        """Every readable image under `root/<class>/`; unreadable files are counted in `skipped`.

        `classes` fixes the class order (as a trained model's labels); by default
        the sub-folders in name order. Raises DatasetError on a missing folder,
        an empty class folder or fewer than two classes.
        """
        if not root.is_dir():
            raise DatasetError(f"{root} is not a folder")
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        names = classes if classes is not None else found
        if classes is None and len(names) < 2:
            raise DatasetError(
                f"{root}: need at least two class folders, found {len(names)} ({names})"
            )
        out = cls(list(names), [], [])
        for index, name in enumerate(names):
            folder = root / name
            files = (
                sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
                if folder.is_dir()
                else []
            )
            readable = [p for p in files if _readable(p)]
            out.skipped.extend(sorted(set(files) - set(readable)))
            if classes is None and not readable:
                raise DatasetError(f"{folder}: no readable images (jpg, png, bmp, webp)")
            out.paths.extend(readable)
            out.targets.extend([index] * len(readable))
        if not out.paths:
            raise DatasetError(f"{root}: no readable images in {names}")
        return out

    def counts(self) -> dict[str, int]:
        c = Counter(self.targets)
        return {name: c.get(i, 0) for i, name in enumerate(self.classes)}


def _readable(path: Path) -> bool:
    """Decodes fully (a truncated JPEG that OpenCV cannot decode returns None)."""
    try:
        return load_image(path) is not None
    except DatasetError:
        return False


def load_image(path: Path) -> Image:
    """A BGR uint8 image; DatasetError when it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None or image.size == 0:
        raise DatasetError(f"cannot decode {path}")
    return np.asarray(image, dtype=np.uint8)


def classification_report(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    The matrix is rows = true class, columns = predicted class, in `labels` order.
    Macro-F1 averages over classes that have support or predictions.

    Example:
        >>> r = classification_report([0, 0, 1, 1], [0, 1, 1, 1], ["a", "b"])
        >>> r["accuracy"], r["per_class"]["b"]["precision"], r["confusion"]
        (0.75, 0.6667, [[1, 1], [0, 2]])
    """
    n = len(labels)
    cm = np.zeros((n, n), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[t, p] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    f1s: list[float] = []
    for i, name in enumerate(labels):
        tp = int(cm[i, i])
        predicted, support = int(cm[:, i].sum()), int(cm[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if support or predicted:
            f1s.append(f1)
        per_class[name] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
    total = int(cm.sum())
    return {
        "accuracy": round(float(np.trace(cm)) / total, 4) if total else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "per_class": per_class,
        "confusion": cm.tolist(),
    }


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> float:
    """Macro-F1 alone (early stopping).

    Example:
        >>> macro_f1([0, 1], [0, 1], 2)
        1.0
    """
    report = classification_report(y_true, y_pred, [str(i) for i in range(n_classes)])
    return float(report["macro_f1"])


def evaluate_image_classifier(
    model_dir: Path, data_dir: Path, *, fp32: bool = False, threads: int = 1, batch_size: int = 16
) -> dict[str, Any]:
    """Run the run-time ONNX classifier over a folder-per-class set and score it.

    Class folders must be named like the model's labels; folders the model does
    not know are an error, labels without a folder are simply absent.

    Example:
        >>> # evaluate_image_classifier(Path("var/models/coco-crops"), Path("data/crops"))
        >>> # {'model': 'coco-crops/model.int8.onnx', 'images': 120, 'accuracy': 0.9, ...}
    """
    try:
        classifier = OnnxImageClassifier(model_dir, threads=threads, int8=not fp32)
    except ClassifierError as exc:
        raise ImageEvalError(str(exc)) from exc
    if not data_dir.is_dir():
        raise ImageEvalError(f"{data_dir} is not a folder")
    unknown = sorted(
        p.name for p in data_dir.iterdir() if p.is_dir() and p.name not in classifier.labels
    )
    if unknown:
        raise ImageEvalError(f"folders not among the model's labels {classifier.labels}: {unknown}")
    try:
        images = ImageSet.scan(data_dir, classes=classifier.labels)
    except DatasetError as exc:
        raise ImageEvalError(str(exc)) from exc
    predicted: list[int] = []
    elapsed = 0.0
    for start in range(0, len(images.paths), batch_size):
        batch = [load_image(p) for p in images.paths[start : start + batch_size]]
        t0 = time.perf_counter()
        probs = classifier.probabilities(batch)
        elapsed += time.perf_counter() - t0
        predicted.extend(probs.argmax(axis=1).tolist())
    report = classification_report(images.targets, predicted, classifier.labels)
    return {
        "model": classifier.name,
        "images": len(images.paths),
        "skipped": len(images.skipped),
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "per_class": report["per_class"],
        "confusion": report["confusion"],
        "ms_per_image": round(1000 * elapsed / max(1, len(images.paths)), 2),
    }
