"""Ridge autoregression: one linear model shared by all sensors, on 12 lags and time of day."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import numpy as np

from citysentinel.traffic.forecasting.base import (
    N_IN,
    N_OUT,
    ForecastError,
    check_history,
    fill_history,
    sensor_means,
    windows,
)
from citysentinel.traffic.forecasting.metrics import missing_mask
from citysentinel.traffic.series import FloatArray, SensorSeries, time_of_day

ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


class RidgeAR:
    """Direct multi-step ridge regression on each sensor's last `n_in` readings.

    Features are the standardised lags plus `harmonics` sine/cosine pairs of the
    time of day; one model serves every sensor, so a new sensor needs no
    training. With a validation series, the penalty is chosen from `alphas` on
    validation MAE.

    Example:
        >>> from datetime import UTC
        >>> t = np.arange(600.0)[:, None]
        >>> s = SensorSeries(50 + 5 * np.sin(t / 20), ("a",), datetime(2012, 3, 1, tzinfo=UTC))
        >>> f = RidgeAR(horizon=3).fit(s)
        >>> out = f.forecast(s.values[-12:], s.time_at(599))
        >>> truth = 50 + 5 * np.sin(np.arange(600, 603) / 20)
        >>> out.shape, bool(np.abs(out[:, 0] - truth).max() < 0.1)
        ((3, 1), True)
    """

    name = "ridge"

    def __init__(
        self,
        alpha: float = 1.0,
        harmonics: int = 2,
        alphas: tuple[float, ...] = ALPHAS,
        n_in: int = N_IN,
        horizon: int = N_OUT,
    ) -> None:
        self.alpha = alpha
        self.harmonics = harmonics
        self.alphas = alphas
        self.n_in = n_in
        self.horizon = horizon
        self._coef: FloatArray | None = None
        self._fallback: FloatArray | None = None
        self._mean = 0.0
        self._std = 1.0
        self._step_s = 0.0

    def fit(self, series: SensorSeries, validation: SensorSeries | None = None) -> Self:
        """Solve the penalised least squares for every horizon, skipping missing targets."""
        finite = series.values[np.isfinite(series.values)]
        if finite.size == 0:
            raise ForecastError("the series has no readings to fit on")
        self._mean = float(finite.mean())
        self._std = float(finite.std()) or 1.0
        self._step_s = series.step_s
        self._fallback = sensor_means(series.values)
        x, y = self._design(series)
        gram, cross, counts = _normal_equations(x, y)
        if validation is None:
            self._coef = _solve(gram, cross, counts, self.alpha, self.n_in)
            return self
        xv, yv = self._design(validation)
        best = np.inf
        for alpha in self.alphas:
            coef = _solve(gram, cross, counts, alpha, self.n_in)
            pred = xv @ coef
            mask = np.isfinite(yv)
            mae = float(np.abs(pred - yv)[mask].mean()) if mask.any() else np.inf
            if mae < best:
                best, self.alpha, self._coef = mae, alpha, coef
        return self

    def forecast(self, history: FloatArray, t: datetime) -> FloatArray:
        """[horizon, N]: gaps in `history` are carried forward before the model reads it."""
        if self._coef is None or self._fallback is None:
            raise ForecastError("fit the forecaster first")
        check_history(history, self.n_in, self._fallback.shape[0])
        filled = (fill_history(history, self._fallback) - self._mean) / self._std
        tod = time_of_day(t, self._step_s, np.zeros(1, dtype=np.int64))
        feats = self._features(filled.T[None], np.repeat(tod, filled.shape[1])[None])
        return np.asarray((feats[0] @ self._coef).T * self._std + self._mean)

    def _design(self, series: SensorSeries) -> tuple[FloatArray, FloatArray]:
        """Rows (window, sensor): standardised features and targets (NaN where missing)."""
        x, y = windows(series.values, self.n_in, self.horizon)
        assert self._fallback is not None
        x = np.stack([fill_history(w, self._fallback) for w in x])
        last = np.arange(x.shape[0], dtype=np.int64) + self.n_in - 1
        tod = np.repeat(time_of_day(series.start, series.step_s, last)[:, None], x.shape[2], 1)
        feats = self._features(np.swapaxes((x - self._mean) / self._std, 1, 2), tod)
        y = np.where(missing_mask(y), (y - self._mean) / self._std, np.nan)
        return feats.reshape(-1, feats.shape[-1]), np.swapaxes(y, 1, 2).reshape(-1, self.horizon)

    def _features(self, lags: FloatArray, tod: FloatArray) -> FloatArray:
        """[..., n_in] standardised lags and [...] time of day -> [..., n_features]."""
        parts = [lags, np.ones((*lags.shape[:-1], 1))]
        for k in range(1, self.harmonics + 1):
            angle = 2 * np.pi * k * tod[..., None]
            parts += [np.sin(angle), np.cos(angle)]
        return np.concatenate(parts, axis=-1)


def _normal_equations(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per horizon, X'X and X'y over the rows whose target is present, and the row counts."""
    grams, crosses, counts = [], [], []
    for h in range(y.shape[1]):
        rows = np.isfinite(y[:, h])
        xh = x[rows]
        grams.append(xh.T @ xh)
        crosses.append(xh.T @ y[rows, h])
        counts.append(float(rows.sum()))
    return np.stack(grams), np.stack(crosses, axis=1), np.array(counts)


def _solve(
    gram: FloatArray, cross: FloatArray, counts: FloatArray, alpha: float, bias: int
) -> FloatArray:
    """[n_features, horizon] coefficients; the penalty scales with the rows, the bias is free."""
    n_feat = gram.shape[1]
    penalty = np.eye(n_feat)
    penalty[bias, bias] = 0.0
    coef = np.zeros((n_feat, gram.shape[0]))
    for h in range(gram.shape[0]):
        reg = penalty * alpha * max(counts[h], 1.0) / 1e4
        coef[:, h] = np.linalg.lstsq(gram[h] + reg, cross[:, h], rcond=None)[0]
    return coef
