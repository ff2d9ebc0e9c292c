"""Training data: stratified split, numpy/OpenCV augmentation and class weights."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from citysentinel.eval.image import DatasetError, Image, ImageSet, load_image

MIN_PER_CLASS = 3  # one each for train, validation and test
__all__ = ["DatasetError", "Image", "ImageSet", "load_image"]


@dataclass(frozen=True)
class Split:
    """Indices into an ImageSet for training, validation (early stopping) and the held-out test."""

    train: list[int]
    val: list[int]
    test: list[int]


def stratified_split(
    targets: list[int], classes: list[str], val_fraction: float, test_fraction: float, seed: int
) -> Split:
    """Per-class shuffled split with at least one image of each class in val and test.

    Example:
        >>> s = stratified_split([0] * 10 + [1] * 10, ["a", "b"], 0.2, 0.2, seed=0)
        >>> len(s.train), len(s.val), len(s.test)
        (12, 4, 4)
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(targets)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for index, name in enumerate(classes):
        rows = np.flatnonzero(y == index)
        if rows.size < MIN_PER_CLASS:
            raise DatasetError(
                f"class {name!r} has {rows.size} images; a stratified train/val/test split "
                f"needs at least {MIN_PER_CLASS}"
            )
        rng.shuffle(rows)
        n_val = max(1, round(rows.size * val_fraction))
        n_test = max(1, round(rows.size * test_fraction))
        n_val = min(n_val, rows.size - 2)
        n_test = min(n_test, rows.size - n_val - 1)
        val.extend(rows[:n_val].tolist())
        test.extend(rows[n_val : n_val + n_test].tolist())
        train.extend(rows[n_val + n_test :].tolist())
    return Split(sorted(train), sorted(val), sorted(test))


@dataclass(frozen=True)
class Augment:
    """Training augmentation in numpy/OpenCV: random resized crop, horizontal flip, colour jitter.

    Example:
        >>> a = Augment(32)
        >>> a(np.full((50, 80, 3), 128, np.uint8), np.random.default_rng(0)).shape
        (32, 32, 3)
    """

    image_size: int
    scale: tuple[float, float] = (0.35, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3

    def __call__(self, image: Image, rng: np.random.Generator) -> Image:
        out = self.crop(image, rng)
        if rng.random() < 0.5:
            out = out[:, ::-1]
        return self.jitter(np.ascontiguousarray(out), rng)

    def crop(self, image: Image, rng: np.random.Generator) -> Image:
        h, w = image.shape[:2]
        for _ in range(10):
            area = h * w * rng.uniform(*self.scale)
            aspect = float(np.exp(rng.uniform(np.log(self.ratio[0]), np.log(self.ratio[1]))))
            cw, ch = round(np.sqrt(area * aspect)), round(np.sqrt(area / aspect))
            if 0 < cw <= w and 0 < ch <= h:
                x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
                image = image[y : y + ch, x : x + cw]
                break
        size = (self.image_size, self.image_size)
        return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)

    def jitter(self, image: Image, rng: np.random.Generator) -> Image:
        f = image.astype(np.float32)
        f *= 1 + rng.uniform(-self.brightness, self.brightness)
        mean = f.mean()
        f = (f - mean) * (1 + rng.uniform(-self.contrast, self.contrast)) + mean
        grey = f.mean(axis=2, keepdims=True)
        f = (f - grey) * (1 + rng.uniform(-self.saturation, self.saturation)) + grey
        out: Image = np.clip(f, 0, 255).astype(np.uint8)
        return out


def class_weights(targets: list[int], n_classes: int) -> npt.NDArray[np.float32]:
    """Inverse-frequency weights normalised to mean 1 (balanced loss for imbalanced sets).

    Example:
        >>> class_weights([0, 0, 0, 1], 2).round(2).tolist()
        [0.5, 1.5]
    """
    counts = np.bincount(np.asarray(targets), minlength=n_classes).astype(np.float32)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    out: npt.NDArray[np.float32] = (weights / weights[weights > 0].mean()).astype(np.float32)
    return out
