"""Routing and dispatch: fastest routes, the road network as GeoJSON, units ranked by ETA.

Before answering, the router takes the live speeds of mapped sensors (when the site
has a traffic service) and, at most every `roads.closures.refresh_s`, the open
incidents whose roads it closes or penalises.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.api.auth import Operator, Viewer
from citysentinel.api.deps import Context, DispatcherDep, RouterDep, StoreDep
from citysentinel.events import Point
from citysentinel.incidents import Incident, IncidentStatus
from citysentinel.storage.store import IncidentQuery, Store
from citysentinel.traffic.dispatch import Unit, UnitEta, UnknownUnit
from citysentinel.traffic.roads import LineString, RoadFeatureCollection
from citysentinel.traffic.routing import IncidentSite, LatLon, NoRoute, NotOnNetwork, Router

router = APIRouter(tags=["routing"])
MAX_INCIDENT_PAGES = 20  # 10,000 active incidents are plenty for closures


class RouteOut(BaseModel):
    """The fastest route under current speeds and closures."""

    distance_m: float = Field(
        description="Along the roads, from the origin's to the target's node."
    )
    duration_s: float = Field(description="With live speeds and incident penalties.")
    free_flow_duration_s: float = Field(description="The same roads at free-flow speeds.")
    geometry: LineString
    roads: list[str] = Field(description="Street names in driving order.")
    avoided: list[str] = Field(
        description="Ids of open incidents on the best route without closures, avoided here."
    )
    snapped_m: tuple[float, float] = Field(
        description="How far origin and destination are from the road nodes used."
    )


class UnitOut(BaseModel):
    """A response unit and where it is now."""

    id: str = Field(description="Unit id from `units:` in the site config.")
    kind: str = Field(description="ambulance, fire engine, patrol car, ...")
    name: str
    position: Point = Field(description="Its base, or the last live position reported.")
    live: bool = Field(description="True once a live position replaced the configured base.")


class UnitEtaOut(UnitOut):
    """A unit with its estimated driving time to the incident."""

    eta_s: float | None = Field(description="Estimated driving time; null when unreachable.")
    distance_m: float | None = Field(description="Along the roads.")
    reason: str | None = Field(description="Why there is no ETA.")


class DispatchOut(BaseModel):
    """Response units ranked for one incident."""

    incident_id: str
    units: list[UnitEtaOut] = Field(description="Fastest first; unreachable units last.")


class PositionIn(BaseModel):
    """A unit's live position, WGS84 degrees."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


def _point(text: str, name: str) -> LatLon:
    try:
        return LatLon.parse(text)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{name}: {exc}") from exc


def _active_incidents(store: Store) -> list[Incident]:
    query = IncidentQuery(status=[IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED], limit=500)
    found: list[Incident] = []
    for _ in range(MAX_INCIDENT_PAGES):
        page = store.list_incidents(query)
        found.extend(page.items)
        if page.next_cursor is None:
            break
        query = query.model_copy(update={"cursor": page.next_cursor})
    return found


def _sync(ctx: Context, store: Store, roads: Router) -> None:
    """Live sensor speeds and (when due) the open incidents into the router's state."""
    if ctx.traffic is not None:  # sensors not mapped to a road are ignored by the router
        roads.apply_readings(
            {s.sensor.id: None if s.stale else s.latest_value for s in ctx.traffic.states()}
        )
    closures = ctx.site.roads.closures
    if time.monotonic() - roads.incidents_at >= closures.refresh_s:
        active = _active_incidents(store)
        roads.set_incidents(IncidentSite.from_incidents(active, closures.categories))


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A point is not `lat,lon` within range."},
    404: {"description": "No open road connects the points."},
    422: {"description": "A point is farther than `roads.max_snap_m` from the roads."},
    503: {"description": "No road network is configured or it could not be loaded."},
}


