"""Collaborators handed to routes through `Annotated[..., Depends(...)]` aliases."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import Depends, HTTPException, status

from citysentinel.config import SiteConfig
from citysentinel.metrics import Metrics
from citysentinel.pipeline import Pipeline
from citysentinel.storage.admin import AdminStore, ApiKeyInfo
from citysentinel.storage.store import Store
from citysentinel.text.analyzer import TextAnalyzer
from citysentinel.text.registry import TextModelRegistry
from citysentinel.traffic.dispatch import Dispatcher
from citysentinel.traffic.routing import Router
from citysentinel.traffic.service import TrafficService


class KeyCache:
    """Recently checked keys, so a busy ingest does not hit the database per request."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, ApiKeyInfo | None]] = {}

    def get(self, digest: str) -> tuple[bool, ApiKeyInfo | None]:
        hit = self._entries.get(digest)
        if hit is None or time.monotonic() - hit[0] > self.ttl_s:
            return False, None
        return True, hit[1]

    def put(self, digest: str, info: ApiKeyInfo | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (time.monotonic(), info)

    def clear(self) -> None:
        self._entries.clear()


class CameraView(Protocol):
    """What the API shows of a running camera (implemented by the camera worker)."""

    camera_id: str

    def status(self) -> dict[str, Any]: ...

    def frame_jpeg(self, overlays: bool = True) -> bytes | None: ...


@dataclass
class ApiContext:
    """Everything the routes need; built by the composition root and injected per request."""

    site: SiteConfig
    store: Store
    admin: AdminStore
    pipeline: Pipeline
    metrics: Metrics
    cameras: Mapping[str, CameraView] = field(default_factory=dict)
    evidence_dir: Path | None = None
    text_analyzers: Mapping[str, TextAnalyzer] = field(default_factory=dict)
    text_models: TextModelRegistry | None = None  # registered models for hot swapping
    traffic: TrafficService | None = None
    router: Router | None = None
    dispatcher: Dispatcher | None = None
    roads_error: str = "no road network is configured (set roads.osm in the site config)"
    key_cache: KeyCache = field(default_factory=lambda: KeyCache(5.0))
    started_at: float = field(default_factory=time.time)


def get_context() -> ApiContext:
    """Overridden by `create_app` with the real context."""
    raise RuntimeError("the API context was not wired; build the app with create_app()")


Context = Annotated[ApiContext, Depends(get_context)]


def get_store(ctx: Context) -> Store:
    return ctx.store


def get_admin(ctx: Context) -> AdminStore:
    return ctx.admin


def get_pipeline(ctx: Context) -> Pipeline:
    return ctx.pipeline


StoreDep = Annotated[Store, Depends(get_store)]
AdminDep = Annotated[AdminStore, Depends(get_admin)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]


def get_traffic(ctx: Context) -> TrafficService:
    if ctx.traffic is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this site has no road sensors configured")
    return ctx.traffic


TrafficDep = Annotated[TrafficService, Depends(get_traffic)]


def get_router(ctx: Context) -> Router:
    if ctx.router is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, ctx.roads_error)
    return ctx.router


def get_dispatcher(ctx: Context) -> Dispatcher:
    if ctx.dispatcher is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, ctx.roads_error)
    return ctx.dispatcher


RouterDep = Annotated[Router, Depends(get_router)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
