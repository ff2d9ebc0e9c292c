"""Dispatch: rank response units by estimated travel time to an incident.

One Dijkstra from the incident's node over the reversed road graph gives every
node's time *to* the incident at once, so ranking N units costs one search, not N
routes. Units start at their configured base and may report live positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from citysentinel.traffic.routing import LatLon, NotOnNetwork, Router, TravelTimes


@dataclass(frozen=True)
class Unit:
    """A response unit (ambulance, fire engine, patrol car, ...) and where it is."""

    id: str
    kind: str
    position: LatLon
    name: str = ""
    live: bool = False  # True once a live position replaced the configured base


@dataclass(frozen=True)
class UnitEta:
    """One unit's estimated travel to the incident; `eta_s` None when it cannot get there."""

    unit: Unit
    eta_s: float | None
    distance_m: float | None
    reason: str | None = None


class UnknownUnit(LookupError):
    """A unit id that is not configured."""


class Dispatcher:
    """The units of a site and their ranking for an incident.

    Example:
        >>> amb = Unit("amb-1", "ambulance", LatLon(37.81, -122.30))
        >>> d = Dispatcher(router, [amb])  # doctest: +SKIP
        >>> [(e.unit.id, e.eta_s) for e in d.rank(LatLon(37.808, -122.301))]  # doctest: +SKIP
        [('amb-1', 74.3)]
    """

    def __init__(self, router: Router, units: Sequence[Unit]) -> None:
        self.router = router
        self._units = {u.id: u for u in units}

    @property
    def units(self) -> list[Unit]:
        """The units with their current positions."""
        return list(self._units.values())

    def move(self, unit_id: str, position: LatLon) -> Unit:
        """A live position for a unit (replaces the previous one)."""
        unit = self._units.get(unit_id)
        if unit is None:
            raise UnknownUnit(f"no unit {unit_id!r}; units are configured under `units:`")
        moved = replace(unit, position=position, live=True)
        self._units[unit_id] = moved
        return moved

    def rank(self, target: LatLon, *, incident_id: str | None = None) -> list[UnitEta]:
        """Units by travel time to `target`, fastest first; unreachable ones last.

        `incident_id`'s own closures are lifted (units must reach it); others apply.
        Raises NotOnNetwork when the target is too far from the roads.
        """
        node, _ = self.router.snap(target)
        times = self.router.travel_times_to(node, ignore_incident=incident_id)
        out = [self._eta(unit, times) for unit in self._units.values()]
        return sorted(out, key=lambda e: (e.eta_s is None, e.eta_s or 0.0, e.unit.id))

    def _eta(self, unit: Unit, times: TravelTimes) -> UnitEta:
        try:
            start, _ = self.router.snap(unit.position)
        except NotOnNetwork as exc:
            return UnitEta(unit, None, None, str(exc))
        seconds = times.to_target(start)
        if seconds is None:
            return UnitEta(unit, None, None, "no open road from the unit to the incident")
        return UnitEta(unit, round(seconds, 1), round(times.distance_m(start), 1))
