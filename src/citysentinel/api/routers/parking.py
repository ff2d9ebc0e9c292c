"""Parking lots: occupied and free spaces now, and a 3-hour free-space forecast."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from citysentinel.api.auth import Viewer
from citysentinel.api.deps import CameraView, Context, StoreDep
from citysentinel.events import EventKind
from citysentinel.events.payloads import LineCrossingPayload
from citysentinel.storage.store import EventQuery, Store
from citysentinel.traffic.parking import (
    GRID_S,
    Crossing,
    LineCounts,
    LotStatus,
    ParkingLotConfig,
    ZoneCounts,
    lot_status,
    occupancy_track,
    zone_occupied,
)
from citysentinel.traffic.readings import ReadingStore

router = APIRouter(prefix="/api/v1/parking", tags=["parking"])
HISTORY_DAYS = 7  # occupancy history the forecast is fitted on
MAX_CROSSINGS = 50_000  # per lot and request, so a busy gate cannot stall the API


class FreeAt(BaseModel):
    """Free spaces forecast for one time."""

    time: datetime
    free: int = Field(description="Free spaces expected then.")


class LotOut(BaseModel):
    """A parking lot now and its free-space forecast."""

    id: str
    name: str
    lon: float | None
    lat: float | None
    capacity: int
    occupied: int | None = Field(description="Occupied spaces now; null when unknown.")
    free: int | None
    occupancy: float | None = Field(description="Occupied share of the capacity, 0-1.")
    updated_at: datetime | None = Field(description="Time of the last count or reading.")
    source: str = Field(description="lines (camera gate counts), zone (camera zone) or sensor.")
    drift: int = Field(description="Line counts clamped at 0 or capacity (missed crossings).")
    forecast: list[FreeAt] = Field(description="Free spaces every 15 minutes, 3 hours ahead.")
    message: str | None = Field(default=None, description="Why a figure is missing or partial.")


def _crossings(store: Store, counts: LineCounts, since: datetime) -> tuple[list[Crossing], bool]:
    """Gate crossings of the lot's lines and vehicle labels since `since`, oldest first.

    Stops after about `MAX_CROSSINGS`; the flag is False when crossings were left out.
    """
    out: list[Crossing] = []
    cursor: str | None = None
    while True:
        page = store.list_events(
            EventQuery(
                kind=[EventKind.VIDEO_LINE_CROSSING.value],
                source=counts.camera,
                since=since,
                order="asc",
                limit=min(1000, MAX_CROSSINGS),
                cursor=cursor,
            )
        )
        for item in page.items:
            p = item.event.payload
            if not isinstance(p, LineCrossingPayload) or p.line not in counts.lines:
                continue
            if p.label is not None and p.label not in counts.labels:
                continue
            out.append(Crossing(item.event.time, p.direction == counts.entering))
        cursor = page.next_cursor
        if cursor is None:
            return out, True
        if len(out) >= MAX_CROSSINGS:
            return out, False


def _zone_lot(
    lot: ParkingLotConfig, counts: ZoneCounts, view: CameraView | None, now: datetime
) -> LotStatus:
    """Vehicles in the camera zone now; zone counts are not stored, so no history."""
    stats = view.status().get("stats") if view is not None else None
    zones = getattr(stats, "zones", None)
    found = zone_occupied(zones, counts) if isinstance(zones, dict) else None
    if found is None:
        why = "is not running" if view is None else f"reports no zone {counts.zone!r} yet"
        return LotStatus(
            lot.id, lot.name, lot.capacity, None, None, None, "zone", 0, [],
            f"camera {counts.camera!r} {why}",
        )  # fmt: skip
    return lot_status(lot, [now], [float(found)], now=now, since=now)


def _line_lot(
    lot: ParkingLotConfig, counts: LineCounts, store: Store, since: datetime, now: datetime
) -> LotStatus:
    """Occupancy from the gate crossings since `since` (only today's when there are too many)."""
    crossings, complete = _crossings(store, counts, since)
    message = None
    if not complete:
        # Crossings come oldest first: a cut history would leave out the latest ones and
        # give a stale count. Today's (since the reset) are all the count now needs.
        since = lot.last_reset(now)
        crossings, complete = _crossings(store, counts, since)
        message = (
            f"over {MAX_CROSSINGS} gate crossings in {HISTORY_DAYS} days:"
            " the forecast uses today's only"
            if complete
            else f"over {MAX_CROSSINGS} gate crossings today: the count stops at the last read"
        )
    track = occupancy_track(crossings, lot, since)
    values = [float(v) for v in track.values]
    found = lot_status(lot, track.times, values, now=now, since=since, drift=track.drift)
    return found if message is None else replace(found, message=message)


def _lot(
    lot: ParkingLotConfig,
    store: Store,
    readings: ReadingStore | None,
    cameras: Mapping[str, CameraView],
    now: datetime,
) -> LotStatus:
    since = lot.last_reset(now) - timedelta(days=HISTORY_DAYS - 1)
    if isinstance(lot.counts, ZoneCounts):
        return _zone_lot(lot, lot.counts, cameras.get(lot.counts.camera), now)
    if isinstance(lot.counts, LineCounts):
        return _line_lot(lot, lot.counts, store, since, now)
    counts = lot.counts
    if readings is None:
        return LotStatus(
            lot.id, lot.name, lot.capacity, None, None, None, "sensor", 0, [],
            "no live sensor readings on this site (no traffic sensors configured)",
        )  # fmt: skip
    series = readings.window([counts.sensor], since, now, GRID_S)
    rows = np.nonzero(np.isfinite(series.values[:, 0]))[0]
    times = [series.time_at(int(i)) for i in rows]
    values = [float(v) for v in series.values[rows, 0]]
    if counts.measures == "free":
        values = [lot.capacity - v for v in values]
    return lot_status(lot, times, values, now=now, since=since)


def _out(lot: ParkingLotConfig, s: LotStatus) -> LotOut:
    return LotOut(
        id=s.id,
        name=s.name,
        lon=lot.location.lon if lot.location else None,
        lat=lot.location.lat if lot.location else None,
        capacity=s.capacity,
        occupied=s.occupied,
        free=s.free,
        occupancy=None if s.occupied is None else round(s.occupied / s.capacity, 4),
        updated_at=s.updated_at,
        source=s.source,
        drift=s.drift,
        forecast=[FreeAt(time=f.time, free=f.free) for f in s.forecast],
        message=s.message,
    )


@router.get("", response_model=list[LotOut])
async def list_lots(ctx: Context, store: StoreDep, _: Viewer) -> list[LotOut]:
    """Every configured lot: occupancy now and free spaces expected over the next 3 hours."""
    now = datetime.now(ctx.site.site.tz)
    readings = ctx.traffic.store if ctx.traffic is not None else None
    out = []
    for lot in ctx.site.parking_lots:
        status_ = await asyncio.to_thread(_lot, lot, store, readings, ctx.cameras, now)
        out.append(_out(lot, status_))
    return out


@router.get("/{lot_id}", response_model=LotOut)
async def get_lot(lot_id: str, ctx: Context, store: StoreDep, _: Viewer) -> LotOut:
    """One lot's occupancy and free-space forecast."""
    lot = next((p for p in ctx.site.parking_lots if p.id == lot_id), None)
    if lot is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no parking lot {lot_id!r}")
    readings = ctx.traffic.store if ctx.traffic is not None else None
    now = datetime.now(ctx.site.site.tz)
    return _out(lot, await asyncio.to_thread(_lot, lot, store, readings, ctx.cameras, now))
