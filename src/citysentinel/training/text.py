"""Fine-tune all-MiniLM-L6-v2 end to end for text classification; export int8 ONNX for serving.

Split by group (no event on both sides), AdamW with linear warmup and linear
decay, class-weighted loss, early stopping on validation macro-F1. The best
epoch's weights are exported to ONNX, quantized to int8 and scored again
through the torch-free runtime (`citysentinel.text.onnx_model`), which is
what serving uses. Unlike the linear heads there is no refit on all rows: the
validation groups stay unseen so the card's figures mean something.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from citysentinel.text.card import render_markdown
from citysentinel.text.classify import TextClassifier
from citysentinel.text.encoders.minilm import (
    export_onnx,
    load_bert,
    mean_pool,
    quantize_int8,
    tokenizer_json,
)
from citysentinel.text.metrics import score
from citysentinel.text.onnx_model import (
    META_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    load_onnx_classifier,
    make_tokenizer,
)
from citysentinel.text.split import group_split
from citysentinel.training.early import BestEpoch
from citysentinel.training.image import Progress


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings; the defaults suit tweets and short reports on a 2-core CPU."""

    epochs: int = 4
    batch_size: int = 16
    lr: float = 5e-5
    warmup_fraction: float = 0.1  # of all steps, linear from 0 to lr
    weight_decay: float = 0.01
    patience: int = 2  # epochs without better validation macro-F1
    max_length: int = 128
    val_fraction: float = 0.2
    multi_label: bool = False
    seed: int = 0
    threads: int = 1


