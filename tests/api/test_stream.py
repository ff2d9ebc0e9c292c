"""The live incident stream (Server-Sent Events): live changes and catch-up after a reconnect."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer


def read_events(
    live: LiveServer,
    n: int,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    started: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Read `n` incident events from the stream, returning id and data of each."""
    out: list[dict[str, Any]] = []
    with (
        httpx.Client(base_url=live.url, timeout=15) as c,
        c.stream(
            "GET",
            "/api/v1/stream/incidents",
            params={"api_key": live.admin_key, **(params or {})},
            headers=headers or {},
        ) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in r.iter_lines():
            if line.startswith(": connected") and started is not None:
                started.set()
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "data" in current:
                out.append(current)
                current = {}
                if len(out) == n:
                    break
    return out


def test_stream_delivers_new_incidents_live(live_sqlite: LiveServer) -> None:
    started = threading.Event()
    received: list[dict[str, Any]] = []
    reader = threading.Thread(
        target=lambda: received.extend(read_events(live_sqlite, 2, started=started))
    )
    reader.start()
    assert started.wait(10)
    with live_sqlite.client() as c:
        c.post("/api/v1/events", json={"kind": "video.fall", "source": "cam-1"})
        live_sqlite.drain()
        inc = c.get("/api/v1/incidents").json()["items"][0]
        c.post(f"/api/v1/incidents/{inc['id']}/acknowledge")
    reader.join(15)
    assert [(e["data"]["type"], e["data"]["action"]) for e in received] == [
        ("new", "opened"),
        ("update", "acknowledged"),
    ]
    assert received[0]["data"]["incident"]["id"] == inc["id"]
    assert received[0]["id"] < received[1]["id"]


def test_reconnect_with_last_event_id_catches_up(live_sqlite: LiveServer) -> None:
    with live_sqlite.client() as c:
        c.post(
            "/api/v1/events/batch",
            json={
                "events": [
                    {"kind": "video.fall", "source": s} for s in ("cam-1", "cam-2", "hotline")
                ]
            },
        )
        live_sqlite.drain()
    first = read_events(live_sqlite, 3, params={"since": 0})
    assert len(first) == 3 and all(e["data"]["replayed"] for e in first)
    missed = read_events(live_sqlite, 2, headers={"Last-Event-ID": str(first[0]["id"])})
    assert [e["id"] for e in missed] == [first[1]["id"], first[2]["id"]]


def test_stream_needs_a_key(live_sqlite: LiveServer) -> None:
    r = httpx.get(f"{live_sqlite.url}/api/v1/stream/incidents", timeout=5)
    assert r.status_code == 401


def test_a_revoked_key_ends_an_open_stream(
    live_sqlite: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from citysentinel.api.routers import stream

    monkeypatch.setattr(stream, "HEARTBEAT_S", 0.2)  # re-check the key every 0.2 s
    key = live_sqlite.key("viewer")
    key_id = next(k.id for k in live_sqlite.runtime.admin.list_keys() if k.name == "test-viewer")
    comments: list[str] = []
    with (
        httpx.Client(base_url=live_sqlite.url, timeout=15) as c,
        c.stream("GET", "/api/v1/stream/incidents", params={"api_key": key}) as r,
    ):
        assert r.status_code == 200
        for line in r.iter_lines():
            comments.append(line)
            if line.startswith(": connected"):
                with live_sqlite.client() as admin:  # through the API: no 5 s key cache
                    assert admin.delete(f"/api/v1/keys/{key_id}").status_code == 204
    # The server ended the stream by itself (the loop above ran out) and said why.
    assert ": session ended" in comments
    again = httpx.get(
        f"{live_sqlite.url}/api/v1/stream/incidents", params={"api_key": key}, timeout=5
    )
    assert again.status_code == 401
