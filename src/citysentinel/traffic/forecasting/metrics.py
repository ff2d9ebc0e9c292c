"""Masked forecast errors: a target of 0 or NaN is a missing reading and is not scored."""

from __future__ import annotations

import numpy as np

from citysentinel.traffic.forecasting.base import HORIZONS
from citysentinel.traffic.series import FloatArray


def missing_mask(truth: FloatArray) -> np.ndarray:
    """True where a target is scored: finite and not zero (the loop-detector convention)."""
    return np.asarray(np.isfinite(truth) & (truth != 0))


def masked_errors(pred: FloatArray, truth: FloatArray) -> dict[str, float]:
    """MAE, RMSE and MAPE (%) over the scored targets; NaN when none is scored.

    Example:
        >>> masked_errors(np.array([1.0, 2.0, 5.0]), np.array([2.0, 0.0, 4.0]))
        {'mae': 1.0, 'rmse': 1.0, 'mape': 37.5}
    """
    mask = missing_mask(truth)
    if not mask.any():
        return {"mae": float("nan"), "rmse": float("nan"), "mape": float("nan")}
    err = pred[mask] - truth[mask]
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(np.abs(err) / np.abs(truth[mask])) * 100.0),
    }


def horizon_errors(
    pred: FloatArray, truth: FloatArray, horizons: tuple[int, ...] = HORIZONS
) -> dict[str, dict[str, float]]:
    """Masked errors at each horizon (1-based step) of [W, H, N] forecasts and targets.

    Example:
        >>> y = np.ones((2, 12, 3))
        >>> horizon_errors(y + 1, y)["12"]["mae"]
        1.0
    """
    if pred.shape != truth.shape:
        raise ValueError(f"forecasts {pred.shape} and targets {truth.shape} differ")
    return {str(h): masked_errors(pred[:, h - 1], truth[:, h - 1]) for h in horizons}
