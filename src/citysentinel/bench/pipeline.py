"""`citysentinel bench pipeline`: ingest -> bus -> engine -> storage over real HTTP, then queries.

The server runs in this process (uvicorn in a thread); request bodies are built
before the clock starts, so the client side costs little CPU while timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from citysentinel.app import Runtime, build
from citysentinel.config import Settings, SiteConfig
from citysentinel.events.model import utcnow

log = logging.getLogger(__name__)

KINDS = ["video.intrusion", "video.fall", "text.report", "traffic.incident", "video.line_crossing"]
BENCH_SITE: dict[str, Any] = {
    "site": {"name": "bench", "timezone": "UTC"},
    "zones": [{"name": f"z{i}", "polygon": [[0, 0], [0, 1], [1, 1]]} for i in range(20)],
    "rules": [
        {
            "id": "intrusion",
            "match": {"kind": "video.intrusion", "labels": ["person"]},
            "incident": {
                "category": "security",
                "sub_category": "trespassing",
                "severity": "medium",
            },
            "escalate": [{"after_events": 5, "severity": "high"}],
        },
        {
            "id": "fall",
            "match": {"kind": "video.fall"},
            "incident": {"category": "health", "sub_category": "fallenPatient", "severity": "high"},
        },
        {
            "id": "fire-report",
            "match": {"kind": "text.report", "labels": ["fire"]},
            "incident": {"category": "naturalDisaster", "sub_category": "fire", "severity": "high"},
        },
        {
            "id": "accident",
            "match": {"kind": "traffic.incident"},
            "incident": {
                "category": "traffic",
                "sub_category": "carAccident",
                "severity": "medium",
            },
            "group": {"window_s": 600, "radius_m": 300},
        },
    ],
    "engine": {"tick_s": 3600},
}


def _event(rng: random.Random, sources: int) -> dict[str, Any]:
    kind = rng.choice(KINDS)
    when = utcnow() - timedelta(seconds=rng.uniform(0, 7 * 86400))
    return {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "source": f"src-{rng.randrange(sources)}",
        "time": when.isoformat(),
        "location": {
            "zone": f"z{rng.randrange(20)}",
            "point": {
                "type": "Point",
                "coordinates": [rng.uniform(-118.5, -118.1), rng.uniform(33.9, 34.2)],
            },
        },
        "labels": [rng.choice(["person", "car", "fire", "flood"])],
        "confidence": round(rng.uniform(0.3, 1.0), 3),
    }


def _bodies(n: int, batch: int, rng: random.Random, sources: int) -> list[bytes]:
    events = [_event(rng, sources) for _ in range(n)]
    return [json.dumps({"events": events[i : i + batch]}).encode() for i in range(0, n, batch)]


@contextlib.contextmanager
def _database(url: str | None, tmp: Path) -> Iterator[str]:
    """A throwaway database: a SQLite file, or a new database on the given PostgreSQL server."""
    if url is None or make_url(url).get_backend_name() == "sqlite":
        yield url or f"sqlite:///{tmp / 'bench.sqlite'}"
        return
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    name = f"cs_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class _Server:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        with contextlib.closing(__import__("socket").socket()) as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        cfg = uvicorn.Config(
            runtime.api,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self.server = uvicorn.Server(cfg)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._main(),), daemon=True
        )

    async def _main(self) -> None:
        await self.runtime.start()
        try:
            await self.server.serve()
        finally:
            await self.runtime.stop()

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        self.loop.close()

    def wait_processed(self) -> None:
        while self.runtime.store.pending_events(limit=1):
            time.sleep(0.02)


def _post_all(url: str, key: str, bodies: list[bytes], clients: int) -> None:
    def worker(chunk: list[bytes]) -> None:
        with httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=120,
        ) as c:
            for body in chunk:
                r = c.post("/api/v1/events/batch", content=body)
                r.raise_for_status()

    chunks = [bodies[i::clients] for i in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, chunks))


def _say(progress: bool, msg: str) -> None:
    if progress:
        log.info("%s", msg)


def run_pipeline_bench(
    *,
    events: int,
    batch: int,
    clients: int,
    fill: int,
    queries: int,
    database_url: str | None,
    progress: bool = True,
    seed: int = 7,
) -> dict[str, Any]:
    """Measure and return the figures; nothing here asserts a timing."""
    rng = random.Random(seed)
    sources = max(50, (events + fill) // 40)
    with tempfile.TemporaryDirectory() as tmp, _database(database_url, Path(tmp)) as url:
        site = SiteConfig.model_validate(BENCH_SITE)
        runtime = build(site, Settings(database_url=url, data_dir=Path(tmp)), sinks=[])
        key = runtime.ensure_admin_key(None) or ""
        _say(
            progress,
            f"bench: {runtime.store.dialect}, preparing {events} events in batches of {batch}",
        )
        timed = _bodies(events, batch, rng, sources)
        with _Server(runtime) as server:
            base = f"http://127.0.0.1:{server.port}"
            started = time.perf_counter()
            _post_all(base, key, timed, clients)
            server.wait_processed()
            ingest_s = time.perf_counter() - started
            _say(progress, f"bench: ingested {events} events in {ingest_s:.1f} s")
            remaining = max(0, fill - events)
            fill_started = time.perf_counter()
            step = 20_000
            for done in range(0, remaining, step):
                _post_all(
                    base, key, _bodies(min(step, remaining - done), 500, rng, sources), clients
                )
                _say(
                    progress, f"bench: filled {events + done + min(step, remaining - done)} events"
                )
            server.wait_processed()
            fill_s = time.perf_counter() - fill_started
            by_query = _time_queries(base, key, queries)
            latencies = [ms for values in by_query.values() for ms in values]
            stored = runtime.store.count_events()
            incidents = runtime.store.count_incidents()
            dialect = runtime.store.dialect
    return {
        "database": dialect,
        "stored_events": stored,
        "incidents": incidents,
        "events": events,
        "batch": batch,
        "clients": clients,
        "ingest_seconds": round(ingest_s, 3),
        "ingest_events_per_s": round(events / ingest_s, 1),
        "fill_seconds": round(fill_s, 1),
        "queries": len(latencies),
        "incident_query_p50_ms": round(statistics.median(latencies), 2),
        "incident_query_p99_ms": round(_percentile(latencies, 99), 2),
        "per_query_p99_ms": {k: round(_percentile(v, 99), 2) for k, v in sorted(by_query.items())},
    }


def _time_queries(base: str, key: str, n: int) -> dict[str, list[float]]:
    """Filtered incident pages, as the dashboard asks for them (some follow a cursor)."""
    filters: list[dict[str, Any]] = [
        {"status": ["open", "acknowledged"], "min_severity": "medium"},
        {"category": "security", "sort": "severity"},
        {"status": "open", "sort": "first_seen", "order": "asc"},
        {"source": "src-3"},
        {},
    ]
    out: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        c.get("/api/v1/incidents")  # warm the connection and the key cache
        previous: dict[str, Any] = {}
        cursor: str | None = None
        for i in range(n):
            if cursor and i % 2:
                params = {**previous, "cursor": cursor}  # the next page of the same query
            else:
                params = {**filters[i % len(filters)], "limit": 50}
            t0 = time.perf_counter()
            r = c.get("/api/v1/incidents", params=params)
            name = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "cursor")
            name += "&cursor" if "cursor" in params else ""
            out.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
            previous = {k: v for k, v in params.items() if k != "cursor"}
            cursor = r.json()["next_cursor"]
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]
