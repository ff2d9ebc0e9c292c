"""The composition root: builds storage, sinks, pipeline and API from the site config, runs them."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from citysentinel.api.app import create_app
from citysentinel.api.deps import ApiContext
from citysentinel.config import CameraConfig, Settings, SiteConfig
from citysentinel.events import Event, EventKind
from citysentinel.metrics import Metrics
from citysentinel.pipeline import EVENTS, Pipeline
from citysentinel.sinks.base import DeadLetter, Sink
from citysentinel.sinks.mqtt import MqttSink
from citysentinel.sinks.webhook import WebhookSink
from citysentinel.sources.video import VideoSource
from citysentinel.storage import db
from citysentinel.storage.admin import AdminStore, Role
from citysentinel.storage.readings import SqlReadingStore
from citysentinel.storage.store import EventQuery, Store
from citysentinel.text.feeds import TextFeed, build_analyzers, build_feeds
from citysentinel.text.registry import TextModelRegistry, text_model_root
from citysentinel.text.surge_watch import Stored, SurgeWatcher, monitor_from_config
from citysentinel.traffic.detect import LiveDetector
from citysentinel.traffic.dispatch import Dispatcher, Unit
from citysentinel.traffic.graph import Sensor, SensorGraph
from citysentinel.traffic.live import TrafficSetupError
from citysentinel.traffic.roads import RoadNetworkError, load_road_network
from citysentinel.traffic.routing import ClosurePolicy, LatLon, Router
from citysentinel.traffic.series import SeriesError
from citysentinel.traffic.service import TrafficService
from citysentinel.vision.analyzer import CameraAnalyzer
from citysentinel.vision.camera import (
    AnalyzerFactory,
    CameraWorker,
    FrameAnalyzer,
    Snapshotter,
    SnapshotterFactory,
)
from citysentinel.vision.detectors import build_detector
from citysentinel.vision.snapshot import SnapshotWriter

log = logging.getLogger(__name__)


class NotMigrated(RuntimeError):
    """The database is behind the code's schema and may not be upgraded automatically."""


@dataclass
class Runtime:
    """One running site: storage, pipeline, cameras and API, wired together."""

    site: SiteConfig
    database_url: str
    store: Store
    admin: AdminStore
    metrics: Metrics
    pipeline: Pipeline
    api: FastAPI
    cameras: dict[str, CameraWorker] = field(default_factory=dict)
    _emitter: CameraEmitter | None = None
    text_feeds: dict[str, TextFeed] = field(default_factory=dict)
    surges: SurgeWatcher | None = None
    traffic: TrafficService | None = None
    router: Router | None = None  # the road network, loaded once
    dispatcher: Dispatcher | None = None

    async def start(self) -> None:
        await self.pipeline.start()
        if self._emitter is not None:
            self._emitter.loop = asyncio.get_running_loop()
        for worker in self.cameras.values():
            worker.start()
        if self.surges is not None:
            await self.surges.start()
        for feed in self.text_feeds.values():
            feed.start()
        if self.traffic is not None:
            await self.traffic.start()

    async def stop(self) -> None:
        if self.traffic is not None:
            await self.traffic.stop()
        await asyncio.gather(*(feed.stop() for feed in self.text_feeds.values()))
        if self.surges is not None:
            await self.surges.stop()
        for worker in self.cameras.values():
            worker.source.stop.set()
        await asyncio.gather(*(asyncio.to_thread(w.stop) for w in self.cameras.values()))
        await self.pipeline.stop()
        self.store.engine.dispose()

    def ensure_admin_key(self, key_file: Path | None) -> str | None:
        """Create a first admin key when none exists; returns it (shown once)."""
        if self.admin.count_keys():
            return None
        _, plain = self.admin.create_key("first-admin", Role.ADMIN, created_by="setup")
        if key_file is not None:
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(plain + "\n", encoding="utf-8")
            os.chmod(key_file, 0o600)
        return plain


def build_sinks(site: SiteConfig, metrics: Metrics, admin: AdminStore) -> list[Sink]:
    async def dead_letter(letter: DeadLetter) -> None:
        await asyncio.to_thread(admin.add_dead_letter, letter)

    sinks: list[Sink] = []
    mqtt = site.sinks.mqtt
    if mqtt is not None and mqtt.enabled:
        sinks.append(MqttSink(mqtt, metrics))
    for hook in site.sinks.webhooks:
        sinks.append(WebhookSink(hook, metrics, dead_letter))
    return sinks


