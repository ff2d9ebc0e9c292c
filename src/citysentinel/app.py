"""The composition root: builds storage, sinks, pipeline and API from the site config, runs them."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from citysentinel.api.app import create_app
from citysentinel.api.deps import ApiContext
from citysentinel.config import Settings, SiteConfig
from citysentinel.metrics import Metrics
from citysentinel.pipeline import Pipeline
from citysentinel.sinks.base import DeadLetter, Sink
from citysentinel.sinks.mqtt import MqttSink
from citysentinel.sinks.webhook import WebhookSink
from citysentinel.storage import db
from citysentinel.storage.admin import AdminStore, Role
from citysentinel.storage.store import Store

log = logging.getLogger(__name__)


class NotMigrated(RuntimeError):
    """The database is behind the code's schema and may not be upgraded automatically."""


@dataclass
class Runtime:
    """One running site: storage, pipeline and API, wired together."""

    site: SiteConfig
    database_url: str
    store: Store
    admin: AdminStore
    metrics: Metrics
    pipeline: Pipeline
    api: FastAPI

    async def start(self) -> None:
        await self.pipeline.start()

    async def stop(self) -> None:
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


def build(
    site: SiteConfig,
    settings: Settings | None = None,
    *,
    migrate: bool = True,
    sinks: list[Sink] | None = None,
) -> Runtime:
    """Wire a runtime for `site`; migrates the database first unless `migrate` is False."""
    settings = settings or Settings()
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
    api = create_app(ApiContext(site, store, admin, pipeline, metrics))
    return Runtime(site, url, store, admin, metrics, pipeline, api)


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
        runtime = build(site, settings, sinks=[])
        try:
            return json.dumps(runtime.api.openapi(), indent=2, sort_keys=True) + "\n"
        finally:
            runtime.store.engine.dispose()
