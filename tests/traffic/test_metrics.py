"""Masked errors: zeros and NaN targets are not scored; horizons are 1-based steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citysentinel.traffic.forecasting import Split, horizon_errors, masked_errors, windows


@pytest.mark.parametrize(
    ("pred", "truth", "expected"),
    [
        ([1.0, 2.0], [2.0, 4.0], {"mae": 1.5, "rmse": math.sqrt(2.5), "mape": 50.0}),
        ([1.0, 9.0], [2.0, 0.0], {"mae": 1.0, "rmse": 1.0, "mape": 50.0}),
        ([1.0, 9.0], [2.0, float("nan")], {"mae": 1.0, "rmse": 1.0, "mape": 50.0}),
    ],
)
def test_masked_errors(pred: list[float], truth: list[float], expected: dict[str, float]) -> None:
    got = masked_errors(np.array(pred), np.array(truth))
    assert got == pytest.approx(expected)


def test_all_missing_is_nan_not_a_crash() -> None:
    got = masked_errors(np.array([1.0]), np.array([0.0]))
    assert all(math.isnan(v) for v in got.values())


def test_horizon_errors_pick_steps() -> None:
    truth = np.ones((4, 12, 2))
    pred = truth + np.arange(1, 13)[None, :, None]
    got = horizon_errors(pred, truth)
    assert [got[h]["mae"] for h in ("3", "6", "12")] == [3.0, 6.0, 12.0]
    with pytest.raises(ValueError, match="differ"):
        horizon_errors(pred[:, :6], truth)


@pytest.mark.parametrize(
    ("steps", "sizes"), [(2016, (1395, 199, 399)), (100, (54, 8, 15)), (33, (7, 1, 2))]
)
def test_split_is_chronological_70_10_20(steps: int, sizes: tuple[int, int, int]) -> None:
    s = Split.of(steps)
    assert (len(s.train), len(s.val), len(s.test)) == sizes
    assert s.train.stop == s.val.start and s.val.stop == s.test.start
    assert s.steps(s.test)[1] == steps


def test_windows_align_inputs_and_targets() -> None:
    values = np.arange(30.0)[:, None]
    x, y = windows(values)
    assert x.shape == (7, 12, 1) and y.shape == (7, 12, 1)
    assert x[2, -1, 0] == 13.0 and y[2, 0, 0] == 14.0
