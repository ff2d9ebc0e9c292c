"""The running spine: ingest -> bus -> incident engine -> storage -> sinks and live streams.

An event is committed to storage before `ingest` returns, so an event the API
acknowledged is never lost: the engine marks events done in the same
transaction as the incidents it made of them, and on start (or after a storage
error) it is rebuilt from storage and replays whatever is not yet done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from citysentinel.config import SiteConfig
from citysentinel.events import Event, Point
from citysentinel.events.bus import Bus
from citysentinel.events.model import utcnow
from citysentinel.incidents import ChangeType, Incident, IncidentChange, IncidentEngine
from citysentinel.metrics import Metrics
from citysentinel.sinks.base import Sink
from citysentinel.storage.admin import AdminStore
from citysentinel.storage.store import Store, StoredEvent

log = logging.getLogger(__name__)

EVENTS = "events"
INCIDENTS = "incidents"
Action = Callable[[IncidentEngine, Incident], IncidentChange]
T = TypeVar("T")


class IncidentNotFound(LookupError):
    pass


class Pipeline:
    """Owns the bus, the engine and the background tasks of one running site."""

    def __init__(
        self,
        site: SiteConfig,
        store: Store,
        admin: AdminStore,
        metrics: Metrics,
        *,
        sinks: Sequence[Sink] = (),
        evidence_dir: Path | None = None,
    ) -> None:
        self.site = site
        self.store = store
        self.admin = admin
        self.metrics = metrics
        self.sinks = list(sinks)
        self.evidence_dir = evidence_dir
        size = site.engine.bus_queue_size
        self.event_bus: Bus[StoredEvent] = Bus(metrics, size)
        self.incident_bus: Bus[IncidentChange] = Bus(metrics, size)
        self.engine = self._new_engine()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._engine_sub = self.event_bus.subscribe(EVENTS, "engine")
        self._sink_sub = self.incident_bus.subscribe(INCIDENTS, "sinks")
        self._sink_event_sub = self.event_bus.subscribe(EVENTS, "sinks") if self.sinks else None
        self.started = False
        self._executor: ThreadPoolExecutor | None = None
        # Refresh planner statistics as the incidents table grows (SQLite has no autovacuum).
        self._new_incidents = 0
        self._optimized_at_count = 0
        # Sources with a known place: events from them without a point get it.
        self._places: dict[str, Point] = {
            c.id: c.location for c in site.cameras if c.location is not None
        } | {s.id: s.location for s in site.sensors if s.location is not None}

    def _new_engine(self) -> IncidentEngine:
        return IncidentEngine(self.site.rules, self.site.site.tz)

    # -- lifecycle --------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking storage work on the pipeline's own threads (joined on stop)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(6, thread_name_prefix="pipeline")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        """Rebuild the engine from storage, replay unprocessed events, start the workers."""
        await self._run(self._rebuild)
        await self._run(self.store.optimize)
        for sink in self.sinks:
            await sink.start()
        self._tasks = [
            asyncio.create_task(self._engine_loop(), name="engine"),
            asyncio.create_task(self._tick_loop(), name="engine-tick"),
            asyncio.create_task(self._sink_loop(), name="sinks"),
            asyncio.create_task(self._retention_loop(), name="retention"),
        ]
        if self._sink_event_sub is not None:
            self._tasks.append(asyncio.create_task(self._sink_event_loop(), name="sink-events"))
        self.started = True

    async def stop(self) -> None:
        """Finish what is queued for the engine, then stop workers and sinks."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), timeout=10)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for sink in self.sinks:
            await sink.stop()
        if self._executor is not None:
            # Let storage work of cancelled tasks finish so no connection outlives the pool.
            await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
            self._executor = None
        self.started = False

    async def drain(self) -> None:
        """Wait until the engine has folded every event queued so far."""
        await self._engine_sub.queue.join()

    # -- ingest -----------------------------------------------------------
    async def ingest(self, events: Sequence[Event]) -> list[StoredEvent]:
        """Store `events` durably, then queue them for the engine (waits if it is behind)."""
        events = [self._locate(e) for e in events]
        stored = await self._run(self.store.insert_events, events)
        dupes = len(events) - len(stored)
        if dupes:
            self.metrics.events_duplicate_total.inc(dupes)
        for item in stored:
            self.metrics.events_total.labels(item.event.kind.value).inc()
            await self.event_bus.publish(EVENTS, item)
        return stored

    def _locate(self, event: Event) -> Event:
        place = self._places.get(event.source)
        if place is None or event.location.point is not None:
            return event
        location = event.location.model_copy(update={"point": place})
        return event.model_copy(update={"location": location})

    # -- operator actions -------------------------------------------------
    async def act(self, incident_id: str, action: Action) -> IncidentChange:
        """Apply an operator action through the engine, persist it and publish it."""

        def run() -> IncidentChange:
            inc = self.engine.get(incident_id) or self.store.get_incident(incident_id)
            if inc is None:
                raise IncidentNotFound(incident_id)
            return self.store.commit_changes([action(self.engine, inc)])[0]

        async with self._lock:
            try:
                stored = await self._run(run)
            except Exception:
                # The engine may hold a change storage refused: reload it from storage.
                await self._run(self._rebuild)
                raise
        await self.incident_bus.publish(INCIDENTS, stored)
        return stored

    async def silences_changed(self) -> list[IncidentChange]:
        """Reload silences into the engine and publish the mutes and unmutes it reports."""

        def run() -> list[IncidentChange]:
            changes = self.engine.set_silences(self.admin.silences())
            return self.store.commit_changes(changes)

        async with self._lock:
            stored = await self._run(run)
        for ch in stored:
            await self.incident_bus.publish(INCIDENTS, ch)
        return stored

    # -- workers ----------------------------------------------------------
    def _rebuild(self) -> None:
        """Fresh engine from storage; fold every stored event it has not processed."""
        now = utcnow()
        engine = self._new_engine()
        longest_cooldown = max((r.cooldown_s for r in self.site.rules), default=0.0)
        engine.restore(
            self.store.engine_incidents(now - timedelta(seconds=longest_cooldown)),
            self.admin.silences(),
        )
        window = engine.max_count_window_s()
        if window:
            for ev in self.store.processed_events_since(now - timedelta(seconds=window)):
                engine.warm(ev)
        self.engine = engine
        replayed = 0
        while pending := self.store.pending_events(limit=self.site.engine.batch_size):
            self._fold(pending)
            replayed += len(pending)
        if replayed:
            log.info("engine replayed %d stored events not yet processed", replayed)

    def _fold(self, batch: Sequence[StoredEvent]) -> list[IncidentChange]:
        changes: list[IncidentChange] = []
        links: list[tuple[str, str]] = []
        # After a rebuild, queued items may already have been replayed from storage.
        undone = self.store.not_done([i.seq for i in batch])
        todo = [i for i in batch if i.seq in undone]
        for item in todo:
            result = self.engine.process(item.event)
            changes.extend(result.changes)
            links.extend(result.links)
        stored = self.store.commit_engine_batch(changes, links, [i.seq for i in todo])
        self.metrics.engine_events_total.inc(len(todo))
        self._count(stored)
        return stored

    async def _engine_loop(self) -> None:
        sub, backoff = self._engine_sub, 0.5
        while True:
            batch = [await sub.get()]
            batch.extend(sub.get_nowait_batch(self.site.engine.batch_size - 1))
            try:
                async with self._lock:
                    stored = await self._run(self._fold, batch)
                backoff = 0.5
            except Exception:
                log.exception("engine batch failed; rebuilding from storage in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30)
                with contextlib.suppress(Exception):
                    async with self._lock:
                        await self._run(self._rebuild)
                stored = []
            finally:
                for _ in batch:
                    sub.queue.task_done()
                self.metrics.bus_queue_depth.labels(EVENTS, "engine").set(sub.queue.qsize())
            for ch in stored:
                await self.incident_bus.publish(INCIDENTS, ch)
            await self._maybe_optimize(stored)

    async def _maybe_optimize(self, stored: Sequence[IncidentChange]) -> None:
        self._new_incidents += sum(1 for ch in stored if ch.type is ChangeType.NEW)
        if self._new_incidents < max(2_000, self._optimized_at_count):
            return
        self._optimized_at_count += self._new_incidents
        self._new_incidents = 0
        try:
            await self._run(self.store.optimize)
        except Exception:
            log.exception("could not refresh planner statistics")

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.site.engine.tick_s)
            try:
                async with self._lock:
                    stored = await self._run(lambda: self.store.commit_changes(self.engine.tick()))
            except Exception:
                log.exception("engine tick failed; rebuilding from storage")
                with contextlib.suppress(Exception):
                    async with self._lock:
                        await self._run(self._rebuild)
                continue
            self._count(stored)
            for ch in stored:
                await self.incident_bus.publish(INCIDENTS, ch)

    async def _sink_loop(self) -> None:
        sub = self._sink_sub
        while True:
            change = await sub.get()
            for sink in self.sinks:
                try:
                    await sink.publish(change)
                except Exception:
                    log.exception("sink %s failed to take an incident change", sink.name)
            self.metrics.bus_queue_depth.labels(INCIDENTS, "sinks").set(sub.queue.qsize())

    async def _sink_event_loop(self) -> None:
        assert self._sink_event_sub is not None
        sub = self._sink_event_sub
        while True:
            item = await sub.get()
            for sink in self.sinks:
                try:
                    await sink.publish(item.event)
                except Exception:
                    log.exception("sink %s failed to take an event", sink.name)

    async def _retention_loop(self) -> None:
        retention = self.site.storage.retention
        while True:
            try:
                await self._run(self.apply_retention)
            except Exception:
                log.exception("retention failed; will retry")
            await asyncio.sleep(retention.interval_s)

    def apply_retention(self) -> dict[str, int]:
        """Delete events, resolved incidents, evidence files and ended sessions past retention."""
        r = self.site.storage.retention
        now = utcnow()
        deleted = {
            "events": self.store.delete_events_before(now - timedelta(days=r.events_days)),
            "incidents": self.store.delete_resolved_before(
                now - timedelta(days=r.resolved_incidents_days)
            ),
            "evidence_files": self._delete_old_evidence(time.time() - r.evidence_days * 86400),
            # Ended sign-in sessions are of no use after a day; they would pile up otherwise.
            "sessions": self.admin.delete_sessions_ended_before(now - timedelta(days=1)),
        }
        for what, n in deleted.items():
            self.metrics.retention_deleted_total.labels(what).inc(n)
        self.store.optimize()
        return deleted

    def _delete_old_evidence(self, before_epoch: float) -> int:
        if self.evidence_dir is None or not self.evidence_dir.is_dir():
            return 0
        n = 0
        for path in self.evidence_dir.rglob("*"):
            if path.is_file() and path.stat().st_mtime < before_epoch:
                path.unlink(missing_ok=True)
                n += 1
        return n

    def _count(self, changes: Sequence[IncidentChange]) -> None:
        for ch in changes:
            self.metrics.incident_changes_total.labels(ch.type.value).inc()
        self.metrics.incidents_open.set(len(self.engine.active()))
