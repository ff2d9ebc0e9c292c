"""Road sensors: post readings, list sensors with status, a sensor's series and forecasts."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.api.auth import Operator, Viewer
from citysentinel.api.deps import Context, TrafficDep
from citysentinel.traffic.readings import RawReading

router = APIRouter(prefix="/api/v1/traffic", tags=["traffic"])
MAX_SERIES_STEPS = 10_000
DEFAULT_SPAN = timedelta(hours=3)


class ReadingIn(BaseModel):
    """One reading; bad times and values are flagged in the answer, not refused."""

    model_config = ConfigDict(extra="forbid")

    sensor: str = Field(max_length=200, description="A configured sensor id.")
    time: str | float = Field(description="ISO 8601 (naive = UTC) or Unix seconds.")
    value: float | str | None = Field(description="The reading; null reports a gap.")


class ReadingBatch(BaseModel):
    """Readings wrapped in an object."""

    model_config = ConfigDict(extra="forbid")

    readings: list[ReadingIn] = Field(description="The readings.")


ReadingPost = Annotated[
    list[ReadingIn] | ReadingBatch,
    Body(description="A list of {sensor, time, value}, or `{readings: [...]}`."),
]


class FlagOut(BaseModel):
    index: int = Field(description="Position of the reading in the request.")
    sensor: str
    flag: str = Field(
        description="unknown_sensor, bad_time, not_a_number, negative, future (dropped);"
        " out_of_order (stored); duplicate (same sensor and step: the last one is stored)."
    )
    detail: str


class IngestOut(BaseModel):
    received: int = Field(description="Readings in the request.")
    stored: int = Field(description="Readings stored (one per sensor and step).")
    dropped: int = Field(description="Readings not stored: invalid, or an earlier duplicate.")
    counts: dict[str, int] = Field(description="Flagged readings by flag.")
    flagged: list[FlagOut]


@router.post("/readings", response_model=IngestOut)
async def post_readings(
    body: ReadingPost, request: Request, ctx: Context, traffic: TrafficDep, _: Operator
) -> IngestOut:
    """Store a batch of sensor readings (one per sensor and step, the last one wins)."""
    items = body.readings if isinstance(body, ReadingBatch) else body
    limit = ctx.site.api.max_batch_events
    if len(items) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"batch has {len(items)} readings; the limit is {limit}",
        )
    checked = await traffic.ingest([RawReading(r.sensor, r.time, r.value) for r in items])
    counts = Counter(f.flag.value for f in checked.flagged)
    request.state.audit_detail = {"readings": len(items), "stored": len(checked.accepted)}
    return IngestOut(
        received=checked.received,
        stored=len(checked.accepted),
        dropped=checked.dropped,
        counts=dict(counts),
        flagged=[
            FlagOut(index=f.index, sensor=f.sensor, flag=f.flag, detail=f.detail)
            for f in checked.flagged
        ],
    )


class LatLon(BaseModel):
    lat: float
    lon: float


class Latest(BaseModel):
    time: datetime = Field(description="Start of the step of the newest reading.")
    value: float | None


class SensorOut(BaseModel):
    id: str
    kind: str
    unit: str
    road: str | None
    name: str | None
    location: LatLon | None
    latest: Latest | None
    stale: bool = Field(description="No reading for longer than traffic.stale_after_s.")
    status: Literal["free", "slow", "congested", "unknown"]
    free_flow: float | None = Field(description="The free-flow reference of the status.")


class MqttOut(BaseModel):
    connected: bool
    messages: int = Field(description="Messages received since the start.")
    bad_payloads: int = Field(description="Messages that held no readings.")
    flagged: dict[str, int] = Field(description="Flagged readings by flag.")


class SensorList(BaseModel):
    items: list[SensorOut]
    model: str | None = Field(description="Forecaster in use.")
    model_error: str | None = Field(description="Why the configured forecaster is not in use.")
    mqtt: MqttOut | None = Field(description="The MQTT subscription, when configured.")


@router.get("/sensors", response_model=SensorList)
def list_sensors(traffic: TrafficDep, _: Viewer) -> SensorList:
    """Every configured sensor with its latest reading, stale flag and free/slow/congested."""
    snap = traffic.snapshot
    items = []
    for st in traffic.states():
        s = st.sensor
        items.append(
            SensorOut(
                id=s.id,
                kind=s.kind,
                unit=s.unit,
                road=s.road,
                name=s.name,
                location=LatLon(lat=s.lat, lon=s.lon)
                if s.lat is not None and s.lon is not None
                else None,
                latest=Latest(time=st.latest_time, value=st.latest_value)
                if st.latest_time is not None
                else None,
                stale=st.stale,
                status=st.status,
                free_flow=st.free_flow,
            )
        )
    sub = traffic.mqtt
    mqtt = None
    if sub is not None:
        mqtt = MqttOut(
            connected=sub.connected.is_set(),
            messages=sub.messages,
            bad_payloads=sub.bad_payloads,
            flagged=dict(traffic.mqtt_flags),
        )
    return SensorList(
        items=items,
        model=snap.model if snap else None,
        model_error=traffic.model_error,
        mqtt=mqtt,
    )


class ObservedPoint(BaseModel):
    time: datetime
    value: float | None


class ForecastPoint(BaseModel):
    time: datetime
    value: float
    horizon: int = Field(description="Steps after issued_at.")


class ForecastOut(BaseModel):
    issued_at: datetime = Field(description="Time of the last step the forecast read.")
    model: str
    stale: bool = Field(description="Made from inputs older than traffic.stale_after_s.")
    points: list[ForecastPoint]


class SeriesOut(BaseModel):
    sensor: str
    unit: str
    step_s: float
    observed: list[ObservedPoint]
    forecast: ForecastOut | None


def _aware(t: datetime | None) -> datetime | None:
    return None if t is None else (t if t.tzinfo else t.replace(tzinfo=UTC))


@router.get("/sensors/{sensor_id}/series", response_model=SeriesOut)
async def sensor_series(
    sensor_id: str,
    traffic: TrafficDep,
    _: Viewer,
    since: Annotated[datetime | None, Query(description="Default: `until` minus 3 hours.")] = None,
    until: Annotated[datetime | None, Query(description="Default: now.")] = None,
) -> SeriesOut:
    """A sensor's readings on the step grid (null = missing) and its latest forecast."""
    sensor = traffic.graph.get(sensor_id)
    if sensor is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no sensor {sensor_id!r}")
    end = _aware(until) or traffic.clock()
    start = _aware(since) or end - DEFAULT_SPAN
    step = traffic.config.step_s
    if start >= end:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "since must be before until")
    if (end - start).total_seconds() / step > MAX_SERIES_STEPS:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"at most {MAX_SERIES_STEPS} steps of {step:g} s a request"
        )
    series = await traffic.observed(sensor_id, start, end)
    observed = [
        ObservedPoint(time=series.time_at(i), value=None if math.isnan(v) else float(v))
        for i, v in enumerate(series.values[:, 0])
    ]
    snap = traffic.snapshot
    forecast = None
    if snap is not None:
        points = [
            ForecastPoint(time=t, value=v, horizon=k)
            for k, (t, v) in enumerate(zip(snap.times(), snap.of(sensor_id), strict=True), 1)
        ]
        forecast = ForecastOut(
            issued_at=snap.issued_at,
            model=snap.model,
            stale=traffic.forecast_stale(sensor_id),
            points=points,
        )
    return SeriesOut(
        sensor=sensor_id, unit=sensor.unit, step_s=step, observed=observed, forecast=forecast
    )


