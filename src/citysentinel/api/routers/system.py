"""Health, Prometheus metrics and the site description (sources, zones, rules)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from citysentinel.api.auth import Viewer
from citysentinel.api.deps import Context

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(ctx: Context) -> JSONResponse:
    """200 when the database answers and the pipeline runs; 503 otherwise. No auth."""
    checks: dict[str, Any] = {}
    try:
        with ctx.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["pipeline"] = "ok" if ctx.pipeline.started else "stopped"
    checks["engine_queue"] = ctx.pipeline.event_bus.depth("events")
    checks["sinks"] = {
        s.name: ("connected" if getattr(s, "connected", True) else "disconnected")
        for s in ctx.pipeline.sinks
    }
    healthy = checks["database"] == "ok" and checks["pipeline"] == "ok"
    body = {
        "status": "ok" if healthy else "unhealthy",
        "uptime_s": round(time.time() - ctx.started_at, 1),
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/metrics", response_class=Response)
def metrics(ctx: Context) -> Response:
    """Prometheus text exposition. No auth: scrape it from the operations network."""
    lag = ctx.pipeline.event_bus.depth("events")
    ctx.metrics.engine_lag_events.set(lag)
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/site", tags=["site"])
def site(ctx: Context, _: Viewer) -> dict[str, Any]:
    """The site: name, time zone, map centre, zones, cameras, feeds, sensors and rules."""
    s = ctx.site
    return {
        "site": s.site.model_dump(mode="json"),
        "zones": [z.model_dump(mode="json") for z in s.zones],
        "cameras": [c.model_dump(mode="json") for c in s.cameras],
        "text_feeds": [f.model_dump(mode="json") for f in s.text_feeds],
        "sensors": [x.model_dump(mode="json") for x in s.sensors],
        "rules": [r.model_dump(mode="json") for r in s.rules],
    }
