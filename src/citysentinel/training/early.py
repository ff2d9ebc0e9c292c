"""Early stopping on a validation score: keep the best weights, stop when patience runs out."""

from __future__ import annotations

import copy
from typing import Any

from torch import nn


class BestEpoch:
    """The weights of the best-scoring epoch so far (higher is better) and the patience left.

    Example:
        >>> keeper = BestEpoch(nn.Linear(2, 1), patience=2)
        >>> [keeper.record(f1) for f1 in (0.5, 0.6, 0.55, 0.58)]
        [False, False, False, True]
        >>> keeper.best
        0.6
    """

    def __init__(self, model: nn.Module, patience: int) -> None:
        self.model = model
        self.patience = patience
        self.best = -1.0
        self._state: dict[str, Any] = copy.deepcopy(model.state_dict())
        self._stale = 0

    def record(self, score: float) -> bool:
        """Note this epoch's score; True when `patience` epochs in a row did not beat the best."""
        if score > self.best:
            self.best, self._state, self._stale = score, copy.deepcopy(self.model.state_dict()), 0
            return False
        self._stale += 1
        return self._stale >= self.patience

    def restore(self) -> None:
        """Load the best epoch's weights back into the model and switch it to eval mode."""
        self.model.load_state_dict(self._state)
        self.model.eval()
