"""The live sensor registry and its graph: a given adjacency matrix or a distance kernel."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citysentinel.traffic.io import load_adjacency
from citysentinel.traffic.series import FloatArray, SeriesError

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Sensor:
    """One configured road sensor, as the live side sees it.

    Example:
        >>> Sensor("loop-1", "speed", "mph", lat=51.48, lon=-0.16).located
        True
    """

    id: str
    kind: str
    unit: str
    road: str | None = None
    name: str | None = None
    lat: float | None = None
    lon: float | None = None
    free_flow: float | None = None  # reference for free/slow/congested; default from history

    @property
    def located(self) -> bool:
        """Whether the sensor has a map position."""
        return self.lat is not None and self.lon is not None


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points.

    Example:
        >>> round(haversine_m(51.4796, -0.1679, 51.4781, -0.1667))
        186
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def distance_matrix(sensors: Sequence[Sensor]) -> FloatArray:
    """[N, N] haversine metres between sensors; inf where a sensor has no location."""
    n = len(sensors)
    out = np.full((n, n), np.inf)
    for i, a in enumerate(sensors):
        out[i, i] = 0.0
        for j in range(i + 1, n):
            b = sensors[j]
            if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
                continue
            out[i, j] = out[j, i] = haversine_m(a.lat, a.lon, b.lat, b.lon)
    return out


def gaussian_kernel(
    distances: FloatArray, sigma_m: float | None = None, threshold: float = 0.1
) -> FloatArray:
    """DCRNN's weights exp(-(d / sigma)^2), zeroed below `threshold`; sigma = std of finite d.

    Example:
        >>> w = gaussian_kernel(np.array([[0.0, 100.0], [100.0, 0.0]]), sigma_m=100.0)
        >>> w.round(3).tolist()
        [[1.0, 0.368], [0.368, 1.0]]
    """
    finite = distances[np.isfinite(distances)]
    if sigma_m is None:
        off_diagonal = finite[finite > 0]
        sigma_m = float(off_diagonal.std()) if off_diagonal.size > 1 else 0.0
        if sigma_m <= 0:
            sigma_m = float(off_diagonal.mean()) if off_diagonal.size else 1.0
    with np.errstate(over="ignore"):
        weights = np.exp(-np.square(distances / sigma_m))
    weights[~np.isfinite(distances)] = 0.0
    weights[weights < threshold] = 0.0
    return np.asarray(weights, dtype=np.float64)


@dataclass(frozen=True)
class SensorGraph:
    """The configured sensors in a fixed order and their [N, N] weighted adjacency.

    Example:
        >>> g = SensorGraph.build([Sensor("a", "speed", "mph", lat=51.48, lon=-0.16),
        ...                        Sensor("b", "speed", "mph", lat=51.481, lon=-0.16)])
        >>> g.neighbours("a")
        ('b',)
    """

    sensors: tuple[Sensor, ...]
    adjacency: FloatArray

    @classmethod
    def build(
        cls,
        sensors: Sequence[Sensor],
        *,
        adjacency_file: Path | None = None,
        sigma_m: float | None = None,
        threshold: float = 0.1,
    ) -> SensorGraph:
        """From a matrix file (rows in sensor order), else a kernel of haversine distance."""
        if adjacency_file is not None:
            matrix = load_adjacency(adjacency_file, len(sensors))
        else:
            matrix = gaussian_kernel(distance_matrix(sensors), sigma_m, threshold)
        return cls(tuple(sensors), matrix)

    def __post_init__(self) -> None:
        n = len(self.sensors)
        if self.adjacency.shape != (n, n):
            raise SeriesError(f"adjacency is {self.adjacency.shape}, there are {n} sensors")

    @property
    def ids(self) -> tuple[str, ...]:
        """Sensor ids in graph order (the column order of every series)."""
        return tuple(s.id for s in self.sensors)

    def get(self, sensor_id: str) -> Sensor | None:
        """The sensor with `sensor_id`, if configured."""
        return next((s for s in self.sensors if s.id == sensor_id), None)

    def neighbours(self, sensor_id: str) -> tuple[str, ...]:
        """Ids of the sensors with a positive weight to `sensor_id`, strongest first."""
        i = self.ids.index(sensor_id)
        row = self.adjacency[i]
        order = np.argsort(-row, kind="stable")
        return tuple(self.ids[j] for j in order if j != i and row[j] > 0)
