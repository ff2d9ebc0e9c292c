"""The site's `traffic:` section, the live forecaster it names, and free/slow/congested status."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from citysentinel.traffic.forecasting import CLASSICAL, Forecaster, ForecastError, build_forecaster
from citysentinel.traffic.mqtt import TrafficMqttConfig
from citysentinel.traffic.series import DEFAULT_STEP_S, FloatArray, SensorSeries

Status = Literal["free", "slow", "congested", "unknown"]
# Loop-detector practice: below ~15% occupancy traffic flows freely, above ~25% it is
# congested (the critical occupancy of most freeway loops lies between the two).
OCCUPANCY_SLOW = 15.0
OCCUPANCY_CONGESTED = 25.0


class TrafficSetupError(ValueError):
    """The `traffic:` section cannot be set up, e.g. an adjacency file that does not fit."""


class TrafficConfig(BaseModel):
    """Live road sensors: step grid, sensor graph, forecaster, refresh, MQTT subscription."""

    model_config = ConfigDict(extra="forbid")

    step_s: int = Field(
        default=round(DEFAULT_STEP_S),
        ge=1,
        le=3600,
        description="Seconds per step (whole seconds); readings are stored per sensor and"
        " step, the last reading of a step wins.",
    )
    adjacency: str | None = Field(
        default=None,
        description="Square CSV matrix of sensor weights, rows in `sensors:` order."
        " Default: a Gaussian kernel of the distance between sensor locations (DCRNN).",
    )
    kernel_sigma_m: float | None = Field(
        default=None, gt=0, description="Kernel width in metres; default: std of the distances."
    )
    kernel_threshold: float = Field(
        default=0.1, ge=0, lt=1, description="Kernel weights below this are no edge."
    )
    forecaster: str = Field(
        default="last_value",
        description="A forecaster name (last_value, historical_average, ridge), fitted on the"
        " stored readings, or a model folder from `citysentinel train traffic`.",
    )
    fit_days: float = Field(
        default=7.0, gt=0, description="Days of stored readings a forecaster is fitted on."
    )
    refit_interval_s: float = Field(
        default=86_400.0, gt=0, description="How often the forecaster is fitted again."
    )
    refresh_interval_s: float = Field(
        default=60.0, gt=0, description="Forecasts are refreshed this often even without readings."
    )
    debounce_s: float = Field(
        default=2.0,
        ge=0,
        description="After readings arrive, wait this long for more, then refresh once.",
    )
    stale_after_s: float = Field(
        default=900.0,
        gt=0,
        description="A sensor (and its forecast) is stale when its newest"
        " step ended longer ago than this.",
    )
    max_future_s: float = Field(
        default=300.0, ge=0, description="Readings timed further in the future are rejected."
    )
    retention_days: float = Field(default=30.0, gt=0, description="Delete older readings.")
    slow_ratio: float = Field(
        default=0.75, gt=0, le=1, description="Slow below this share of free-flow speed."
    )
    congested_ratio: float = Field(
        default=0.5, gt=0, le=1, description="Congested below this share of free-flow speed."
    )
    detect: bool = Field(
        default=True, description="Publish traffic.congestion / traffic.incident events."
    )
    health_events: bool = Field(
        default=True,
        description="Publish sensor.health events: start when a sensor that has reported goes"
        " stale, end when it reports again.",
    )
    mqtt: TrafficMqttConfig | None = Field(
        default=None, description="Subscribe to readings on an MQTT broker."
    )

    @model_validator(mode="after")
    def _ratios(self) -> Self:
        if self.congested_ratio > self.slow_ratio:
            raise ValueError("congested_ratio must not exceed slow_ratio")
        return self


def status_of(
    kind: str, value: float | None, free_flow: float | None, config: TrafficConfig
) -> Status:
    """free / slow / congested from the latest reading; unknown when it cannot be told.

    Speed compares with the free-flow speed, travel time the other way round,
    occupancy uses fixed shares; flow alone cannot tell free from jammed.

    Example:
        >>> status_of("speed", 30.0, 60.0, TrafficConfig())
        'slow'
        >>> status_of("flow", 900.0, None, TrafficConfig())
        'unknown'
    """
    if value is None or not math.isfinite(value):
        return "unknown"
    if kind == "occupancy":
        if value >= OCCUPANCY_CONGESTED:
            return "congested"
        return "slow" if value >= OCCUPANCY_SLOW else "free"
    if kind not in ("speed", "travel_time") or not free_flow or free_flow <= 0:
        return "unknown"
    ratio = value / free_flow if kind == "speed" else (free_flow / value if value > 0 else 1.0)
    if ratio < config.congested_ratio:
        return "congested"
    return "slow" if ratio < config.slow_ratio else "free"


def free_flow_of(kind: str, values: FloatArray) -> float | None:
    """The free-flow reference from a sensor's history: 85th percentile speed, 15th travel time."""
    finite = values[np.isfinite(values) & (values > 0)]
    if finite.size < 12 or kind not in ("speed", "travel_time"):
        return None
    return float(np.percentile(finite, 85 if kind == "speed" else 15))


class Reordered:
    """A trained forecaster whose sensors are the site's, in another column order."""

    def __init__(self, inner: Forecaster, order: list[int]) -> None:
        self.inner = inner
        self.order = order  # site column j is model column order[j]
        self.inverse = list(np.argsort(order))
        self.name = inner.name
        self.n_in = inner.n_in
        self.horizon = inner.horizon

    def fit(self, series: SensorSeries, validation: SensorSeries | None = None) -> Self:
        """Trained models are not fitted again here."""
        del series, validation
        return self

    def forecast(self, history: FloatArray, t: datetime) -> FloatArray:
        """[horizon, N] in the site's column order."""
        out = self.inner.forecast(history[:, self.inverse], t)
        return np.asarray(out[:, self.order], dtype=np.float64)


def load_live_forecaster(spec: str, sensors: tuple[str, ...], threads: int = 1) -> Forecaster:
    """A registry forecaster (to be fitted), or a trained model folder for exactly `sensors`.

    Example:
        >>> load_live_forecaster("last_value", ("a",)).name
        'last_value'
    """
    if spec in CLASSICAL:
        return build_forecaster(spec)
    folder = Path(spec)
    card_file = folder / "card.json"
    if not card_file.is_file():
        known = ", ".join(sorted(CLASSICAL))
        raise ForecastError(f"forecaster {spec!r} is neither one of {known} nor a model folder")
    card = json.loads(card_file.read_text(encoding="utf-8"))
    model_sensors = [str(s) for s in card.get("sensors", [])]
    if sorted(model_sensors) != sorted(sensors):
        missing = sorted(set(sensors) - set(model_sensors))[:5]
        extra = sorted(set(model_sensors) - set(sensors))[:5]
        raise ForecastError(
            f"{folder} was trained on other sensors (site-only {missing}, model-only {extra})"
        )
    from citysentinel.traffic.forecasting.stid import StidForecaster  # torch only when asked

    model = StidForecaster.load(folder, threads=threads)
    # history column j of the model is site column inverse[j]; output site j is model order[j]
    index = {s: i for i, s in enumerate(model_sensors)}
    return Reordered(model, [index[s] for s in sensors])


def needs_fit(forecaster: Forecaster) -> bool:
    """Whether `forecaster` learns from the stored readings (not a trained model)."""
    return not isinstance(forecaster, Reordered)
