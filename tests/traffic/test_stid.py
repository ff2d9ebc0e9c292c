"""STID: trains a few epochs on a tiny series, saves, loads and keeps the contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citysentinel.eval.traffic import evaluate_model

from .conftest import make_series

torch = pytest.importorskip("torch", reason="STID needs the train extra (torch)")


def test_train_save_load_forecast(tmp_path: Path) -> None:
    from citysentinel.traffic.forecasting.stid import StidForecaster
    from citysentinel.training.traffic import StidConfig, train_stid

    series = make_series(steps=400, sensors=4)
    card = train_stid(series, tmp_path / "m", StidConfig(dim=8, layers=1, epochs=3), progress=False)
    assert card["epochs_run"] <= 3
    assert set(card["test"]) == {"3", "6", "12"}
    f = StidForecaster.load(tmp_path / "m")
    history = series.values[-12:].copy()
    history[:, 0] = np.nan
    out = f.forecast(history, series.time_at(series.shape[0] - 1))
    assert out.shape == (12, 4)
    assert np.isfinite(out).all()
    csv = tmp_path / "s.csv"
    rows = [",".join(series.sensors)]
    rows += [",".join("" if np.isnan(v) else f"{v:.3f}" for v in r) for r in series.values]
    csv.write_text("\n".join(rows), encoding="utf-8")
    result = evaluate_model(str(tmp_path / "m"), csv)
    assert result["model"] == "stid"
    assert result["train_seconds"] == card["train_seconds"]
