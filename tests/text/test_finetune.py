"""MiniLM fine-tuning: split by group, early stopping, int8 ONNX out, served without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="fine-tuning needs the train extra (torch)")

from torch import nn

from citysentinel.eval.text import evaluate_model
from citysentinel.text.classify import TextClassifier
from citysentinel.text.tables import Labelled
from citysentinel.training.text import (
    FinetuneConfig,
    _loss,
    finetune_text,
    linear_warmup,
)

FIRE = ["big fire downtown", "smoke and flames at the market", "the warehouse is burning"]
FLOOD = ["the street is flooded", "water rising in the park", "the river burst its banks"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    texts = (FIRE + FLOOD) * 4
    labels = [("fire",) if t in FIRE else ("flood",) for t in texts]
    groups = [f"event{i % 4}" for i in range(len(texts))]
    out = tmp_path_factory.mktemp("ft") / "hazard-minilm"
    config = FinetuneConfig(epochs=2, batch_size=8, lr=1e-4, max_length=24, patience=1)
    card = finetune_text(texts, labels, groups, out, config, progress=False)
    return out, card


def test_finetuned_model_is_exported_with_a_card(tuned: tuple[Path, dict[str, object]]) -> None:
    out, card = tuned
    names = {p.name for p in out.iterdir()}
    assert {"model.onnx", "tokenizer.json", "labels.json", "onnx_text.json", "card.json"} <= names
    assert json.loads((out / "labels.json").read_text()) == ["fire", "flood"]
    split = card["split"]
    assert isinstance(split, dict) and split["val_groups"] >= 1 and split["train_groups"] >= 1
    history = card["training"]["history"]  # type: ignore[index]
    assert 1 <= len(history) <= 2
    assert "Confusion matrix" in (out / "card.md").read_text()
    assert 0.0 <= float(card["validation_int8_agreement"]) <= 1.0  # type: ignore[arg-type]


def test_finetuned_model_loads_predicts_and_evaluates(
    tuned: tuple[Path, dict[str, object]],
) -> None:
    out, _ = tuned
    clf = TextClassifier.load(out)
    proba = clf.scores(["fire at the market", "flood in the park", "x"])
    assert proba.shape == (3, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert len(clf.predict(["fire"])) == 1 and clf.predict([]) == []
    labels: list[tuple[str, ...]] = [
        ("fire",),
        ("fire",),
        ("fire",),
        ("flood",),
        ("flood",),
        ("flood",),
    ]
    data = Labelled(FIRE + FLOOD, labels, [None] * 6)
    result = evaluate_model(out, data)
    assert set(result) >= {"n", "accuracy", "macro_f1", "micro_f1", "per_class"}
    assert result["n"] == 6


def test_serving_a_finetuned_model_needs_no_torch(tuned: tuple[Path, dict[str, object]]) -> None:
    out, _ = tuned
    script = textwrap.dedent(
        f"""
        import sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError("torch is blocked in this test")

        sys.meta_path.insert(0, NoTorch())
        from pathlib import Path
        from citysentinel.text.classify import TextClassifier
        clf = TextClassifier.load(Path({str(out)!r}))
        ok = clf.predict(["big fire downtown"])[0][0] in ("fire", "flood")
        print(ok and "torch" not in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_training_tokens_are_unpadded_like_serving() -> None:
    # tokenizer.json pads to 128; training on padded ids with a full mask once made
    # the exported graph disagree with torch.
    from citysentinel.training.text import _Batches

    batches = _Batches(["fire", "big fire downtown now"], max_length=128)
    assert [len(ids) for ids in batches.ids] == [3, 6]
    ids, mask = batches.tensors([0, 1])
    assert ids.shape == (2, 6) and mask.sum().item() == 9


@pytest.mark.parametrize(
    ("step", "factor"), [(0, 0.25), (3, 1.0), (4, 1.0), (6, 0.5), (8, 0.0), (9, 0.0)]
)
def test_linear_warmup_then_linear_decay(step: int, factor: float) -> None:
    assert linear_warmup(4, 8)(step) == pytest.approx(factor)


def test_rare_classes_weigh_more() -> None:
    single = _loss(np.array([0, 0, 0, 1], dtype=np.float32), multi_label=False)
    assert isinstance(single, nn.CrossEntropyLoss) and single.weight is not None
    weight = single.weight.tolist()
    assert weight[1] > weight[0]
    multi = _loss(np.array([[1, 0], [1, 0], [1, 1], [0, 0]], dtype=np.float32), multi_label=True)
    assert isinstance(multi, nn.BCEWithLogitsLoss) and multi.pos_weight is not None
    pos = multi.pos_weight.tolist()
    assert pos[1] > pos[0] >= 1.0


def test_rows_without_a_label_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every row needs a label"):
        finetune_text(["a", "b", "c"], [("x",), ("y",), ()], ["g1", "g2", "g3"], tmp_path)
