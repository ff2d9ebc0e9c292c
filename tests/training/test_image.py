"""`train image` end to end on a tiny real COCO-crop set; ONNX export parity and int8 agreement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch", reason="training needs the train extra (torch==2.13.0)")
pytest.importorskip("efficientnet_lite_pytorch", reason="train extra: efficientnet_lite_pytorch")
pytest.importorskip("onnx", reason="training needs the train extra (onnx)")

import torch

from citysentinel.eval.image import DatasetError, evaluate_image_classifier, load_image
from citysentinel.training.backbone import build_backbone, weights_path
from citysentinel.training.datasets import coco_crops
from citysentinel.training.export import export_onnx
from citysentinel.training.image import TrainConfig, train_image
from citysentinel.vision.classifier import OnnxImageClassifier, Preprocess

COCO128 = Path(__file__).resolve().parents[3] / "shared/data/vision/coco128_train2017"
SIZE = 96


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (COCO128 / "labels").is_dir():
        pytest.skip(f"COCO128 data not found at {COCO128}")
    out = tmp_path_factory.mktemp("crops")
    coco_crops(COCO128 / "images", COCO128 / "labels", out, 48, max_per_class=8)
    return out


@pytest.fixture(scope="module")
def trained(crops: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("model")
    config = TrainConfig(
        epochs=1, batch_size=8, image_size=SIZE, val_fraction=0.25, test_fraction=0.25
    )
    return out, train_image(crops, out, config, progress=False)


def test_train_writes_model_folder_and_card(trained: tuple[Path, dict[str, Any]]) -> None:
    out, card = trained
    for name in ("model.onnx", "model.int8.onnx", "labels.json", "card.json", "card.md"):
        assert (out / name).is_file(), name
    labels = json.loads((out / "labels.json").read_text())
    assert labels["labels"] == ["animal", "person", "vehicle"] and labels["image_size"] == SIZE
    assert card["data"]["split"] == {"train": 12, "val": 6, "test": 6}
    assert set(card["test"]["int8"]["per_class"]) == {"animal", "person", "vehicle"}
    assert np.asarray(card["test"]["fp32"]["confusion"]).sum() == 6
    assert card["versions"]["torch"].startswith("2.13.0")
    assert "Confusion matrix" in (out / "card.md").read_text()


def test_eval_image_through_runtime_classifier(
    trained: tuple[Path, dict[str, Any]], crops: Path
) -> None:
    out, _ = trained
    result = evaluate_image_classifier(out, crops)
    assert result["model"].endswith("model.int8.onnx") and result["images"] == 24
    assert 0 <= result["accuracy"] <= 1 and set(result["per_class"]) == {
        "animal",
        "person",
        "vehicle",
    }


def test_too_few_images_per_class(tmp_path: Path, crops: Path) -> None:
    for name in ("person", "vehicle"):
        (tmp_path / name).mkdir()
        for p in sorted((crops / name).glob("*.jpg"))[:2]:
            (tmp_path / name / p.name).write_bytes(p.read_bytes())
    with pytest.raises(DatasetError, match="needs at least 3"):
        train_image(tmp_path, tmp_path / "out", TrainConfig(epochs=1, image_size=SIZE))


def test_onnx_export_matches_torch(crops: Path, tmp_path: Path) -> None:
    # The pretrained ImageNet head gives real, spread-out logits to compare.
    model = build_backbone(1000, SIZE).eval()
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict({k: v for k, v in state.items() if k.startswith("_fc.")}, strict=False)
    export_onnx(model, tmp_path / "model.onnx", SIZE)
    labels = {"labels": [str(i) for i in range(1000)], "image_size": SIZE}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    pre = Preprocess(SIZE)
    images = [load_image(p) for p in sorted(crops.glob("*/*.jpg"))]
    with torch.no_grad():
        expected = model(torch.from_numpy(pre.batch(images[:5]))).numpy()
    fp32 = OnnxImageClassifier(tmp_path, int8=False)
    got = fp32._session.run(None, {"input": pre.batch(images[:5])})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
    # onnxruntime's own dynamic-batch path agrees with the batch of one.
    one = fp32.probabilities(images[:1])
    np.testing.assert_allclose(one, fp32.probabilities(images[:5])[:1], atol=1e-5)


def test_int8_keeps_the_fine_tuned_argmax(
    trained: tuple[Path, dict[str, Any]], crops: Path
) -> None:
    out, card = trained
    images = [load_image(p) for p in sorted(crops.glob("*/*.jpg"))]
    fp32 = OnnxImageClassifier(out, int8=False).probabilities(images).argmax(axis=1)
    int8 = OnnxImageClassifier(out).probabilities(images).argmax(axis=1)
    assert float(np.mean(fp32 == int8)) >= 0.6
    assert card["test"]["int8"]["file_mb"] < card["test"]["fp32"]["file_mb"] / 3
