"""Signal timing: configured intersections and Webster recommendations from current flows."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from citysentinel.api.auth import Viewer
from citysentinel.api.deps import Context
from citysentinel.traffic.signals import (
    IntersectionConfig,
    PlanStatus,
    SignalError,
    flow_per_hour,
    webster_plan,
)

router = APIRouter(prefix="/api/v1/signals", tags=["signals"])


class ApproachOut(BaseModel):
    """An approach (lane group) of a phase."""

    id: str
    saturation_flow: float = Field(description="Vehicles per hour of green.")
    sensor: str | None = Field(description="Flow sensor feeding this approach, if any.")


class PhaseOut(BaseModel):
    """A signal phase: approaches that get green together."""

    name: str
    approaches: list[ApproachOut]


class IntersectionOut(BaseModel):
    """A configured signalised intersection."""

    id: str
    name: str
    lon: float | None = Field(description="Where it is; null when not configured.")
    lat: float | None
    lost_time_s: float = Field(description="Total lost time per cycle, seconds.")
    min_cycle_s: float
    max_cycle_s: float
    phases: list[PhaseOut]


class FlowUsed(BaseModel):
    """The demand used for one approach, and where it came from."""

    approach: str
    flow: float = Field(description="Vehicles per hour.")
    source: str = Field(description="`query`, or `sensor:<id>` for the latest reading.")
    time: datetime | None = Field(description="Time of the sensor reading.")


class PhaseTimingOut(BaseModel):
    """One phase of the recommended plan."""

    name: str
    critical_approach: str = Field(description="The approach with the highest flow ratio.")
    flow_ratio: float = Field(description="q / s of the critical approach.")
    green_s: float = Field(description="Effective green, seconds.")
    degree_of_saturation: float | None = Field(description="y C / g.")


class RecommendationOut(BaseModel):
    """Webster's cycle and green split for an intersection."""

    intersection: str
    status: PlanStatus = Field(description="ok, capped (at max_cycle_s), oversaturated, no_flow.")
    cycle_s: float = Field(description="Recommended cycle, clamped to the configured bounds.")
    webster_cycle_s: float | None = Field(description="(1.5 L + 5) / (1 - Y); null when Y >= 1.")
    lost_time_s: float
    flow_ratio_sum: float = Field(description="Y, the sum of the critical flow ratios.")
    phases: list[PhaseTimingOut]
    flows: list[FlowUsed]
    message: str


def _find(ctx: Context, intersection_id: str) -> IntersectionConfig:
    found = next((x for x in ctx.site.intersections if x.id == intersection_id), None)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no intersection {intersection_id!r}")
    return found


@router.get("", response_model=list[IntersectionOut])
async def list_intersections(ctx: Context, _: Viewer) -> list[IntersectionOut]:
    """The configured intersections with their phases and approaches."""
    return [
        IntersectionOut(
            id=x.id,
            name=x.name,
            lon=x.location.lon if x.location else None,
            lat=x.location.lat if x.location else None,
            lost_time_s=x.lost_time,
            min_cycle_s=x.min_cycle_s,
            max_cycle_s=x.max_cycle_s,
            phases=[
                PhaseOut(
                    name=p.name,
                    approaches=[
                        ApproachOut(**a.model_dump(exclude={"id"}), id=a.id) for a in p.approaches
                    ],
                )
                for p in x.phases
            ],
        )
        for x in ctx.site.intersections
    ]


def _parse_flows(raw: list[str]) -> dict[str, float]:
    flows: dict[str, float] = {}
    for item in raw:
        approach, sep, value = item.partition(":")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not approach or not math.isfinite(number) or number < 0:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"flow {item!r} must be approach:vehicles_per_hour, e.g. north:540",
            )
        flows[approach] = number
    return flows


@router.get("/{intersection_id}/recommendation", response_model=RecommendationOut)
async def recommendation(
    intersection_id: str,
    ctx: Context,
    _: Viewer,
    flow: Annotated[
        list[str],
        Query(
            description="Demand per approach as `approach:vehicles_per_hour` (repeatable);"
            " approaches left out use their flow sensor's latest reading."
        ),
    ] = [],  # noqa: B006 (FastAPI reads the default; it is never mutated)
) -> RecommendationOut:
    """Webster's cycle and green split for the current (or given) approach flows."""
    config = _find(ctx, intersection_id)
    given = _parse_flows(flow)
    approaches = {a.id: a for p in config.phases for a in p.approaches}
    unknown = sorted(set(given) - set(approaches))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"intersection {intersection_id!r} has no approach(es) {unknown}",
        )
    used = [FlowUsed(approach=k, flow=v, source="query", time=None) for k, v in given.items()]
    wanted = {a.sensor: a.id for a in approaches.values() if a.id not in given and a.sensor}
    if wanted and ctx.traffic is not None:
        latest = await asyncio.to_thread(ctx.traffic.store.latest, list(wanted))
        units = {s.id: s.unit for s in ctx.site.sensors}
        for sensor, (when, value) in latest.items():
            if value is None or not math.isfinite(value) or sensor not in wanted:
                continue
            try:  # the sensor's own unit: a 5-minute count is not vehicles per hour
                per_hour = flow_per_hour(value, units.get(sensor, "veh/h"))
            except SignalError as exc:
                detail = f"flow sensor {sensor!r} of approach {wanted[sensor]!r}: {exc}"
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
            given[wanted[sensor]] = per_hour
            used.append(
                FlowUsed(
                    approach=wanted[sensor], flow=per_hour, source=f"sensor:{sensor}", time=when
                )
            )
    try:
        plan = webster_plan(config, given)
    except SignalError as exc:
        hint = "" if ctx.traffic is not None else " (no live sensor readings on this site)"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{exc}{hint}") from None
    return RecommendationOut(
        intersection=plan.intersection,
        status=plan.status,
        cycle_s=plan.cycle_s,
        webster_cycle_s=plan.webster_cycle_s,
        lost_time_s=plan.lost_time_s,
        flow_ratio_sum=plan.flow_ratio_sum,
        phases=[PhaseTimingOut(**vars(p)) for p in plan.phases],
        flows=used,
        message=plan.message,
    )
