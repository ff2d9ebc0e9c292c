"""Signal timing: Webster's optimal cycle and green splits for a configured intersection.

Webster (1958): with `y_i` the critical (highest) flow ratio q/s of phase i,
`Y = sum(y_i)` and `L` the total lost time per cycle,

    C0 = (1.5 L + 5) / (1 - Y)        g_i = (C - L) * y_i / Y

C0 is clamped to the intersection's [min_cycle_s, max_cycle_s]. When Y >= 1 no
cycle serves the demand: the plan says so (`status="oversaturated"`), runs the
longest allowed cycle and still splits its green in proportion to the flow
ratios, so each phase's queue grows at the same relative rate.

Example (two phases, 500 and 300 pcu/h on 1600 pcu/h approaches, L = 16 s):
    >>> site = IntersectionConfig(id="x", lost_time_s=16, phases=[
    ...     PhaseConfig(name="ns", approaches=[ApproachConfig(id="n", saturation_flow=1600)]),
    ...     PhaseConfig(name="ew", approaches=[ApproachConfig(id="e", saturation_flow=1600)])])
    >>> plan = webster_plan(site, {"n": 500, "e": 300})
    >>> plan.status, plan.webster_cycle_s, [p.green_s for p in plan.phases]
    ('ok', 58.0, [26.25, 15.75])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citysentinel.events import Point

PlanStatus = Literal["ok", "capped", "oversaturated", "no_flow"]
# Flow sensor units and the factor that makes their readings vehicles per hour.
FLOW_UNITS: dict[str, float] = {
    "veh/h": 1.0,
    "vph": 1.0,
    "veh/hr": 1.0,
    "veh/hour": 1.0,
    "pcu/h": 1.0,
    "veh/min": 60.0,
    "veh/5min": 12.0,
    "veh/15min": 4.0,
}


class SignalError(ValueError):
    """Flows missing or invalid for an intersection's approaches."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApproachConfig(_Strict):
    """One approach (lane group) that moves in a phase."""

    id: str = Field(
        pattern=r"^[A-Za-z0-9._-]+$", description="Approach id, unique in the intersection."
    )
    saturation_flow: float = Field(
        default=1800.0, gt=0, description="Saturation flow, vehicles (or pcu) per hour of green."
    )
    sensor: str | None = Field(
        default=None,
        description="Flow sensor whose latest reading (vehicles per hour) is this approach's"
        " demand when the request gives none.",
    )


class PhaseConfig(_Strict):
    """A signal phase: the approaches that get green together."""

    name: str = Field(description="Phase name, e.g. north-south through.")
    approaches: list[ApproachConfig] = Field(min_length=1, description="Approaches of the phase.")


class IntersectionConfig(_Strict):
    """A signalised intersection timed by Webster's method."""

    id: str = Field(pattern=r"^[A-Za-z0-9._-]+$", description="Intersection id used in the API.")
    name: str = Field(default="", description="Human-readable name.")
    location: Point | None = Field(default=None, description="Where it is, on the map.")
    phases: list[PhaseConfig] = Field(min_length=2, description="Phases in cycle order.")
    lost_time_s: float | None = Field(
        default=None,
        ge=0,
        description="Total lost time per cycle (start-up, clearance, all-red), seconds;"
        " default 4 s per phase.",
    )
    min_cycle_s: float = Field(default=30.0, gt=0, description="Shortest cycle allowed, seconds.")
    max_cycle_s: float = Field(default=120.0, gt=0, description="Longest cycle allowed, seconds.")

    @model_validator(mode="after")
    def _consistent(self) -> IntersectionConfig:
        if self.min_cycle_s > self.max_cycle_s:
            raise ValueError(
                f"min_cycle_s {self.min_cycle_s} exceeds max_cycle_s {self.max_cycle_s}"
            )
        ids = [a.id for p in self.phases for a in p.approaches]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"approach ids used twice: {twice}")
        if self.lost_time >= self.min_cycle_s:
            raise ValueError(
                f"lost time {self.lost_time} s leaves no green in a {self.min_cycle_s} s cycle"
            )
        return self

    @property
    def lost_time(self) -> float:
        """Total lost time per cycle, seconds."""
        return self.lost_time_s if self.lost_time_s is not None else 4.0 * len(self.phases)


