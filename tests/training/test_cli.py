"""The `train image` and `eval image` commands: clear errors, JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from citysentinel.cli import app

runner = CliRunner()


def write_class(root: Path, name: str, n: int) -> None:
    (root / name).mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(root / name / f"{i}.png"), np.full((20, 20, 3), i * 10, np.uint8))


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"fire": 4}, "at least two class folders"),
        ({"fire": 4, "smoke": 0}, "no readable images"),
        ({"fire": 4, "smoke": 2}, "'smoke' has 2 images"),
    ],
)
def test_train_image_errors(tmp_path: Path, counts: dict[str, int], message: str) -> None:
    pytest.importorskip("torch", reason="train image needs the train extra")
    for name, n in counts.items():
        write_class(tmp_path / "data", name, n)
    result = runner.invoke(
        app, ["train", "image", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 1
    assert message in result.output


def test_eval_image_json(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="building a test graph needs the onnx package")
    h = onnx.helper
    x = h.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", 3, 16, 16])
    y = h.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 3])
    axes = h.make_tensor("axes", onnx.TensorProto.INT64, [2], [2, 3])
    node = h.make_node("ReduceMean", ["input", "axes"], ["logits"], keepdims=0)
    model = h.make_model(
        h.make_graph([node], "mean", [x], [y], initializer=[axes]),
        opset_imports=[h.make_opsetid("", 18)],
    )
    model.ir_version = 8
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    onnx.save(model, str(model_dir / "model.onnx"))
    (model_dir / "labels.json").write_text(
        json.dumps({"labels": ["red", "green", "blue"], "image_size": 16})
    )
    data = tmp_path / "data"
    for name, bgr in {"red": (0, 0, 255), "blue": (255, 0, 0)}.items():
        (data / name).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(data / name / f"{i}.png"), np.full((12, 12, 3), bgr, np.uint8))
    (data / "red" / "bad.jpg").write_bytes(b"not an image")
    result = runner.invoke(
        app, ["eval", "image", "--model", str(model_dir), "--data", str(data), "--fp32", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["model"] == "model/model.onnx"
    assert (out["images"], out["skipped"], out["accuracy"], out["macro_f1"]) == (6, 1, 1.0, 1.0)
    assert out["per_class"]["green"]["support"] == 0
    (data / "smoke").mkdir()
    bad = runner.invoke(app, ["eval", "image", "--model", str(model_dir), "--data", str(data)])
    assert bad.exit_code == 1 and "smoke" in bad.output
