"""Early stopping keeps the best epoch's weights and stops after `patience` epochs without gain."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from citysentinel.training.early import BestEpoch


@pytest.mark.parametrize(
    ("scores", "patience", "stops"),
    [
        ([0.5, 0.6, 0.55, 0.58], 2, [False, False, False, True]),
        ([0.5, 0.5], 1, [False, True]),  # a tie is no gain
        ([0.1, 0.2, 0.3], 1, [False, False, False]),
    ],
)
def test_stops_after_patience_epochs_without_gain(
    scores: list[float], patience: int, stops: list[bool]
) -> None:
    keeper = BestEpoch(nn.Linear(2, 1), patience)
    assert [keeper.record(s) for s in scores] == stops
    assert keeper.best == max(scores)


def test_restore_loads_the_best_weights() -> None:
    model = nn.Linear(2, 1)
    keeper = BestEpoch(model, patience=3)
    with torch.no_grad():
        model.weight.fill_(1.0)
    keeper.record(0.9)
    with torch.no_grad():
        model.weight.fill_(2.0)
    keeper.record(0.4)
    model.train()
    keeper.restore()
    assert torch.equal(model.weight, torch.ones_like(model.weight))
    assert not model.training
