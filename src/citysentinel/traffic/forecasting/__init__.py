"""Traffic forecasters behind one interface, and the registry that names them."""

from __future__ import annotations

from typing import Any

from citysentinel.traffic.forecasting.base import (
    HORIZONS,
    N_IN,
    N_OUT,
    Forecaster,
    ForecastError,
    Split,
    windows,
)
from citysentinel.traffic.forecasting.baselines import HistoricalAverage, LastValue
from citysentinel.traffic.forecasting.metrics import horizon_errors, masked_errors
from citysentinel.traffic.forecasting.ridge import RidgeAR

CLASSICAL: dict[str, type[LastValue] | type[HistoricalAverage] | type[RidgeAR]] = {
    LastValue.name: LastValue,
    HistoricalAverage.name: HistoricalAverage,
    RidgeAR.name: RidgeAR,
}


def build_forecaster(name: str, **params: Any) -> Forecaster:
    """A classical forecaster by registry name, with hyperparameters as keywords.

    Example:
        >>> build_forecaster("ridge", alpha=10.0).name
        'ridge'
    """
    try:
        cls = CLASSICAL[name]
    except KeyError:
        known = ", ".join(sorted(CLASSICAL))
        raise ForecastError(f"unknown forecaster {name!r}; known: {known}") from None
    forecaster: Forecaster = cls(**params)
    return forecaster


__all__ = [
    "CLASSICAL",
    "HORIZONS",
    "N_IN",
    "N_OUT",
    "ForecastError",
    "Forecaster",
    "HistoricalAverage",
    "LastValue",
    "RidgeAR",
    "Split",
    "build_forecaster",
    "horizon_errors",
    "masked_errors",
    "windows",
]
