"""STID (Shao et al. CIKM 2022): node and time-of-day embeddings plus an MLP, in PyTorch."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
from torch import nn

from citysentinel.traffic.forecasting.base import (
    N_IN,
    N_OUT,
    ForecastError,
    check_history,
    fill_history,
)
from citysentinel.traffic.series import FloatArray, SensorSeries, time_of_day

WEIGHTS = "model.pt"
CARD = "card.json"


class Stid(nn.Module):
    """[B, n_in, N] standardised speeds and [B] time-of-day slots -> [B, n_out, N].

    Example:
        >>> m = Stid(n_nodes=3, slots_per_day=288)
        >>> m(torch.zeros(2, 12, 3), torch.zeros(2, dtype=torch.long)).shape
        torch.Size([2, 12, 3])
    """

    def __init__(
        self,
        n_nodes: int,
        slots_per_day: int,
        n_in: int = N_IN,
        n_out: int = N_OUT,
        dim: int = 32,
        layers: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.series = nn.Linear(n_in, dim)
        self.node = nn.Parameter(torch.empty(n_nodes, dim))
        self.tod = nn.Parameter(torch.empty(slots_per_day, dim))
        nn.init.xavier_uniform_(self.node)
        nn.init.xavier_uniform_(self.tod)
        hidden = 3 * dim
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden)
            )
            for _ in range(layers)
        )
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        """Concatenate series, node and time embeddings per node; residual MLP; project."""
        batch, _, nodes = x.shape
        h = torch.cat(
            [
                self.series(x.transpose(1, 2)),
                self.node.unsqueeze(0).expand(batch, nodes, -1),
                self.tod[slot].unsqueeze(1).expand(batch, nodes, -1),
            ],
            dim=-1,
        )
        for block in self.blocks:
            h = h + block(h)
        return torch.as_tensor(self.head(h).transpose(1, 2))


class StidForecaster:
    """A trained STID model behind the forecaster contract (train it with `train traffic`).

    Example:
        >>> f = StidForecaster.load(Path("models/stid-los"))  # doctest: +SKIP
        >>> f.forecast(history, t).shape  # doctest: +SKIP
        (12, 207)
    """

    name = "stid"

    def __init__(
        self,
        model: Stid,
        sensors: tuple[str, ...],
        *,
        mean: float,
        std: float,
        fallback: FloatArray,
        step_s: float,
        hyper: dict[str, Any],
    ) -> None:
        self.model = model.eval()
        self.sensors = sensors
        self.mean, self.std = mean, std
        self.fallback = fallback
        self.step_s = step_s
        self.hyper = hyper
        self.n_in = int(hyper.get("n_in", N_IN))
        self.horizon = int(hyper.get("n_out", N_OUT))

    def fit(self, series: SensorSeries, validation: SensorSeries | None = None) -> Self:  # noqa: ARG002
        """Not supported in place: training is `citysentinel train traffic` (training code)."""
        raise ForecastError("train STID with `citysentinel train traffic`, then load the folder")

    def forecast(self, history: FloatArray, t: datetime) -> FloatArray:
        """[horizon, N] for the steps after `t`; gaps are carried forward first."""
        check_history(history, self.n_in, len(self.sensors))
        x = (fill_history(history, self.fallback) - self.mean) / self.std
        slot = slot_of(t, self.step_s)
        with torch.inference_mode():
            out = self.model(torch.as_tensor(x, dtype=torch.float32)[None], torch.tensor([slot]))
        return np.asarray(out[0].double().numpy() * self.std + self.mean)

    def save(self, folder: Path, card: dict[str, Any]) -> None:
        """Weights plus a JSON card holding what `load` needs and the training record."""
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / WEIGHTS)
        state = {
            "model": self.name,
            "sensors": list(self.sensors),
            "mean": self.mean,
            "std": self.std,
            "fallback": self.fallback.tolist(),
            "step_s": self.step_s,
            "hyper": self.hyper,
        }
        (folder / CARD).write_text(json.dumps({**state, **card}, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, threads: int = 1) -> StidForecaster:
        """The forecaster saved in `folder`; `threads` bounds torch's intra-op threads."""
        torch.set_num_threads(threads)
        card = json.loads((folder / CARD).read_text(encoding="utf-8"))
        if card.get("model") != cls.name:
            raise ForecastError(f"{folder} holds a {card.get('model')!r} model, not stid")
        hyper = card["hyper"]
        model = build_stid(len(card["sensors"]), card["step_s"], hyper)
        state = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return cls(
            model,
            tuple(card["sensors"]),
            mean=float(card["mean"]),
            std=float(card["std"]),
            fallback=np.asarray(card["fallback"], dtype=np.float64),
            step_s=float(card["step_s"]),
            hyper=hyper,
        )


def build_stid(n_nodes: int, step_s: float, hyper: dict[str, Any]) -> Stid:
    """A fresh STID for `n_nodes` sensors at `step_s` steps with `hyper` (dim, layers, ...)."""
    keys = ("n_in", "n_out", "dim", "layers", "dropout")
    return Stid(n_nodes, slots_per_day(step_s), **{k: hyper[k] for k in keys if k in hyper})


def slots_per_day(step_s: float) -> int:
    """How many steps make a day (288 at 5 minutes)."""
    return max(1, round(86_400 / step_s))


def slot_of(t: datetime, step_s: float) -> int:
    """The time-of-day slot of `t`."""
    frac = time_of_day(t, step_s, np.zeros(1, dtype=np.int64))[0]
    return round(float(frac) * slots_per_day(step_s)) % slots_per_day(step_s)
