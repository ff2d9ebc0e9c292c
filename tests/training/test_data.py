"""Data helpers of `train image`: folder scanning, stratified split, augmentation, weights."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from citysentinel.eval.image import DatasetError, ImageSet, classification_report
from citysentinel.training.data import Augment, class_weights, stratified_split


def write_set(root: Path, counts: dict[str, int], size: int = 24) -> Path:
    for i, (name, n) in enumerate(counts.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j in range(n):
            image = np.full((size, size + 8, 3), (40 * i + j) % 255, np.uint8)
            cv2.imwrite(str(root / name / f"{j}.png"), image)
    return root


def test_scan_counts_and_skips_unreadable(tmp_path: Path) -> None:
    root = write_set(tmp_path, {"fire": 3, "normal": 4})
    (root / "fire" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (root / "normal" / "notes.txt").write_text("ignored")
    images = ImageSet.scan(root)
    assert images.classes == ["fire", "normal"]
    assert images.counts() == {"fire": 3, "normal": 4}
    assert [p.name for p in images.skipped] == ["broken.jpg"]


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"fire": 3}, "at least two class folders"),
        ({"fire": 3, "smoke": 0}, "no readable images"),
    ],
)
def test_scan_rejects(tmp_path: Path, counts: dict[str, int], message: str) -> None:
    write_set(tmp_path, counts)
    with pytest.raises(DatasetError, match=message):
        ImageSet.scan(tmp_path)


def test_scan_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        ImageSet.scan(tmp_path / "nope")


@pytest.mark.parametrize(
    ("targets", "sizes"),
    [
        ([0] * 10 + [1] * 10, (12, 4, 4)),
        ([0] * 3 + [1] * 30, (23, 5, 5)),
        ([0] * 100 + [1] * 20, (84, 18, 18)),
    ],
)
def test_stratified_split(targets: list[int], sizes: tuple[int, int, int]) -> None:
    s = stratified_split(targets, ["a", "b"], 0.15, 0.15, seed=1)
    assert (len(s.train), len(s.val), len(s.test)) == sizes
    assert sorted(s.train + s.val + s.test) == list(range(len(targets)))
    for part in (s.train, s.val, s.test):
        assert {targets[i] for i in part} == {0, 1}  # every class in every part


def test_split_needs_three_per_class() -> None:
    with pytest.raises(DatasetError, match="'b' has 2 images"):
        stratified_split([0, 0, 0, 1, 1], ["a", "b"], 0.2, 0.2, seed=0)


def test_augment_is_seeded_and_sized() -> None:
    image = np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8)
    a = Augment(32)
    first = a(image, np.random.default_rng(3))
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, a(image, np.random.default_rng(3)))


def test_class_weights_balance_the_loss() -> None:
    w = class_weights([0] * 90 + [1] * 10, 2)
    assert w[1] / w[0] == pytest.approx(9.0)
    assert w.mean() == pytest.approx(1.0)


def test_classification_report_confusion_rows_are_truth() -> None:
    r = classification_report([0, 1, 2, 2], [0, 2, 2, 2], ["a", "b", "c"])
    assert r["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 0, 2]]
    assert r["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert r["macro_f1"] == pytest.approx((1 + 0 + 0.8) / 3, abs=1e-4)
