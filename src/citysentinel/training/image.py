"""`train image`: fine-tune EfficientNet-Lite0 on a folder-per-class set and export it to ONNX."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from citysentinel.eval.image import ImageSet, classification_report, load_image, macro_f1
from citysentinel.training.backbone import build_backbone
from citysentinel.training.data import Augment, Image, class_weights, stratified_split
from citysentinel.training.early import BestEpoch
from citysentinel.training.export import write_outputs
from citysentinel.vision.classifier import Preprocess


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of `train image` (all recorded in the model card).

    Example:
        >>> TrainConfig(epochs=1, image_size=96).warmup_epochs
        1.0
    """

    epochs: int = 8
    batch_size: int = 16
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    patience: int = 3
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    threads: int = 1
    image_size: int = 224
    pretrained: bool = True


class Progress:
    """A one-line progress bar on stderr (no tqdm dependency); silent when disabled."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label, self.enabled, self.done = total, label, enabled, 0
        self.started = time.perf_counter()

    def step(self, info: str = "") -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 24
        filled = width * self.done // max(1, self.total)
        secs = time.perf_counter() - self.started
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {secs:.0f}s {info}")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def shrink(image: Image, image_size: int) -> Image:
    """Downscale so the short side is at most 1.5 x `image_size` (keeps memory small)."""
    h, w = image.shape[:2]
    scale = 1.5 * image_size / min(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)


def lr_lambda(warmup_steps: int, total_steps: int) -> Any:
    """Linear warmup from ~0 to 1, then cosine decay to 0 (a LambdaLR factor).

    Example:
        >>> f = lr_lambda(10, 100)
        >>> round(f(0), 2), f(9), round(f(54), 4), f(99)
        (0.1, 1.0, 0.5, 0.0)
    """

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps + 1) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def predict(
    model: nn.Module, images: list[Image], pre: Preprocess, batch_size: int
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Logits of the model in eval mode over BGR images."""
    model.eval()
    out: list[np.ndarray[Any, np.dtype[np.float32]]] = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(pre.batch(images[start : start + batch_size]))
            out.append(model(batch).numpy().astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _epoch(
    model: nn.Module,
    images: list[Image],
    targets: list[int],
    parts: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, nn.Module],
    context: tuple[Augment, Preprocess, TrainConfig, np.random.Generator, Progress],
) -> float:
    optimizer, scheduler, loss_fn = parts
    augment, pre, config, rng, progress = context
    model.train()
    order = rng.permutation(len(images))
    losses: list[float] = []
    for start in range(0, len(order), config.batch_size):
        rows = order[start : start + config.batch_size]
        if len(rows) < 2:  # BatchNorm cannot train on a single image
            continue
        x = torch.from_numpy(pre.batch([augment(images[i], rng) for i in rows]))
        y = torch.tensor([targets[i] for i in rows], dtype=torch.long)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.item()))
        progress.step(f"loss {np.mean(losses):.3f}")
    return float(np.mean(losses)) if losses else float("nan")


def fit(
    images: ImageSet, cached: list[Image], split: Any, config: TrainConfig, progress: bool
) -> tuple[nn.Module, list[dict[str, float]]]:
    """AdamW, warmup + cosine, class-weighted loss; keeps the weights of the best val macro-F1."""
    n = len(images.classes)
    model = build_backbone(n, config.image_size, pretrained=config.pretrained)
    train_x = [cached[i] for i in split.train]
    train_y = [images.targets[i] for i in split.train]
    val_x = [cached[i] for i in split.val]
    val_y = [images.targets[i] for i in split.val]
    steps = max(1, math.ceil(len(train_x) / config.batch_size))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    warmup = max(1, round(config.warmup_epochs * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(warmup, steps * config.epochs)
    )
    loss_fn = nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights(train_y, n)))
    pre = Preprocess(config.image_size)
    augment, rng = Augment(config.image_size), np.random.default_rng(config.seed)
    keeper = BestEpoch(model, config.patience)
    history: list[dict[str, float]] = []
    for epoch in range(1, config.epochs + 1):
        bar = Progress(steps, f"epoch {epoch}/{config.epochs}", progress)
        loss = _epoch(
            model,
            train_x,
            train_y,
            (optimizer, scheduler, loss_fn),
            (augment, pre, config, rng, bar),
        )
        val_pred = predict(model, val_x, pre, config.batch_size).argmax(axis=1).tolist()
        f1 = macro_f1(val_y, val_pred, n)
        history.append({"epoch": epoch, "train_loss": round(loss, 4), "val_macro_f1": f1})
        if progress:
            sys.stderr.write(f"epoch {epoch}: train loss {loss:.4f}, val macro-F1 {f1:.4f}\n")
        if keeper.record(f1):
            break  # early stopping on validation macro-F1
    keeper.restore()
    return model, history


def train_image(
    data: Path, out: Path, config: TrainConfig | None = None, *, progress: bool = True
) -> dict[str, Any]:
    """Fine-tune on `data/<class>/*.jpg`, write the model folder `out`, return the card.

    Example:
        >>> # card = train_image(Path("data/crops"), Path("var/models/crops"))
        >>> # card["test"]["int8"]["macro_f1"]
    """
    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    images = ImageSet.scan(data)
    split = stratified_split(
        images.targets, images.classes, config.val_fraction, config.test_fraction, config.seed
    )
    cached = [shrink(load_image(p), config.image_size) for p in images.paths]
    started = time.perf_counter()
    model, history = fit(images, cached, split, config, progress)
    train_s = time.perf_counter() - started
    pre = Preprocess(config.image_size)
    test_x = [cached[i] for i in split.test]
    test_y = [images.targets[i] for i in split.test]
    torch_logits = predict(model, test_x, pre, config.batch_size)
    torch_report = classification_report(
        test_y, torch_logits.argmax(axis=1).tolist(), images.classes
    )
    card: dict[str, Any] = {
        "task": "image classification (folder per class)",
        "data": {
            "folder": str(data),
            "classes": images.counts(),
            "skipped_unreadable": len(images.skipped),
            "split": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        },
        "hyperparameters": asdict(config),
        "history": history,
        "train_seconds": round(train_s, 1),
        "test_torch": torch_report,
    }
    return write_outputs(model, out, images.classes, pre, (test_x, test_y), card)