class SensorForecastOut(BaseModel):
    sensor: str
    unit: str
    time: datetime | None = Field(description="The step forecast (issued_at + horizon steps).")
    value: float | None
    stale: bool


class ForecastList(BaseModel):
    horizon: int = Field(description="Steps ahead (3, 6, 12 = 15, 30, 60 min at 5-min steps).")
    issued_at: datetime | None
    model: str | None
    items: list[SensorForecastOut]


@router.get("/forecasts", response_model=ForecastList)
def list_forecasts(
    traffic: TrafficDep,
    _: Viewer,
    horizon: Annotated[int, Query(ge=1, le=288, description="Steps ahead.")] = 3,
) -> ForecastList:
    """Every sensor's forecast `horizon` steps after the last step read, with its stale flag."""
    snap = traffic.snapshot
    if snap is not None and horizon > snap.values.shape[0]:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"the {snap.model} forecast reaches {snap.values.shape[0]} steps ahead",
        )
    items = []
    for sensor in traffic.graph.sensors:
        value = time = None
        if snap is not None:
            value = snap.of(sensor.id)[horizon - 1]
            time = snap.times()[horizon - 1]
        items.append(
            SensorForecastOut(
                sensor=sensor.id,
                unit=sensor.unit,
                time=time,
                value=value,
                stale=traffic.forecast_stale(sensor.id),
            )
        )
    return ForecastList(
        horizon=horizon,
        issued_at=snap.issued_at if snap else None,
        model=snap.model if snap else None,
        items=items,
    )
