"""Readings from an MQTT broker (paho-mqtt): topic pattern with `{sensor}`, JSON or bare values."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from citysentinel.events.model import utcnow
from citysentinel.sources.mqtt import make_client
from citysentinel.traffic.readings import RawReading

log = logging.getLogger(__name__)
SENSOR = "{sensor}"


class TrafficMqttConfig(BaseModel):
    """Subscribe to sensor readings on an MQTT broker."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Turn the subscription on or off.")
    host: str = Field(default="127.0.0.1", description="Broker host.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
    username: str | None = Field(default=None, description="User name, if the broker asks.")
    password: SecretStr | None = Field(
        default=None, description="Password; write ${ENV_VAR} to read it from the environment."
    )
    client_id: str | None = Field(
        default=None, description="MQTT client id; default citysentinel-traffic-<host>-<pid>."
    )
    topic: str = Field(
        default="citysentinel/sensors/{sensor}/reading",
        description="Topic pattern; `{sensor}` stands for one topic level holding the sensor id."
        " Without it the sensor id comes from the payload's `sensor_key`. MQTT wildcards"
        " (+, #) are allowed elsewhere.",
    )
    payload: Literal["json", "value"] = Field(
        default="json",
        description="`json`: an object {time, value[, sensor]} or a list of them; `value`: a"
        " bare number, timed on arrival.",
    )
    time_key: str = Field(default="time", description="JSON key of the time (default: arrival).")
    value_key: str = Field(default="value", description="JSON key of the reading.")
    sensor_key: str = Field(default="sensor", description="JSON key of the sensor id.")
    qos: int = Field(default=1, ge=0, le=2, description="Quality of service of the subscription.")
    batch_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Messages arriving within this many seconds are stored together.",
    )
    keepalive_s: int = Field(default=30, ge=5, description="Keepalive interval.")

    @field_validator("topic")
    @classmethod
    def _one_placeholder(cls, value: str) -> str:
        levels = value.split("/")
        if value.count(SENSOR) > 1 or any(SENSOR in lv and lv != SENSOR for lv in levels):
            raise ValueError("`{sensor}` may appear once, as a whole topic level")
        return value

    @property
    def subscription(self) -> str:
        """The topic filter subscribed to: `{sensor}` becomes `+`."""
        return self.topic.replace(SENSOR, "+")


class PayloadError(ValueError):
    """A message that holds no readings: not JSON, not a number, no value key."""


def topic_sensor(pattern: str, topic: str) -> str | None:
    """The sensor id the `{sensor}` level of `pattern` matches in `topic`, or None.

    Example:
        >>> topic_sensor("city/{sensor}/speed", "city/loop-1/speed")
        'loop-1'
        >>> topic_sensor("city/+/{sensor}", "city/a/b")
        'b'
    """
    parts = [
        "(?P<sensor>[^/]+)"
        if lv == SENSOR
        else "[^/]+"
        if lv == "+"
        else ".*"
        if lv == "#"
        else re.escape(lv)
        for lv in pattern.split("/")
    ]
    match = re.fullmatch("/".join(parts), topic)
    return match.group("sensor") if match and SENSOR in pattern else None


def parse_message(
    config: TrafficMqttConfig, topic: str, payload: bytes, received: datetime
) -> list[RawReading]:
    """The readings one MQTT message holds (checked later like any other batch).

    Example:
        >>> from datetime import UTC
        >>> cfg = TrafficMqttConfig(topic="s/{sensor}")
        >>> parse_message(cfg, "s/a", b'{"time": "2026-11-25T08:00:00Z", "value": 51.5}',
        ...               datetime(2026, 11, 25, tzinfo=UTC))[0].value
        51.5
    """
    from_topic = topic_sensor(config.topic, topic)
    text = payload.decode("utf-8", errors="replace").strip()
    if config.payload == "value":
        if from_topic is None:
            raise PayloadError(f"{topic}: bare values need `{SENSOR}` in the topic pattern")
        return [RawReading(from_topic, received, text)]
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PayloadError(f"{topic}: not JSON ({exc})") from None
    items = doc if isinstance(doc, list) else [doc]
    return [_reading(config, topic, item, from_topic, received) for item in items]


def _reading(
    config: TrafficMqttConfig, topic: str, item: Any, sensor: str | None, received: datetime
) -> RawReading:
    if isinstance(item, int | float) and not isinstance(item, bool) and sensor is not None:
        return RawReading(sensor, received, float(item))
    if not isinstance(item, dict):
        raise PayloadError(f"{topic}: expected an object with {config.value_key!r}")
    if config.value_key not in item:
        raise PayloadError(f"{topic}: no {config.value_key!r} in the message")
    found = item.get(config.sensor_key, sensor)
    if found is None:
        raise PayloadError(f"{topic}: no sensor id (topic level or {config.sensor_key!r})")
    stamp = item.get(config.time_key, received)
    value = item[config.value_key]
    if not isinstance(stamp, str | int | float | datetime) or isinstance(stamp, bool):
        stamp = str(stamp)
    if not (value is None or isinstance(value, str | int | float)) or isinstance(value, bool):
        value = str(value)
    return RawReading(str(found), stamp, value)


class MqttReadings:
    """Subscribes on paho's network thread and hands each message's readings to `deliver`.

    `deliver` is called on paho's thread; the traffic service passes a function
    that queues the readings onto its event loop. Bad payloads are counted and
    logged, never raised. `start` returns at once; the client reconnects by itself.

    Example:
        >>> subscriber = MqttReadings(TrafficMqttConfig(port=1), lambda readings: None)
        >>> subscriber.start(); subscriber.stop()
    """

    def __init__(
        self,
        config: TrafficMqttConfig,
        deliver: Callable[[list[RawReading]], None],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.deliver = deliver
        self.clock = clock or utcnow
        self.connected = threading.Event()
        self.messages = 0
        self.bad_payloads = 0
        self.last_error: str | None = None
        self._client = make_client(
            "citysentinel-traffic", config.client_id, config.username, config.password
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._started = False

    def start(self) -> None:
        """Begin connecting in the background (paho's thread); never waits for the broker."""
        if self._started:
            return
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self._client.loop_start()
        self._started = True

    def stop(self) -> None:
        """Disconnect and end paho's thread."""
        if not self._started:
            return
        self._started = False
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning("traffic MQTT: broker refused the connection: %s", reason_code)
            return
        # Subscribing on every connect restores the subscription after a reconnect.
        client.subscribe(self.config.subscription, qos=self.config.qos)
        self.connected.set()
        log.info("traffic MQTT: subscribed to %s", self.config.subscription)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if self.connected.is_set():
            log.warning("traffic MQTT: disconnected (%s); reconnecting", reason_code)
        self.connected.clear()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages += 1
        try:
            readings = parse_message(self.config, msg.topic, bytes(msg.payload), self.clock())
        except PayloadError as exc:
            self.bad_payloads += 1
            self.last_error = str(exc)
            log.warning("traffic MQTT: %s", exc)
            return
        self.deliver(readings)
