"""The MQTT sink against the real Mosquitto broker on 127.0.0.1:1883."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citysentinel.events import EventKind
from citysentinel.incidents import ChangeAction
from citysentinel.incidents.model import change
from citysentinel.metrics import Metrics
from citysentinel.sinks.base import Sink, SinkItem
from citysentinel.sinks.mqtt import MqttSink, MqttSinkConfig

from .factories import lifecycle, make_event, make_incident

pytestmark = pytest.mark.mqtt

HOST, PORT = "127.0.0.1", 1883
WAIT_S = 5.0


def broker_reachable() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1.0):
            return True
    except OSError:
        return False


class Listener:
    """A separate paho client that records every message under one topic prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.log: list[mqtt.MQTTMessage] = []  # everything, including what next() skipped
        self._subscribed = queue.Queue[bool]()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"listener-{uuid.uuid4()}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.put(True)
        self.client.connect(HOST, PORT)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/#", qos=1)
        self._subscribed.get(timeout=WAIT_S)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.log.append(msg)
        self.messages.put(msg)

    def topics(self) -> list[str]:
        """Every topic received so far, in order, relative to the prefix."""
        return [m.topic.removeprefix(f"{self.prefix}/") for m in self.log]

    def next(self, topic: str) -> mqtt.MQTTMessage:
        """The next message on `topic` (relative to the prefix), skipping other topics."""
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if msg.topic == f"{self.prefix}/{topic}":
                return msg
        raise AssertionError(f"nothing on {self.prefix}/{topic} within {WAIT_S}s")

    def next_json(self, topic: str) -> Any:
        return json.loads(self.next(topic).payload)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained_available(prefix: str) -> tuple[bytes, bool]:
    """What a newly connected client is told on `<prefix>/available`, and if it was retained."""
    fresh = Listener(prefix)
    try:
        msg = fresh.next("available")
        return bytes(msg.payload), msg.retain
    finally:
        fresh.close()


@pytest.fixture
def prefix() -> Iterator[str]:
    if not broker_reachable():
        pytest.skip(f"Mosquitto broker not reachable on {HOST}:{PORT}")
    value = f"cs-test/{uuid.uuid4().hex}"
    yield value
    # Clear the retained availability so the broker's store does not fill with test topics.
    cleaner = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cleaner-{uuid.uuid4()}")
    cleaner.connect(HOST, PORT)
    cleaner.loop_start()
    cleaner.publish(f"{value}/available", b"", qos=1, retain=True).wait_for_publish(WAIT_S)
    cleaner.disconnect()
    cleaner.loop_stop()


def make_sink(prefix: str, metrics: Metrics | None = None, **overrides: Any) -> MqttSink:
    fields: dict[str, Any] = {
        "topic_prefix": prefix,
        "client_id": f"sink-{uuid.uuid4()}",
        "reconnect_min_s": 1,
        "reconnect_max_s": 2,
    }
    fields.update(overrides)
    return MqttSink(MqttSinkConfig(**fields), metrics or Metrics())


async def wait_connected(sink: MqttSink, connected: bool = True) -> None:
    deadline = time.monotonic() + WAIT_S
    while sink.connected is not connected:
        assert time.monotonic() < deadline, f"sink.connected stayed {sink.connected}"
        await asyncio.sleep(0.02)


def deliveries(metrics: Metrics, outcome: str) -> float:
    labels = {"sink": "mqtt", "outcome": outcome}
    value = metrics.registry.get_sample_value("citysentinel_sink_deliveries_total", labels)
    return value or 0.0


