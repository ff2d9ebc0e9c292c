"""An index of active incidents by category and zone or map cell, for grouping lookups."""

from __future__ import annotations

import math
from collections.abc import Iterator

from citysentinel.events import Point
from citysentinel.incidents.model import Category, Incident

CELL_DEG = 0.01  # about 1.1 km of latitude


def _cell(point: Point) -> tuple[int, int]:
    return math.floor(point.lat / CELL_DEG), math.floor(point.lon / CELL_DEG)


class ProximityIndex:
    """Finds incidents of a category in a zone or near a point without scanning them all.

    Example:
        >>> index = ProximityIndex()
        >>> list(index.candidates(Category.TRAFFIC, "bridge", None, None))
        []
    """

    def __init__(self) -> None:
        self._buckets: dict[tuple[Category, str], set[str]] = {}
        self._keys: dict[str, list[tuple[Category, str]]] = {}

    def add(self, inc: Incident) -> None:
        self.remove(inc.id)
        keys: list[tuple[Category, str]] = []
        if inc.zone is not None:
            keys.append((inc.category, f"zone:{inc.zone}"))
        if inc.point is not None:
            lat_i, lon_i = _cell(inc.point)
            keys.append((inc.category, f"cell:{lat_i},{lon_i}"))
        for key in keys:
            self._buckets.setdefault(key, set()).add(inc.id)
        self._keys[inc.id] = keys

    def remove(self, incident_id: str) -> None:
        for key in self._keys.pop(incident_id, []):
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.discard(incident_id)
                if not bucket:
                    del self._buckets[key]

    def candidates(
        self, category: Category, zone: str | None, point: Point | None, radius_m: float | None
    ) -> Iterator[str]:
        """Ids in the same zone, or in map cells that may lie within `radius_m` of `point`."""
        seen: set[str] = set()
        keys: list[tuple[Category, str]] = []
        if zone is not None:
            keys.append((category, f"zone:{zone}"))
        if point is not None and radius_m is not None:
            lat_i, lon_i = _cell(point)
            k_lat = math.ceil(radius_m / 111_000 / CELL_DEG)
            cos = max(math.cos(math.radians(point.lat)), 0.01)
            k_lon = math.ceil(radius_m / (111_000 * cos) / CELL_DEG)
            for dy in range(-k_lat, k_lat + 1):
                for dx in range(-k_lon, k_lon + 1):
                    keys.append((category, f"cell:{lat_i + dy},{lon_i + dx}"))
        for key in keys:
            for incident_id in self._buckets.get(key, ()):
                if incident_id not in seen:
                    seen.add(incident_id)
                    yield incident_id
