"""Traffic: sensor series, forecasting, congestion and incidents, routing, signals, parking."""

from __future__ import annotations

from citysentinel.traffic.io import load_adjacency, read_long_csv, read_wide_csv
from citysentinel.traffic.series import Issue, IssueKind, SensorSeries, SeriesError

__all__ = [
    "Issue",
    "IssueKind",
    "SensorSeries",
    "SeriesError",
    "load_adjacency",
    "read_long_csv",
    "read_wide_csv",
]
