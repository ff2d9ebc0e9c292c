"""Readings over MQTT: payload parsing, and the service subscribed to the real Mosquitto."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citysentinel.storage import db
from citysentinel.storage.readings import SqlReadingStore
from citysentinel.traffic.graph import Sensor, SensorGraph
from citysentinel.traffic.live import TrafficConfig
from citysentinel.traffic.mqtt import PayloadError, TrafficMqttConfig, parse_message, topic_sensor
from citysentinel.traffic.readings import RawReading
from citysentinel.traffic.service import TrafficService

HOST, PORT = "127.0.0.1", 1883
NOW = datetime(2026, 11, 25, 8, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pattern", "topic", "sensor"),
    [
        ("city/{sensor}/speed", "city/loop-1/speed", "loop-1"),
        ("city/{sensor}/speed", "city/loop-1/flow", None),
        ("city/+/{sensor}", "city/north/loop-2", "loop-2"),
        ("city/{sensor}/#", "city/loop-3/a/b", "loop-3"),
        ("city/readings", "city/readings", None),
    ],
)
def test_topic_sensor(pattern: str, topic: str, sensor: str | None) -> None:
    assert topic_sensor(pattern, topic) == sensor


@pytest.mark.parametrize(
    ("config", "topic", "payload", "expected"),
    [
        ({}, "citysentinel/sensors/a/reading", b'{"time": "t1", "value": 50}', [("a", "t1", 50)]),
        ({}, "citysentinel/sensors/a/reading", b"[51, 52]", [("a", NOW, 51.0), ("a", NOW, 52.0)]),
        (
            {"topic": "feed/all"},
            "feed/all",
            b'[{"sensor": "a", "time": 1, "value": null}, {"sensor": "b", "value": "x"}]',
            [("a", 1, None), ("b", NOW, "x")],
        ),
        (
            {"time_key": "ts", "value_key": "v"},
            "citysentinel/sensors/a/reading",
            b'{"ts": 1700000000, "v": 3.5}',
            [("a", 1700000000, 3.5)],
        ),
        ({"payload": "value"}, "citysentinel/sensors/b/reading", b" 47.5 ", [("b", NOW, "47.5")]),
    ],
)
def test_parse_message(
    config: dict[str, str], topic: str, payload: bytes, expected: list[tuple[object, ...]]
) -> None:
    got = parse_message(TrafficMqttConfig.model_validate(config), topic, payload, NOW)
    assert got == [RawReading(*e) for e in expected]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "payload", "error"),
    [
        ({}, b"{not json", "not JSON"),
        ({}, b'{"time": "t"}', "no 'value'"),
        ({}, b'"text"', "expected an object"),
        ({"topic": "feed/all"}, b'{"value": 1}', "no sensor id"),
        ({"topic": "feed/all", "payload": "value"}, b"1", "need `{sensor}`"),
    ],
)
def test_bad_payloads(config: dict[str, str], payload: bytes, error: str) -> None:
    cfg = TrafficMqttConfig.model_validate(config)
    topic = "feed/all" if cfg.topic == "feed/all" else "citysentinel/sensors/a/reading"
    with pytest.raises(PayloadError, match=error):
        parse_message(cfg, topic, payload, NOW)


@pytest.mark.parametrize("topic", ["a/{sensor}x/b", "{sensor}/{sensor}"])
def test_topic_placeholder_is_one_whole_level(topic: str) -> None:
    with pytest.raises(ValueError, match="whole topic level"):
        TrafficMqttConfig(topic=topic)


def broker_reachable() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.mark.mqtt
def test_service_stores_readings_from_mosquitto(tmp_path: Path) -> None:
    if not broker_reachable():
        pytest.skip(f"Mosquitto is not reachable on {HOST}:{PORT}")
    prefix = f"cs-test-{uuid.uuid4().hex[:8]}"
    config = TrafficConfig.model_validate(
        {
            "debounce_s": 0,
            "refresh_interval_s": 3600,
            "mqtt": {"topic": f"{prefix}/{{sensor}}/speed", "batch_s": 0.05},
        }
    )
    url = f"sqlite:///{tmp_path / 'mqtt.sqlite'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    store = SqlReadingStore(engine)
    graph = SensorGraph.build([Sensor("a", "speed", "mph"), Sensor("b", "speed", "mph")])
    svc = TrafficService(config, graph, store)
    step = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)

    async def run() -> None:
        await svc.start()
        try:
            assert svc.mqtt is not None
            await asyncio.to_thread(svc.mqtt.connected.wait, 5)
            await asyncio.to_thread(publish, prefix, step)
            deadline = time.monotonic() + 5
            while sum(svc.mqtt_flags.values()) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            await svc.stop()

    try:
        asyncio.run(run())
        latest = store.latest(["a", "b"])
        assert latest["a"][1] == 50.0 and latest["b"][1] == 40.0
        assert dict(svc.mqtt_flags) == {"unknown_sensor": 1, "not_a_number": 1}
        assert svc.mqtt is not None and svc.mqtt.bad_payloads == 1
    finally:
        engine.dispose()


def publish(prefix: str, step: datetime) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4()}")
    client.connect(HOST, PORT)
    client.loop_start()
    try:
        messages = [
            ("a", f'{{"time": "{step.isoformat()}", "value": 50}}'),
            ("b", f'[{{"time": "{step.isoformat()}", "value": 40}}]'),
            ("zz", f'{{"time": "{step.isoformat()}", "value": 1}}'),  # unknown sensor
            ("a", f'{{"time": "{step.isoformat()}", "value": "NaN"}}'),
            ("b", "{broken"),  # bad payload
        ]
        for sensor, payload in messages:
            client.publish(f"{prefix}/{sensor}/speed", payload, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
