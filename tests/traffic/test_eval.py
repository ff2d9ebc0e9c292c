"""`eval traffic` on a synthetic series and on a real LOS-loop slice (seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citysentinel.eval.traffic import TrafficEvalError, evaluate_forecaster, evaluate_model
from citysentinel.traffic import read_wide_csv
from citysentinel.traffic.forecasting import LastValue, RidgeAR

from .conftest import make_series


def test_result_has_the_documented_shape() -> None:
    r = evaluate_forecaster(LastValue(), make_series())
    assert set(r) == {"model", "horizons", "train_seconds", "forecast_ms"}
    assert set(r["horizons"]) == {"3", "6", "12"}
    assert all(set(v) == {"mae", "rmse", "mape"} for v in r["horizons"].values())


def test_zeros_are_missing_not_scored() -> None:
    series = make_series()
    series.values[series.values < 45] = 0.0
    r = evaluate_forecaster(RidgeAR(), series)
    assert all(np.isfinite(v["mae"]) for v in r["horizons"].values())


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a\n" + "\n".join(["50"] * 60), encoding="utf-8")
    with pytest.raises(TrafficEvalError, match="unknown forecaster"):
        evaluate_model("prophet", path)
    with pytest.raises(TrafficEvalError, match=r"no card\.json"):
        evaluate_model(str(tmp_path), path)


def test_los_loop_slice_ridge_beats_last_value_at_15_minutes(los_speed: Path) -> None:
    series = read_wide_csv(los_speed).slice(0, 1200)
    series = type(series)(series.values[:, :40], series.sensors[:40], series.start)
    last = evaluate_forecaster(LastValue(), series)["horizons"]
    ridge = evaluate_forecaster(RidgeAR(), series)["horizons"]
    assert 1.0 < last["3"]["mae"] < 8.0
    assert ridge["3"]["mae"] < last["3"]["mae"]
    assert last["3"]["mae"] < last["12"]["mae"]