class CameraEmitter:
    """Hands events from camera threads to the pipeline on the event loop (waits if it is busy)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, events: list[Event]) -> None:
        if self.loop is None or self.loop.is_closed():
            raise RuntimeError("the pipeline is not running")
        asyncio.run_coroutine_threadsafe(self.pipeline.ingest(events), self.loop).result(60)


def build_cameras(
    site: SiteConfig, metrics: Metrics, emit: CameraEmitter, evidence_dir: Path
) -> dict[str, CameraWorker]:
    """A worker per enabled camera; a camera whose detector cannot load reports it and idles."""
    workers: dict[str, CameraWorker] = {}
    for cam in site.cameras:
        if not cam.enabled:
            continue
        detector, error = None, None
        try:
            detector = build_detector(cam.detector)
        except Exception as exc:
            error = f"detector {cam.detector.type} could not load: {exc}"
            log.error("camera %s: %s", cam.id, error)
        source = VideoSource(cam.url, cam.detect_fps, realtime=cam.realtime, loop=cam.loop)
        workers[cam.id] = CameraWorker(
            cam.id,
            source,
            detector,
            _analyzer_factory(site, cam),
            _snapshotter_factory(cam, evidence_dir),
            emit,
            metrics,
            detector_error=error,
        )
    return workers


def _analyzer_factory(site: SiteConfig, cam: CameraConfig) -> AnalyzerFactory:
    from citysentinel.vision.behaviours import needs_pose
    from citysentinel.vision.pose import load_pose_estimator

    # One pose model per camera, only if a fall/fight behaviour wants it; None (box-only,
    # logged once) when the model is not installed.
    pose = load_pose_estimator() if needs_pose(cam.analytics.behaviours) else None

    def build(size: tuple[int, int]) -> FrameAnalyzer:
        return CameraAnalyzer.build(
            cam.id,
            size,
            cam.zones,
            cam.lines,
            cam.analytics,
            fps=cam.detect_fps,
            tz=site.site.tz,
            pose=pose,
        )

    return build


def _snapshotter_factory(cam: CameraConfig, evidence_dir: Path) -> SnapshotterFactory | None:
    # Imported here: only camera workers need onnxruntime and the face model.
    from citysentinel.vision.privacy import shared_face_blurrer

    if not cam.analytics.snapshot.enabled:
        return None
    config = cam.analytics.snapshot

    def build(analyzer: FrameAnalyzer) -> Snapshotter:
        scene = analyzer.scene if isinstance(analyzer, CameraAnalyzer) else None
        # CenterFace when installed, else the head-region fallback (warned about once);
        # one session shared by every camera, loaded at the first frame.
        blurrer = shared_face_blurrer() if config.blur_faces else None
        return SnapshotWriter(evidence_dir, cam.id, scene, config, blurrer)

    return build


def build_traffic(site: SiteConfig, store: Store, pipeline: Pipeline) -> TrafficService | None:
    """The live traffic service of the configured sensors (None without sensors)."""
    if not site.sensors:
        return None
    sensors = [
        Sensor(
            s.id,
            s.kind,
            s.unit,
            road=s.road,
            name=s.name,
            lat=s.location.lat if s.location else None,
            lon=s.location.lon if s.location else None,
            free_flow=s.free_flow,
        )
        for s in site.sensors
    ]
    config = site.traffic
    try:
        graph = SensorGraph.build(
            sensors,
            adjacency_file=Path(config.adjacency) if config.adjacency else None,
            sigma_m=config.kernel_sigma_m,
            threshold=config.kernel_threshold,
        )
    except (SeriesError, OSError) as exc:
        raise TrafficSetupError(f"traffic.adjacency: {exc}") from exc
    detector = LiveDetector(graph, tz=site.site.tz) if config.detect else None
    readings = SqlReadingStore(store.engine)
    return TrafficService(config, graph, readings, emit=pipeline.ingest, detector=detector)


def build_routing(site: SiteConfig) -> tuple[Router | None, Dispatcher | None, str]:
    """Router and dispatcher on `roads.osm`, or None and why (routes then answer 503)."""
    roads = site.roads
    if roads.osm is None:
        return None, None, "no road network is configured (set roads.osm in the site config)"
    try:
        network = load_road_network(roads.osm, simplify=roads.simplify)
    except RoadNetworkError as exc:
        # Like a camera whose detector cannot load: the site runs, routing reports why not.
        log.error("roads: %s", exc)
        return None, None, f"the road network could not be loaded: {exc}"
    c = roads.closures
    policy = ClosurePolicy(c.radius_m, c.mode, c.penalty_factor)
    router = Router(network, policy, max_snap_m=roads.max_snap_m)
    for s in site.sensors:
        if s.kind != "speed" or s.location is None:
            continue
        try:
            mapped = router.map_sensor(s.id, LatLon(s.location.lat, s.location.lon), s.road, s.unit)
        except ValueError as exc:
            log.warning("roads: %s; its readings do not change travel times", exc)
            continue
        if not mapped:
            log.warning("roads: sensor %s is over %g m from any road", s.id, roads.max_snap_m)
    units = [Unit(u.id, u.kind, LatLon(u.location.lat, u.location.lon), u.name) for u in site.units]
    return router, Dispatcher(router, units), ""


def build_surge_watcher(site: SiteConfig, store: Store, pipeline: Pipeline) -> SurgeWatcher | None:
    """Surge detection on every stored text.report (None without text feeds or when disabled)."""
    config = site.text_surges
    if not site.text_feeds or not config.enabled:
        return None
    sub = pipeline.event_bus.subscribe(EVENTS, "text-surges")

    async def next_events() -> list[Stored]:
        first = await sub.get()
        return [(s.seq, s.event) for s in [first, *sub.get_nowait_batch(999)]]

    def history() -> Iterator[Stored]:
        since = datetime.now(UTC) - timedelta(days=config.history_days)
        q = EventQuery(kind=[EventKind.TEXT_REPORT.value], since=since, order="asc", limit=1000)
        while True:
            page = store.list_events(q)
            yield from ((s.seq, s.event) for s in page.items)
            if page.next_cursor is None:
                return
            q = q.model_copy(update={"cursor": page.next_cursor})

    return SurgeWatcher(
        monitor_from_config(config, site.site.tz),
        pipeline.ingest,
        next_events,
        history,
        totals=config.totals,
        tick_s=config.tick_s,
    )


def build(
    site: SiteConfig,
    settings: Settings | None = None,
    *,
    migrate: bool = True,
    sinks: list[Sink] | None = None,
    cameras: bool = True,
) -> Runtime:
    """Wire a runtime for `site`; migrates the database first unless `migrate` is False."""
    settings = settings or Settings()
    # Models load before the database is touched: a bad model dir fails fast, naming it.
    analyzers = build_analyzers(site.text_feeds)
    url = settings.resolve_database_url(site)
    if migrate:
        db.upgrade(url)
    engine = db.make_engine(url)
    revision = db.current_revision(engine)
    if revision != db.head_revision():
        engine.dispose()
        raise NotMigrated(
            f"database is at revision {revision or 'none'}, code needs {db.head_revision()}:"
            " run `citysentinel db upgrade`"
        )
    metrics = Metrics()
    store, admin = Store(engine), AdminStore(engine)
    evidence_dir = settings.data_dir / site.storage.evidence_dir
    pipeline = Pipeline(
        site,
        store,
        admin,
        metrics,
        sinks=build_sinks(site, metrics, admin) if sinks is None else sinks,
        evidence_dir=evidence_dir,
    )
    emitter = CameraEmitter(pipeline)
    workers = build_cameras(site, metrics, emitter, evidence_dir) if cameras else {}
    max_age = timedelta(days=site.storage.retention.events_days)
    feeds = build_feeds(site.text_feeds, analyzers, pipeline.ingest, site.site.tz, max_age)
    surges = build_surge_watcher(site, store, pipeline)
    traffic = build_traffic(site, store, pipeline)
    router, dispatcher, roads_error = build_routing(site)
    context = ApiContext(
        site,
        store,
        admin,
        pipeline,
        metrics,
        cameras=workers,
        evidence_dir=evidence_dir,
        text_analyzers=analyzers,
        text_models=TextModelRegistry(text_model_root(settings.data_dir)),
        traffic=traffic,
        router=router,
        dispatcher=dispatcher,
        roads_error=roads_error or ApiContext.roads_error,
    )
    api = create_app(context)
    return Runtime(
        site,
        url,
        store,
        admin,
        metrics,
        pipeline,
        api,
        workers,
        emitter,
        text_feeds=feeds,
        surges=surges,
        traffic=traffic,
        router=router,
        dispatcher=dispatcher,
    )


async def serve(runtime: Runtime, host: str, port: int, on_ready: str | None = None) -> None:
    """Start the pipeline, serve the API until interrupted, then stop cleanly."""
    await runtime.start()
    config = uvicorn.Config(
        runtime.api, host=host, port=port, log_level="info", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    try:
        if on_ready:
            log.info("%s", on_ready)
        await server.serve()
    finally:
        await runtime.stop()


def render_openapi() -> str:
    """The OpenAPI document, deterministic, for docs/openapi.json."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        site = SiteConfig.model_validate({"site": {"name": "openapi"}})
        settings = Settings(database_url=f"sqlite:///{tmp}/openapi.sqlite", data_dir=Path(tmp))
        runtime = build(site, settings, sinks=[], cameras=False)
        try:
            return json.dumps(runtime.api.openapi(), indent=2, sort_keys=True) + "\n"
        finally:
            runtime.store.engine.dispose()