def test_publishes_changes_and_events(prefix: str) -> None:
    listener = Listener(prefix)
    metrics = Metrics()
    sink = make_sink(prefix, metrics, event_kinds=[EventKind.VIDEO_INTRUSION])
    assert isinstance(sink, Sink)
    changes = lifecycle()
    silenced_incident = make_incident(id="inc-silenced", silenced=True)
    silenced = change(
        ChangeAction.OPENED, None, silenced_incident, actor="engine", at=changes[0].at
    )
    intrusion, fall = make_event(), make_event(EventKind.VIDEO_FALL, id="ev-fall")

    async def scenario() -> None:
        await sink.start()
        await wait_connected(sink)
        assert listener.next("available").payload == b"online"
        assert retained_available(prefix) == (b"online", True)
        await sink.publish(silenced)  # skipped: include_silenced is off
        await sink.publish(fall)  # skipped: not in event_kinds
        for item in changes:
            await sink.publish(item)
        await sink.publish(intrusion)
        received = [listener.next_json("incidents") for _ in changes]
        assert received == [
            {
                "type": c.type.value,
                "action": c.action.value,
                "actor": c.actor,
                "at": "2026-11-25T06:01:00.250000Z",
                "before": None if c.before is None else c.before.model_dump(mode="json"),
                "after": c.after.model_dump(mode="json"),
            }
            for c in changes
        ]
        assert [r["type"] for r in received] == ["new", "update", "end"]
        assert [r["after"]["status"] for r in received] == ["open", "acknowledged", "resolved"]
        assert received[0]["after"]["id"] == "inc-0001"
        event = listener.next_json("events/video.intrusion")
        assert event == intrusion.model_dump(mode="json")
        await sink.stop()
        assert not sink.connected
        assert listener.next("available").payload == b"offline"

    try:
        asyncio.run(scenario())
    finally:
        listener.close()
    # Nothing else arrived: the silenced change and the filtered event were never sent.
    assert listener.topics() == [
        "available",
        *["incidents"] * 3,
        "events/video.intrusion",
        "available",
    ]
    assert retained_available(prefix) == (b"offline", True)
    assert deliveries(metrics, "ok") == 4
    assert deliveries(metrics, "dropped") == 0


def test_last_will_when_connection_dies_then_online_again(prefix: str) -> None:
    listener = Listener(prefix)
    sink = make_sink(prefix)

    async def scenario() -> None:
        await sink.start()
        await wait_connected(sink)
        assert listener.next("available").payload == b"online"
        sock = sink._client.socket()
        assert isinstance(sock, socket.socket)
        # Kill the TCP connection under paho, without an MQTT DISCONNECT: the broker
        # must publish the last will.
        sock.shutdown(socket.SHUT_RDWR)
        assert listener.next("available").payload == b"offline"
        # paho reconnects by itself and announces itself again.
        assert listener.next("available").payload == b"online"
        await wait_connected(sink)
        await sink.publish(lifecycle()[0])
        assert listener.next_json("incidents")["type"] == "new"
        await sink.stop()
        assert listener.next("available").payload == b"offline"

    try:
        asyncio.run(scenario())
    finally:
        listener.close()


def test_unreachable_broker_never_raises_and_queues(prefix: str) -> None:
    metrics = Metrics()
    sink = make_sink(prefix, metrics, port=1, max_queued=2)
    lost = make_sink(prefix, metrics, port=1, qos=0)

    async def scenario() -> float:
        started = time.monotonic()
        await sink.start()
        await lost.start()
        items: list[SinkItem] = [*lifecycle(), make_event()]
        for item in items:
            await sink.publish(item)
        await lost.publish(make_event())
        assert not sink.connected
        await asyncio.gather(sink.stop(), lost.stop())
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert elapsed < 3.0
    # max_queued=2 at QoS 1: two held for the broker, two dropped; QoS 0 cannot be held.
    assert deliveries(metrics, "ok") == 2
    assert deliveries(metrics, "dropped") == 3


def test_queued_messages_are_sent_once_connected(prefix: str) -> None:
    listener = Listener(prefix)
    sink = make_sink(prefix, publish_events=False)

    async def scenario() -> None:
        await sink.start()  # connecting in the background: publish before it is up
        await sink.publish(make_event())  # publish_events is off
        await sink.publish(lifecycle()[0])
        assert listener.next_json("incidents")["action"] == "opened"
        await sink.stop()
        await sink.stop()  # stopping twice is harmless
        while listener.next("available").payload != b"offline":
            pass

    try:
        asyncio.run(scenario())
    finally:
        listener.close()
    assert sorted(listener.topics()) == ["available", "available", "incidents"]
