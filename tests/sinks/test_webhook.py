"""The webhook sink against a real local HTTP receiver: retries, signatures, order, dead letters."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from citysentinel.incidents import ChangeAction, ChangeType
from citysentinel.incidents.model import change
from citysentinel.metrics import Metrics
from citysentinel.sinks.base import DeadLetter, Sink
from citysentinel.sinks.webhook import (
    WebhookConfig,
    WebhookSink,
    change_body,
    verify_signature,
)

from .factories import lifecycle, make_event, make_incident

SECRET = "s3cret"
# (status, extra headers) for the n-th request received, counting from 0.
Script = Callable[[int], tuple[int, dict[str, str]]]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    """A real HTTP server on 127.0.0.1 answering POSTs as `script` says, recording each one."""

    def __init__(self, script: Script) -> None:
        self.requests: list[Received] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    status, headers = script(len(outer.requests))
                    outer.requests.append(Received(dict(self.headers), body, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def ok_bodies(self) -> list[Any]:
        return [json.loads(r.body) for r in self.requests if r.status == 200]


def fail_first(n: int, status: int = 503) -> Script:
    return lambda i: (status, {}) if i < n else (200, {})


def always(status: int, headers: dict[str, str] | None = None) -> Script:
    return lambda i: (status, headers or {})


@pytest.fixture
def closed_port_url() -> str:
    """A URL on a port nothing listens on: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


class Harness:
    """A sink plus the dead letters and metrics it produced."""

    def __init__(self, url: str, client: httpx.AsyncClient | None = None, **overrides: Any):
        fields: dict[str, Any] = {
            "id": "ops",
            "url": url,
            "secret": SECRET,
            "max_attempts": 4,
            "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05,
            "timeout_s": 2.0,
        }
        fields.update(overrides)
        self.dead: list[DeadLetter] = []
        self.metrics = Metrics()
        self.sink = WebhookSink(WebhookConfig(**fields), self.metrics, self._dead, client=client)

    async def _dead(self, letter: DeadLetter) -> None:
        self.dead.append(letter)

    def count(self, outcome: str) -> float:
        labels = {"sink": "webhook:ops", "outcome": outcome}
        value = self.metrics.registry.get_sample_value("citysentinel_sink_deliveries_total", labels)
        return value or 0.0

    def run(self, items: list[Any]) -> None:
        """Start, publish every item, stop (draining the queue)."""

        async def scenario() -> None:
            await self.sink.start()
            for item in items:
                await self.sink.publish(item)
            await self.sink.stop()

        asyncio.run(scenario())


def test_retries_then_delivers_in_order_signed() -> None:
    changes = lifecycle()
    with Receiver(fail_first(2)) as receiver:
        h = Harness(receiver.url)
        assert isinstance(h.sink, Sink)
        assert h.sink.name == "webhook:ops"
        h.run([*changes, make_event()])  # events are not sent to webhooks
    reqs = receiver.requests
    assert [r.status for r in reqs] == [503, 503, 200, 200, 200]
    # The first change was retried with the same delivery id; the others followed in order.
    assert reqs[0].body == reqs[1].body == reqs[2].body
    ids = [r.headers["X-Citysentinel-Delivery"] for r in reqs]
    assert ids[0] == ids[1] == ids[2] and len(set(ids)) == 3
    assert [b["type"] for b in receiver.ok_bodies()] == ["new", "update", "end"]
    assert [r.body for r in reqs if r.status == 200] == [change_body(c) for c in changes]
    for r in reqs:
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["User-Agent"] == "citysentinel/0.1"
        ts = r.headers["X-Citysentinel-Timestamp"]
        assert abs(int(ts) - time.time()) < 60
        assert verify_signature(SECRET, ts, r.body, r.headers["X-Citysentinel-Signature"])
        assert not verify_signature("other", ts, r.body, r.headers["X-Citysentinel-Signature"])
        assert not verify_signature(
            SECRET, ts, r.body + b" ", r.headers["X-Citysentinel-Signature"]
        )
    assert h.dead == []
    assert (h.count("ok"), h.count("retry"), h.count("dead_letter")) == (3, 2, 0)


def test_body_shape() -> None:
    new, ack, _ = lifecycle()
    with Receiver(always(200)) as receiver:
        Harness(receiver.url, secret=None).run([new, ack])
    first, second = receiver.ok_bodies()
    assert first == {
        "type": "new",
        "action": "opened",
        "actor": "engine",
        "at": "2026-11-25T06:01:00.250000Z",
        "incident": new.after.model_dump(mode="json"),
        "before": None,
    }
    assert ack.before is not None
    assert second["before"] == ack.before.model_dump(mode="json")
    assert second["incident"]["acknowledged_by"] == "alice"
    assert "X-Citysentinel-Signature" not in receiver.requests[0].headers


