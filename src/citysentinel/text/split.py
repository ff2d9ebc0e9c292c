"""Group-aware splits: every message of one group (event) lands on one side only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import (  # type: ignore[import-untyped]  # no stubs
    GroupShuffleSplit,
    StratifiedGroupKFold,
)

Index = npt.NDArray[np.intp]


def group_split(
    labels: Sequence[str],
    groups: Sequence[str | None],
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[Index, Index]:
    """Train and validation row indices with no group on both sides.

    Rows without a group are each their own group. With at least
    `1 / val_fraction` groups a StratifiedGroupKFold fold keeps the label mix
    similar on both sides; with fewer, one whole group (at least) is held out.

    Example:
        >>> tr, va = group_split(["a", "b", "a", "b"], ["e1", "e1", "e2", "e2"], val_fraction=0.5)
        >>> sorted(set(["e1", "e1", "e2", "e2"][i] for i in va))
        ['e2']
    """
    keys = np.array([g if g is not None else f"\0row{i}" for i, g in enumerate(groups)])
    n_groups = len(set(keys.tolist()))
    if n_groups < 2:
        raise ValueError("a group-aware split needs at least two groups")
    folds = max(2, round(1 / val_fraction))
    if n_groups >= folds:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        train, val = next(splitter.split(np.zeros(len(keys)), np.asarray(labels), keys))
    else:
        gss = GroupShuffleSplit(
            n_splits=1, test_size=max(1, round(n_groups * val_fraction)), random_state=seed
        )
        train, val = next(gss.split(np.zeros(len(keys)), groups=keys))
    return np.asarray(train, dtype=np.intp), np.asarray(val, dtype=np.intp)
