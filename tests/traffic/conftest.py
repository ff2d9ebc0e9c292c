"""Factories for traffic tests: synthetic series and the LOS-loop files when present."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from citysentinel.traffic import SensorSeries
from tests.models.fixtures import SHARED_DATA

LOS_LOOP = SHARED_DATA / "traffic" / "los_loop"


def make_series(steps: int = 600, sensors: int = 3, seed: int = 0) -> SensorSeries:
    """Daily-periodic speeds with noise, 5-minute steps from midnight; a few gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    base = 55 - 15 * np.exp(-(((t % 288) - 100) ** 2) / 400.0) + np.arange(sensors)[None, :]
    values = base + rng.normal(0, 1, (steps, sensors))
    values[rng.random(values.shape) < 0.05] = np.nan
    ids = tuple(f"s{j}" for j in range(sensors))
    return SensorSeries(values, ids, datetime(2012, 3, 1, tzinfo=UTC), 300.0)


@pytest.fixture
def los_speed() -> Path:
    """The LOS-loop speeds file, or skip: a fresh clone has no ../shared/data."""
    path = LOS_LOOP / "los_speed.csv"
    if not path.is_file():
        pytest.skip(f"LOS-loop data not found at {path} (../shared/data is absent)")
    return path