def test_always_failing_receiver_dead_letters_after_max_attempts() -> None:
    new = lifecycle()[0]
    with Receiver(always(500)) as receiver:
        h = Harness(receiver.url, max_attempts=3)
        h.run([new])
    assert len(receiver.requests) == 3
    [letter] = h.dead
    assert letter.attempts == 3
    assert letter.sink == "webhook:ops"
    assert letter.target == receiver.url
    assert letter.payload == change_body(new).decode()
    assert "HTTP 500" in letter.error
    assert letter.first_attempt_at <= letter.last_attempt_at
    assert (h.count("ok"), h.count("retry"), h.count("dead_letter")) == (0, 2, 1)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_client_error_dead_letters_without_retry(status: int) -> None:
    with Receiver(always(status)) as receiver:
        h = Harness(receiver.url)
        h.run(lifecycle()[:2])
    assert len(receiver.requests) == 2  # one try each, and the second still went out
    assert [d.attempts for d in h.dead] == [1, 1]
    assert f"HTTP {status}" in h.dead[0].error
    assert h.count("retry") == 0


@pytest.mark.parametrize("status", [408, 429, 502])
def test_retryable_statuses(status: int) -> None:
    with Receiver(fail_first(1, status)) as receiver:
        h = Harness(receiver.url)
        h.run(lifecycle()[:1])
    assert [r.status for r in receiver.requests] == [status, 200]
    assert h.dead == []


def test_retry_after_is_honoured_but_capped() -> None:
    script: Script = lambda i: (429, {"Retry-After": "3600"}) if i == 0 else (200, {})  # noqa: E731
    with Receiver(script) as receiver:
        h = Harness(receiver.url, backoff_max_s=0.05)
        started = time.monotonic()
        h.run(lifecycle()[:1])
        assert time.monotonic() - started < 2.0
    assert [r.status for r in receiver.requests] == [429, 200]


def test_connection_refused_retries_then_dead_letters(closed_port_url: str) -> None:
    h = Harness(closed_port_url, max_attempts=3)
    h.run(lifecycle()[:1])
    [letter] = h.dead
    assert letter.attempts == 3
    assert "ConnectError" in letter.error
    assert h.count("retry") == 2


def test_filters() -> None:
    opened, ack, end = lifecycle()
    low = make_incident(id="inc-low", severity="low")
    muted = make_incident(id="inc-muted", silenced=True)
    at = opened.at
    low_change = change(ChangeAction.OPENED, None, low, actor="engine", at=at)
    muted_change = change(ChangeAction.OPENED, None, muted, actor="engine", at=at)
    with Receiver(always(200)) as receiver:
        h = Harness(receiver.url, types=[ChangeType.NEW, ChangeType.END], min_severity="medium")
        h.run([opened, ack, end, low_change, muted_change, make_event()])
    assert [(b["type"], b["incident"]["id"]) for b in receiver.ok_bodies()] == [
        ("new", "inc-0001"),
        ("end", "inc-0001"),
    ]


def test_stop_dead_letters_what_it_could_not_deliver() -> None:
    async def scenario(h: Harness) -> None:
        await h.sink.start()
        for item in lifecycle():
            await h.sink.publish(item)
        await asyncio.sleep(0.1)  # the first delivery is now waiting to retry
        await h.sink.stop()

    with Receiver(always(503)) as receiver:
        h = Harness(receiver.url, backoff_initial_s=30, backoff_max_s=30, max_attempts=10)
        h.sink._drain_timeout_s = 0.2
        started = time.monotonic()
        asyncio.run(scenario(h))
        assert time.monotonic() - started < 2.0
    assert len(receiver.requests) == 1
    assert [d.attempts for d in h.dead] == [1, 0, 0]
    assert [json.loads(d.payload)["type"] for d in h.dead] == ["new", "update", "end"]


def test_full_queue_dead_letters_instead_of_blocking() -> None:
    async def scenario(h: Harness) -> None:
        # Not started: nothing drains the queue.
        for item in lifecycle():
            await h.sink.publish(item)

    h = Harness("http://127.0.0.1:9/hook", queue_size=2)
    asyncio.run(scenario(h))
    [letter] = h.dead
    assert letter.attempts == 0
    assert "queue full" in letter.error


def test_injected_client_is_used_and_left_open() -> None:
    async def scenario(url: str) -> bool:
        async with httpx.AsyncClient() as client:
            h = Harness(url, client=client)
            await h.sink.start()
            await h.sink.publish(lifecycle()[0])
            await h.sink.stop()
            return client.is_closed

    with Receiver(always(204)) as receiver:
        closed_by_sink = asyncio.run(scenario(receiver.url))
    assert not closed_by_sink
    assert len(receiver.requests) == 1