def flow_per_hour(value: float, unit: str) -> float:
    """A flow sensor reading in vehicles per hour; SignalError for a unit that is not a flow.

    Example:
        >>> flow_per_hour(25, "veh/5min")
        300.0
    """
    factor = FLOW_UNITS.get(unit.strip().lower())
    if factor is None:
        raise SignalError(f"unit {unit!r} is not a flow; use one of {', '.join(FLOW_UNITS)}")
    return float(value) * factor


@dataclass(frozen=True)
class PhaseTiming:
    """One phase of a plan: its critical approach, flow ratio, effective green, saturation."""

    name: str
    critical_approach: str
    flow_ratio: float
    green_s: float
    degree_of_saturation: float | None


@dataclass(frozen=True)
class SignalPlan:
    """A recommended cycle and green split for one intersection."""

    intersection: str
    status: PlanStatus
    cycle_s: float
    webster_cycle_s: float | None
    lost_time_s: float
    flow_ratio_sum: float
    phases: tuple[PhaseTiming, ...]
    message: str


def webster_plan(config: IntersectionConfig, flows: Mapping[str, float]) -> SignalPlan:
    """Cycle and effective greens from each approach's demand `flows` (vehicles per hour).

    Raises `SignalError` naming approaches without a flow or with a negative one.
    """
    missing = [a.id for p in config.phases for a in p.approaches if a.id not in flows]
    if missing:
        raise SignalError(f"no flow for approach(es) {missing} of intersection {config.id!r}")
    bad = [k for k, v in flows.items() if not (math.isfinite(v) and v >= 0)]
    if bad:
        raise SignalError(f"flows must be finite and non-negative: {sorted(bad)}")
    critical = [
        max(((a.id, flows[a.id] / a.saturation_flow) for a in p.approaches), key=lambda r: r[1])
        for p in config.phases
    ]
    y_sum = sum(y for _, y in critical)
    lost = config.lost_time
    c0 = (1.5 * lost + 5.0) / (1.0 - y_sum) if y_sum < 1.0 else None
    status: PlanStatus
    if y_sum == 0:
        status, cycle = "no_flow", config.min_cycle_s
        message = "no demand on any approach: shortest cycle, green split evenly"
    elif c0 is None:
        status, cycle = "oversaturated", config.max_cycle_s
        message = (
            f"demand exceeds capacity (Y = {y_sum:.3f} >= 1): no cycle clears the queues;"
            " longest cycle, green in proportion to flow ratios; reduce demand or add capacity"
        )
    else:
        cycle = min(max(c0, config.min_cycle_s), config.max_cycle_s)
        status = "capped" if c0 > config.max_cycle_s else "ok"
        message = f"Webster cycle {c0:.1f} s"
        if status == "capped":
            message += f", capped at {cycle:.0f} s"
        elif c0 < config.min_cycle_s:
            message += f", raised to the {cycle:.0f} s minimum"
    green = cycle - lost
    shares = [y / y_sum if y_sum else 1.0 / len(critical) for _, y in critical]
    phases = tuple(
        PhaseTiming(
            name=p.name,
            critical_approach=a,
            flow_ratio=round(y, 4),
            green_s=round(green * share, 2),
            degree_of_saturation=round(y * cycle / (green * share), 3) if share else None,
        )
        for p, (a, y), share in zip(config.phases, critical, shares, strict=True)
    )
    return SignalPlan(
        intersection=config.id,
        status=status,
        cycle_s=round(cycle, 2),
        webster_cycle_s=None if c0 is None else round(c0, 2),
        lost_time_s=lost,
        flow_ratio_sum=round(y_sum, 4),
        phases=phases,
        message=message,
    )