@router.get("/api/v1/routes", response_model=RouteOut, responses=_ERRORS)
def get_route(
    ctx: Context,
    store: StoreDep,
    roads: RouterDep,
    _: Viewer,
    origin: Annotated[
        str, Query(alias="from", description="lat,lon", examples=["37.8077,-122.3005"])
    ],
    destination: Annotated[str, Query(alias="to", description="lat,lon")],
    avoid_incidents: Annotated[
        bool, Query(description="Close or penalise roads around open incidents.")
    ] = True,
) -> RouteOut:
    """The fastest route between two points (400 bad point, 422 off the network, 404 no route)."""
    start, end = _point(origin, "from"), _point(destination, "to")
    _sync(ctx, store, roads)
    try:
        found = roads.route(start, end, avoid_incidents=avoid_incidents)
    except NotOnNetwork as exc:
        raise HTTPException(422, str(exc)) from exc
    except NoRoute as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return RouteOut(
        distance_m=found.distance_m,
        duration_s=found.duration_s,
        free_flow_duration_s=found.free_flow_duration_s,
        geometry=found.geometry,
        roads=found.roads,
        avoided=found.avoided,
        snapped_m=found.snap_m,
    )


@router.get(
    "/api/v1/roads",
    response_class=Response,
    responses={
        200: {
            "model": RoadFeatureCollection,
            "description": "GeoJSON FeatureCollection, one LineString per directed segment.",
        },
        503: _ERRORS[503],
    },
)
def get_roads(ctx: Context, store: StoreDep, roads: RouterDep, _: Viewer) -> Response:
    """The road network as GeoJSON LineStrings with current speed, travel time and closures."""
    _sync(ctx, store, roads)
    # Serialised by the network itself: pydantic would take seconds on a city's 30k segments.
    return Response(roads.roads_json(), media_type="application/json")


def _unit_out(unit: Unit) -> UnitOut:
    return UnitOut(
        id=unit.id,
        kind=unit.kind,
        name=unit.name,
        position=Point(coordinates=(unit.position.lon, unit.position.lat)),
        live=unit.live,
    )


def _eta_out(eta: UnitEta) -> UnitEtaOut:
    base = _unit_out(eta.unit)
    return UnitEtaOut(
        **base.model_dump(), eta_s=eta.eta_s, distance_m=eta.distance_m, reason=eta.reason
    )


@router.get(
    "/api/v1/incidents/{incident_id}/dispatch",
    response_model=DispatchOut,
    responses={
        404: {"description": "No such incident."},
        422: {"description": "The incident has no map point, or it is too far from the roads."},
        503: _ERRORS[503],
    },
)
def dispatch(
    incident_id: str,
    ctx: Context,
    store: StoreDep,
    dispatcher: DispatcherDep,
    _: Viewer,
) -> DispatchOut:
    """Response units ranked by estimated driving time to the incident (its own closures lifted)."""
    incident = store.get_incident(incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id!r}")
    if incident.point is None:
        raise HTTPException(
            422,
            f"incident {incident_id} has no map point, so no travel time can be estimated",
        )
    _sync(ctx, store, dispatcher.router)
    target = LatLon(incident.point.lat, incident.point.lon)
    try:
        ranked = dispatcher.rank(target, incident_id=incident_id)
    except NotOnNetwork as exc:
        raise HTTPException(422, f"incident: {exc}") from exc
    return DispatchOut(incident_id=incident_id, units=[_eta_out(e) for e in ranked])


@router.get("/api/v1/units", response_model=list[UnitOut], responses={503: _ERRORS[503]})
def list_units(dispatcher: DispatcherDep, _: Viewer) -> list[UnitOut]:
    """The configured response units and where they are."""
    return [_unit_out(u) for u in dispatcher.units]


@router.put(
    "/api/v1/units/{unit_id}/position",
    response_model=UnitOut,
    responses={404: {"description": "No such unit."}, 503: _ERRORS[503]},
)
def move_unit(unit_id: str, body: PositionIn, dispatcher: DispatcherDep, _: Operator) -> UnitOut:
    """A unit's live position (from its vehicle tracker); dispatch uses it from now on."""
    try:
        moved = dispatcher.move(unit_id, LatLon(body.lat, body.lon))
    except UnknownUnit as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return _unit_out(moved)
