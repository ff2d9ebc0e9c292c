"""Training for STID: masked MAE, Adam, early stopping on validation MAE, a model card."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from citysentinel.eval.traffic import evaluate_forecaster, zeros_as_missing
from citysentinel.traffic.forecasting.base import Split, fill_history, sensor_means, windows
from citysentinel.traffic.forecasting.stid import StidForecaster, build_stid, slot_of
from citysentinel.traffic.series import FloatArray, SensorSeries


@dataclass(frozen=True)
class StidConfig:
    """Hyperparameters of `train traffic --model stid`."""

    dim: int = 32
    layers: int = 3
    dropout: float = 0.1
    epochs: int = 100
    patience: int = 10
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 1


def masked_mae(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over targets that are finite and not zero."""
    mask = torch.isfinite(truth) & (truth != 0)
    return (pred[mask] - truth[mask]).abs().mean()


def train_stid(
    series: SensorSeries,
    out: Path,
    config: StidConfig = StidConfig(),  # frozen, so sharing it is safe
    *,
    adjacency: FloatArray | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train on the first 70% of windows, stop on validation MAE, save, score the test 20%.

    STID learns each node's embedding instead of reading the adjacency, which is
    only checked for shape and recorded in the card.

    Example:
        >>> card = train_stid(read_wide_csv(Path("los_speed.csv")), Path("out"))  # doctest: +SKIP
    """
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    clean = zeros_as_missing(series)
    split = Split.of(series.shape[0])
    train_part = clean.slice(*split.steps(split.train))
    fallback = sensor_means(train_part.values)
    finite = train_part.values[np.isfinite(train_part.values)]
    mean, std = float(finite.mean()), float(finite.std()) or 1.0
    x_all, y_all = windows(clean.values)
    x_all = (np.stack([fill_history(w, fallback) for w in x_all]) - mean) / std
    slots = np.array(
        [slot_of(series.time_at(i + split.n_in - 1), series.step_s) for i in range(len(x_all))]
    )
    hyper = {
        "n_in": split.n_in,
        "n_out": split.n_out,
        "dim": config.dim,
        "layers": config.layers,
        "dropout": config.dropout,
    }
    model = build_stid(series.shape[1], series.step_s, hyper)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    tensors = [torch.as_tensor(a, dtype=torch.float32) for a in (x_all, y_all)]
    slot_t = torch.as_tensor(slots, dtype=torch.long)
    began = time.perf_counter()
    best, best_state, bad, history = np.inf, None, 0, []
    gen = torch.Generator().manual_seed(config.seed)
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.tensor(list(split.train))[torch.randperm(len(split.train), generator=gen)]
        for b in torch.split(order, config.batch_size):
            pred = model(tensors[0][b], slot_t[b]) * std + mean
            loss = masked_mae(pred, tensors[1][b])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        val = _val_mae(model, tensors, slot_t, split.val, mean, std)
        history.append({"epoch": epoch, "val_mae": round(val, 4)})
        if progress:
            sys.stderr.write(f"\repoch {epoch:3d}  val MAE {val:.3f}  best {min(best, val):.3f}")
            sys.stderr.flush()
        if val < best - 1e-4:
            best, bad = val, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= config.patience:
                break
    if progress:
        sys.stderr.write("\n")
    train_seconds = time.perf_counter() - began
    assert best_state is not None
    model.load_state_dict(best_state)
    forecaster = StidForecaster(
        model,
        series.sensors,
        mean=mean,
        std=std,
        fallback=fallback,
        step_s=series.step_s,
        hyper=hyper,
    )
    test = evaluate_forecaster(forecaster, series, fit=False, train_seconds=train_seconds)
    card = {
        "train_seconds": round(train_seconds, 2),
        "config": asdict(config),
        "epochs_run": len(history),
        "best_val_mae": round(best, 4),
        "history": history,
        "test": test["horizons"],
        "data": {
            "steps": series.shape[0],
            "sensors": series.shape[1],
            "split": "chronological 70/10/20 of 12-in/12-out windows",
            "adjacency": None if adjacency is None else list(adjacency.shape),
        },
        "method": "STID (Shao et al., CIKM 2022): node + time-of-day embeddings, residual MLP",
    }
    forecaster.save(out, card)
    return card


def _val_mae(
    model: torch.nn.Module,
    tensors: list[torch.Tensor],
    slots: torch.Tensor,
    idx: range,
    mean: float,
    std: float,
) -> float:
    model.eval()
    b = torch.arange(idx.start, idx.stop)
    with torch.inference_mode():
        pred = model(tensors[0][b], slots[b]) * std + mean
        return float(masked_mae(pred, tensors[1][b]))
