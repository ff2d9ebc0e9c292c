"""Shared fixtures: a fresh SQLite or PostgreSQL database per test, and a live API server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from citysentinel.app import Runtime, build
from citysentinel.config import Settings, SiteConfig

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_database() -> Iterator[str]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"cs_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc.orig})")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same tests run against a SQLite file and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'citysentinel.sqlite'}"
    else:
        yield from _postgres_database()


SITE: dict[str, Any] = {
    "site": {"name": "Test site", "timezone": "UTC"},
    "cameras": [
        {
            "id": "cam-gate",
            "url": "/dev/null",
            "zones": [{"name": "yard", "polygon": [[0, 0], [1, 0], [1, 1]]}],
        }
    ],
    "external_sources": ["cam-1", "cam-2", "hotline"],
    "rules": [
        {
            "id": "fall",
            "match": {"kind": "video.fall"},
            "incident": {"category": "health", "sub_category": "fallenPatient", "severity": "high"},
        },
        {
            "id": "yard-intrusion",
            "match": {"kind": "video.intrusion", "zones": ["yard"], "labels": ["person"]},
            "incident": {"category": "security", "sub_category": "trespassing"},
            "escalate": [{"after_events": 3, "severity": "high"}],
        },
    ],
}


def make_site(**overrides: Any) -> SiteConfig:
    return SiteConfig.model_validate({**SITE, **overrides})


def make_runtime(
    database_url: str, tmp_path: Path, site: SiteConfig | None = None, *, cameras: bool = False
) -> Runtime:
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    return build(site or make_site(), settings, sinks=None if site else [], cameras=cameras)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A runtime served by uvicorn on 127.0.0.1 in a thread of its own."""

    runtime: Runtime
    url: str
    admin_key: str
    loop: asyncio.AbstractEventLoop
    server: uvicorn.Server
    thread: threading.Thread

    def client(self, key: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **kw)

    def key(self, role: str) -> str:
        from citysentinel.storage.admin import Role

        return self.runtime.admin.create_key(f"test-{role}", Role(role), created_by="test")[1]

    def drain(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runtime.pipeline.drain(), self.loop).result(10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.loop.close()


def start_live(runtime: Runtime) -> LiveServer:
    port = free_port()
    config = uvicorn.Config(
        runtime.api, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def main() -> None:
        await runtime.start()
        try:
            ready.set()
            await server.serve()
        finally:
            await runtime.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(20)
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    key = (
        runtime.ensure_admin_key(None) or runtime.admin.create_key("t", _admin(), created_by="t")[1]
    )
    return LiveServer(runtime, f"http://127.0.0.1:{port}", key, loop, server, thread)


def _admin() -> Any:
    from citysentinel.storage.admin import Role

    return Role.ADMIN


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live(make_runtime(database_url, tmp_path))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_sqlite(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live(make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path))
    try:
        yield server
    finally:
        server.stop()
