"""`eval traffic`: masked MAE/RMSE/MAPE at 15/30/60 minutes on the chronological test 20%."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from citysentinel.traffic.forecasting import (
    HORIZONS,
    Forecaster,
    ForecastError,
    Split,
    build_forecaster,
    horizon_errors,
    windows,
)
from citysentinel.traffic.io import read_wide_csv
from citysentinel.traffic.series import SensorSeries


class TrafficEvalError(ValueError):
    """The speeds file or the model cannot be evaluated."""


def zeros_as_missing(series: SensorSeries) -> SensorSeries:
    """The benchmark convention: a zero speed is a dropped reading, not a standstill."""
    values = np.where(series.values == 0, np.nan, series.values)
    return SensorSeries(values, series.sensors, series.start, series.step_s, series.issues)


def evaluate_forecaster(
    forecaster: Forecaster,
    series: SensorSeries,
    *,
    fit: bool = True,
    horizons: tuple[int, ...] = HORIZONS,
    train_seconds: float | None = None,
) -> dict[str, Any]:
    """Fit on the train windows (validation picks hyperparameters), score the test windows.

    Windows of `n_in` in and `horizon` out slide over the whole series and are
    split 70/10/20 in time order; errors are masked (0 or NaN is missing).
    `fit=False` scores an already trained forecaster, reporting `train_seconds`.

    Example:
        >>> from citysentinel.traffic.forecasting import LastValue
        >>> series = read_wide_csv(Path("los_speed.csv"))  # doctest: +SKIP
        >>> r = evaluate_forecaster(LastValue(), series)  # doctest: +SKIP
        >>> r["horizons"]["3"]["mae"]  # doctest: +SKIP
        3.5499
    """
    clean = zeros_as_missing(series)
    split = Split.of(series.shape[0], forecaster.n_in, forecaster.horizon)
    if fit:
        began = time.perf_counter()
        forecaster.fit(clean.slice(*split.steps(split.train)), clean.slice(*split.steps(split.val)))
        train_seconds = time.perf_counter() - began
    x, _ = windows(clean.values, forecaster.n_in, forecaster.horizon)
    _, y = windows(series.values, forecaster.n_in, forecaster.horizon)
    preds = np.empty((len(split.test), forecaster.horizon, series.shape[1]))
    began = time.perf_counter()
    for k, i in enumerate(split.test):
        preds[k] = forecaster.forecast(x[i], series.time_at(i + forecaster.n_in - 1))
    forecast_ms = (time.perf_counter() - began) * 1000 / max(len(split.test), 1)
    if not np.isfinite(preds).all():
        raise TrafficEvalError(f"{forecaster.name} forecast non-finite values")
    errors = horizon_errors(preds, y[split.test.start : split.test.stop], horizons)
    return {
        "model": forecaster.name,
        "horizons": {h: {k: round(v, 4) for k, v in e.items()} for h, e in errors.items()},
        "train_seconds": round(train_seconds or 0.0, 3),
        "forecast_ms": round(forecast_ms, 3),
    }


def evaluate_model(model: str, speeds: Path, *, threads: int = 1) -> dict[str, Any]:
    """`eval traffic`: a registry name (fitted here) or a model folder from `train traffic`.

    Example:
        >>> evaluate_model("ridge", Path("los_loop/los_speed.csv"))["model"]  # doctest: +SKIP
        'ridge'
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    series = read_wide_csv(speeds)
    with threadpool_limits(threads):
        folder = Path(model)
        if folder.is_dir():
            return _evaluate_folder(folder, series, threads)
        try:
            forecaster = build_forecaster(model)
        except ForecastError as exc:
            raise TrafficEvalError(f"{exc}, or a model folder") from None
        return evaluate_forecaster(forecaster, series)


def _evaluate_folder(folder: Path, series: SensorSeries, threads: int) -> dict[str, Any]:
    card_path = folder / "card.json"
    if not card_path.is_file():
        raise TrafficEvalError(f"{folder} has no card.json; is it a `train traffic` folder?")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    try:
        from citysentinel.traffic.forecasting.stid import StidForecaster
    except ImportError as exc:
        raise TrafficEvalError(f"{exc}; the graph model needs the train extra (torch)") from None
    forecaster = StidForecaster.load(folder, threads=threads)
    if forecaster.sensors != series.sensors:
        raise TrafficEvalError(f"{folder} was trained on other sensors than {len(series.sensors)}")
    return evaluate_forecaster(
        forecaster, series, fit=False, train_seconds=float(card.get("train_seconds", 0.0))
    )
