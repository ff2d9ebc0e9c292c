"""Traffic commands: `citysentinel route` on an OpenStreetMap file, `traffic import` readings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from citysentinel.cli.common import (
    ConfigArg,
    DbUrl,
    app,
    load_site,
    print_result,
    settings_with,
    show_progress,
)

OsmOpt = Annotated[Path, typer.Option("--osm", help="OpenStreetMap XML file (.osm or .osm.bz2).")]


@app.command("route")
def route(
    osm: OsmOpt,
    origin: Annotated[str, typer.Option("--from", help="Start as lat,lon.")],
    destination: Annotated[str, typer.Option("--to", help="End as lat,lon.")],
    simplify: Annotated[
        bool, typer.Option(help="Merge nodes between intersections (coarser snapping).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """The fastest route at free-flow speeds: distance, duration, roads and GeoJSON line."""
    from citysentinel.traffic.roads import RoadNetworkError, load_road_network
    from citysentinel.traffic.routing import LatLon, NoRoute, NotOnNetwork, Router

    def compute() -> dict[str, Any]:
        start, end = LatLon.parse(origin), LatLon.parse(destination)
        found = Router(load_road_network(osm, simplify=simplify)).route(start, end)
        return {
            "distance_m": found.distance_m,
            "duration_s": found.duration_s,
            "free_flow_duration_s": found.free_flow_duration_s,
            "roads": found.roads,
            "snapped_m": list(found.snap_m),
            "geometry": found.geometry.model_dump(),
        }

    print_result(compute, (RoadNetworkError, NotOnNetwork, NoRoute, ValueError), as_json)


traffic_app = typer.Typer(help="Live road-sensor readings.", no_args_is_help=True)
app.add_typer(traffic_app, name="traffic")


@traffic_app.command("import")
def import_readings(
    file: Annotated[Path, typer.Argument(help="CSV of readings.")],
    config: ConfigArg,
    fmt: Annotated[
        Literal["wide", "long"],
        typer.Option("--format", help="wide: a column per sensor; long: time, sensor, value."),
    ] = "wide",
    start: Annotated[
        str | None,
        typer.Option(help="Time of the first row of a wide file without a time column (ISO)."),
    ] = None,
    database_url: DbUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Store a CSV of readings of the site's sensors; bad readings are flagged and counted."""
    from citysentinel.events.model import utcnow
    from citysentinel.storage import db
    from citysentinel.storage.readings import SqlReadingStore
    from citysentinel.traffic import SeriesError
    from citysentinel.traffic.importer import ImportFailed, import_csv

    site = load_site(config)
    url = settings_with(database_url).resolve_database_url(site)
    show_progress("citysentinel.traffic.importer")

    def compute() -> dict[str, Any]:
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            store = SqlReadingStore(engine)
            ids = [s.id for s in site.sensors]
            report = import_csv(
                file, store, ids, site.traffic.step_s, fmt=fmt, start=start, now=utcnow()
            )
            return report.as_dict()
        finally:
            engine.dispose()

    print_result(compute, (ImportFailed, SeriesError, OSError), as_json)
