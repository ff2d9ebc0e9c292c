"""The forecaster contract, run on every classical model with a tiny synthetic series."""

from __future__ import annotations

import numpy as np
import pytest

from citysentinel.traffic.forecasting import (
    CLASSICAL,
    Forecaster,
    ForecastError,
    HistoricalAverage,
    RidgeAR,
    build_forecaster,
)

from .conftest import make_series

NAMES = sorted(CLASSICAL)


@pytest.mark.parametrize("name", NAMES)
def test_contract_shapes_and_no_nan_leak(name: str) -> None:
    series = make_series()
    f = build_forecaster(name)
    assert isinstance(f, Forecaster)
    assert f.fit(series.slice(0, 400), series.slice(400, 500)) is f
    history = series.values[500:512].copy()
    history[:, 0] = np.nan  # a sensor silent for the whole hour
    history[3:7, 1] = np.nan
    out = f.forecast(history, series.time_at(511))
    assert out.shape == (f.horizon, series.shape[1])
    assert np.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_contract_rejects_bad_history_and_unfitted_use(name: str) -> None:
    series = make_series()
    with pytest.raises(ForecastError, match="fit"):
        build_forecaster(name).forecast(series.values[:12], series.time_at(11))
    f = build_forecaster(name).fit(series)
    with pytest.raises(ForecastError, match="history must be"):
        f.forecast(series.values[:11], series.time_at(10))


@pytest.mark.parametrize("name", NAMES)
def test_forecasts_are_close_on_a_regular_series(name: str) -> None:
    series = make_series(steps=288 * 4)
    f = build_forecaster(name).fit(series.slice(0, 288 * 3))
    out = f.forecast(series.values[-13:-1], series.time_at(series.shape[0] - 2))
    truth = series.values[-1]
    seen = np.isfinite(truth)
    assert np.abs(out[0, seen] - truth[seen]).mean() < 4.0


def test_historical_average_week_falls_back_to_day() -> None:
    series = make_series(steps=288 * 2)
    f = HistoricalAverage(by="week").fit(series)
    # a weekday never seen in training still gets the time-of-day profile
    out = f.forecast(series.values[:12], series.time_at(288 * 5 + 11))
    day = HistoricalAverage(by="day").fit(series).forecast(series.values[:12], series.time_at(11))
    assert np.allclose(out, day)


def test_ridge_picks_alpha_on_validation() -> None:
    series = make_series(steps=1000)
    f = RidgeAR(alphas=(0.01, 1e6)).fit(series.slice(0, 700), series.slice(700, 1000))
    assert f.alpha == 0.01


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ForecastError, match="known: historical_average, last_value, ridge"):
        build_forecaster("prophet")