class MiniLMClassifier(nn.Module):
    """MiniLM, mean pooling over real tokens, dropout, one linear layer to the labels."""

    def __init__(self, n_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.bert = load_bert()
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(int(self.bert.config.hidden_size), n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        out: torch.Tensor = self.head(self.drop(mean_pool(hidden, attention_mask)))
        return out


def linear_warmup(warmup: int, total: int) -> Any:
    """LambdaLR factor: linear from ~0 to 1 over `warmup` steps, then linear down to 0."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


class _Batches:
    """Token ids padded per batch with the same tokenizer the ONNX runtime uses."""

    def __init__(self, texts: Sequence[str], max_length: int) -> None:
        tok = make_tokenizer(tokenizer_json(), max_length)
        self.ids = [e.ids for e in tok.encode_batch(list(texts))]

    def tensors(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(self.ids[i]) for i in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            n = len(self.ids[i])
            ids[r, :n] = torch.tensor(self.ids[i])
            mask[r, :n] = 1
        return ids, mask


def _loss(
    y: npt.NDArray[np.float32], multi_label: bool
) -> nn.CrossEntropyLoss | nn.BCEWithLogitsLoss:
    """Class-weighted loss: balanced class weights, or positive weights for multi-label."""
    if multi_label:
        pos = y.sum(axis=0)
        weight = np.clip((len(y) - pos) / np.maximum(pos, 1.0), 1.0, 30.0)
        return nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(weight.astype(np.float32)))
    counts = np.bincount(y.astype(np.int64), minlength=int(y.max()) + 1).astype(np.float64)
    weight = len(y) / (len(counts) * np.maximum(counts, 1.0))
    return nn.CrossEntropyLoss(weight=torch.from_numpy(weight.astype(np.float32)))


def _logits(model: nn.Module, batches: _Batches, rows: Any, size: int) -> Any:
    model.eval()
    order = sorted(rows, key=lambda i: len(batches.ids[i]))  # less padding
    out: dict[int, npt.NDArray[np.float32]] = {}
    with torch.no_grad():
        for start in range(0, len(order), size * 2):
            chunk = order[start : start + size * 2]
            logits = model(*batches.tensors(chunk)).numpy()
            out.update(zip(chunk, logits, strict=True))
    return np.stack([out[i] for i in rows])


def _decide(logits: Any, names: list[str], multi_label: bool) -> list[tuple[str, ...]]:
    if multi_label:
        return [tuple(names[j] for j in np.flatnonzero(row > 0.0)) for row in logits]
    return [(names[int(j)],) for j in logits.argmax(axis=1)]


def _targets(labels: Sequence[tuple[str, ...]], names: list[str], multi: bool) -> Any:
    index = {n: j for j, n in enumerate(names)}
    if not multi:
        return np.array([index[ls[0]] for ls in labels], dtype=np.float32)
    y = np.zeros((len(labels), len(names)), dtype=np.float32)
    for i, ls in enumerate(labels):
        y[i, [index[x] for x in ls]] = 1.0
    return y


def _fit(
    model: MiniLMClassifier,
    data: tuple[_Batches, Any, Sequence[tuple[str, ...]], list[str]],
    split: tuple[Any, Any],
    config: FinetuneConfig,
    progress: bool,
) -> list[dict[str, float]]:
    """AdamW + linear warmup/decay; keeps the weights of the best validation macro-F1."""
    batches, y, labels, names = data
    train, val = split
    rng = np.random.default_rng(config.seed)
    steps = max(1, math.ceil(len(train) / config.batch_size))
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "LayerNorm" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "LayerNorm" not in n)]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": rest, "weight_decay": 0},
        ],
        lr=config.lr,
    )
    total = steps * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_warmup(max(1, round(config.warmup_fraction * total)), total)
    )
    loss_fn = _loss(y[train], config.multi_label)
    target = torch.from_numpy(y) if config.multi_label else torch.from_numpy(y).long()
    keeper = BestEpoch(model, config.patience)
    history: list[dict[str, float]] = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        bar = Progress(steps, f"epoch {epoch}/{config.epochs}", progress)
        losses: list[float] = []
        order = rng.permutation(train)
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size].tolist()
            loss = loss_fn(model(*batches.tensors(rows)), target[rows])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            bar.step(f"loss {np.mean(losses[-50:]):.3f}")
        pred = _decide(_logits(model, batches, val, config.batch_size), names, config.multi_label)
        f1 = score([labels[i] for i in val], pred, names, config.multi_label)["macro_f1"]
        history.append(
            {"epoch": epoch, "train_loss": round(float(np.mean(losses)), 4), "val_macro_f1": f1}
        )
        if progress:
            sys.stderr.write(
                f"epoch {epoch}: train loss {np.mean(losses):.4f}, val macro-F1 {f1}\n"
            )
        if keeper.record(f1):
            break  # early stopping on validation macro-F1
    keeper.restore()
    return history


def finetune_text(
    texts: Sequence[str],
    labels: Sequence[tuple[str, ...]],
    groups: Sequence[str | None],
    out: Path,
    config: FinetuneConfig | None = None,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune, export int8 ONNX and write the model directory; returns the card.

    Example:
        >>> card = finetune_text(texts, labels, groups, Path("models/t26-minilm"))  # doctest: +SKIP
        >>> card["validation"]["macro_f1"], card["validation_int8_agreement"]  # doctest: +SKIP
        (0.52, 0.99)
    """
    config = config or FinetuneConfig()
    if not (len(texts) == len(labels) == len(groups)):
        raise ValueError("texts, labels and groups must have the same length")
    names = sorted({x for ls in labels for x in ls})
    if len(names) < 2 and not config.multi_label:
        raise ValueError(f"need at least two labels to train, got {names}")
    if not config.multi_label and any(not ls for ls in labels):
        raise ValueError("every row needs a label (use --multi-label for label sets)")
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    started = time.perf_counter()
    primary = [ls[0] if ls else "" for ls in labels]
    train, val = group_split(primary, groups, val_fraction=config.val_fraction, seed=config.seed)
    batches = _Batches(texts, config.max_length)
    model = MiniLMClassifier(len(names))
    y = _targets(labels, names, config.multi_label)
    history = _fit(model, (batches, y, labels, names), (train, val), config, progress)
    truth = [labels[i] for i in val]
    torch_pred = _decide(_logits(model, batches, val, config.batch_size), names, config.multi_label)
    validation = score(
        truth, torch_pred, names, config.multi_label, confusion=not config.multi_label
    )
    clf = _export(model, out, names, config)
    int8_pred = clf.predict([texts[i] for i in val])
    card: dict[str, Any] = {
        "classifier": "all-MiniLM-L6-v2 fine-tuned end to end + linear head (int8 ONNX)",
        "encoder": {"type": "minilm", "finetuned": True, "max_length": config.max_length},
        "multi_label": config.multi_label,
        "labels": names,
        "training": {**asdict(config), "history": history, "seconds": 0.0},
        "split": _split(groups, train, val),
        "validation": validation,
        "validation_int8": score(truth, int8_pred, names, config.multi_label),
        "validation_int8_agreement": round(
            float(np.mean([a == b for a, b in zip(torch_pred, int8_pred, strict=True)])), 4
        ),
        "n_train_total": len(texts),
        "torch": torch.__version__,
    }
    card["training"]["seconds"] = round(time.perf_counter() - started, 1)
    (out / "card.json").write_text(json.dumps(card, ensure_ascii=False, indent=2))
    (out / "card.md").write_text(render_markdown(card), encoding="utf-8")
    return card


def _export(
    model: MiniLMClassifier, out: Path, names: list[str], config: FinetuneConfig
) -> TextClassifier:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(model, fp32, "logits")
        quantize_int8(fp32, out / MODEL_FILE)
    (out / TOKENIZER_FILE).write_text(tokenizer_json(), encoding="utf-8")
    (out / "labels.json").write_text(json.dumps(names, ensure_ascii=False, indent=2))
    meta = {"multi_label": config.multi_label, "max_length": config.max_length, "kind": "onnx"}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    return load_onnx_classifier(out, threads=config.threads)


def _split(groups: Sequence[str | None], train: Any, val: Any) -> dict[str, Any]:
    def named(idx: Any) -> list[str]:
        return sorted({g for g in (groups[i] for i in idx) if g is not None})

    va = named(val)
    return {
        "method": "by group (StratifiedGroupKFold fold / GroupShuffleSplit)",
        "train_n": len(train),
        "val_n": len(val),
        "train_groups": len(named(train)),
        "val_groups": len(va),
        "val_group_names": va if len(va) <= 20 else [*va[:20], "..."],
    }
