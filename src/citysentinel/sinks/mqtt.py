"""MQTT sink: incidents, events and availability on a broker (paho-mqtt)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from citysentinel.events import Event, EventKind
from citysentinel.incidents import IncidentChange
from citysentinel.metrics import Metrics
from citysentinel.sinks.base import SinkItem
from citysentinel.sources.mqtt import make_client

log = logging.getLogger(__name__)

ONLINE = "online"
OFFLINE = "offline"


class MqttSinkConfig(BaseModel):
    """Publish to an MQTT broker: `<prefix>/incidents`, `<prefix>/events/<kind>`,
    `<prefix>/available` (retained, last will `offline`)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Turn the sink on or off.")
    host: str = Field(default="127.0.0.1", description="Broker host.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port.")
    username: str | None = Field(default=None, description="User name, if the broker asks.")
    password: SecretStr | None = Field(
        default=None, description="Password; write ${ENV_VAR} to read it from the environment."
    )
    client_id: str | None = Field(
        default=None,
        description="MQTT client id; default citysentinel-<host>-<pid>, unique per process"
        " (two clients with one id disconnect each other).",
    )
    topic_prefix: str = Field(default="citysentinel", description="First topic level.")
    qos: int = Field(default=1, ge=0, le=2, description="Quality of service for publishes.")
    publish_events: bool = Field(default=True, description="Also publish every event.")
    event_kinds: list[EventKind] = Field(
        default_factory=list, description="Only these event kinds; empty means all."
    )
    include_silenced: bool = Field(
        default=False, description="Publish changes of silenced incidents too."
    )
    keepalive_s: int = Field(default=30, ge=5, description="Keepalive interval.")
    max_queued: int = Field(
        default=10_000, ge=1, description="Messages held while the broker is unreachable."
    )
    reconnect_min_s: int = Field(
        default=1, ge=1, description="First wait before reconnecting; doubles on each failure."
    )
    reconnect_max_s: int = Field(default=60, ge=1, description="Longest wait between reconnects.")

    @model_validator(mode="after")
    def _reconnect_bounds(self) -> MqttSinkConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self


def change_message(change: IncidentChange) -> dict[str, Any]:
    """The JSON document published on `<prefix>/incidents` for one incident change.

    Datetimes are serialised as pydantic does everywhere else (`...Z` for UTC).

    Example:
        >>> # {"type": "new", "action": "opened", "actor": "engine",
        >>> #  "at": "2026-11-25T06:00:00Z", "before": None, "after": {...incident...}}
    """
    dumped = change.model_dump(mode="json", include={"type", "action", "actor", "at", "before"})
    return {**dumped, "after": change.after.model_dump(mode="json")}


class MqttSink:
    """Publishes incident changes and events to MQTT from paho's network thread.

    `start` never waits for the broker: the client connects in the background and
    reconnects with exponential backoff; while it is away paho keeps up to
    `max_queued` messages (QoS 1 and 2) and sends them on reconnect.
    `<prefix>/available` is `online` (retained) while connected and `offline` after
    `stop` or, through the last will, after the connection dies.

    Example:
        >>> import asyncio
        >>> from citysentinel.metrics import Metrics
        >>> async def demo() -> None:
        ...     sink = MqttSink(MqttSinkConfig(port=1), Metrics())  # nothing listens there
        ...     await sink.start()
        ...     await sink.stop()
        >>> asyncio.run(demo())
    """

    def __init__(self, config: MqttSinkConfig, metrics: Metrics, *, stop_timeout_s: float = 3.0):
        self.name = "mqtt"
        self._config = config
        self._metrics = metrics
        self._stop_timeout_s = stop_timeout_s
        self._prefix = config.topic_prefix.rstrip("/")
        self._available_topic = f"{self._prefix}/available"
        self._connected = threading.Event()
        self._started = False
        self._client = self._build_client()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up right now."""
        return self._connected.is_set()

    def _build_client(self) -> mqtt.Client:
        cfg = self._config
        client = make_client("citysentinel", cfg.client_id, cfg.username, cfg.password)
        client.will_set(self._available_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)
        client.max_queued_messages_set(cfg.max_queued)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason_code)
            return
        self._connected.set()
        log.info("MQTT connected to %s:%s", self._config.host, self._config.port)
        client.publish(self._available_topic, ONLINE, qos=1, retain=True)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if self._connected.is_set():
            log.warning("MQTT disconnected: %s; reconnecting", reason_code)
        self._connected.clear()

    async def start(self) -> None:
        """Begin connecting in the background; returns at once, even if the broker is down."""
        if self._started:
            return
        cfg = self._config
        # connect_async only records the target; paho's thread does the connecting.
        self._client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        self._client.loop_start()
        self._started = True

    async def publish(self, item: SinkItem) -> None:
        """Queue `item` for the broker and return; never waits on the network."""
        if isinstance(item, IncidentChange):
            if item.silenced and not self._config.include_silenced:
                return
            self._send(f"{self._prefix}/incidents", change_message(item))
        elif isinstance(item, Event):
            kinds = self._config.event_kinds
            if not self._config.publish_events or (kinds and item.kind not in kinds):
                return
            self._send(f"{self._prefix}/events/{item.kind.value}", item.model_dump(mode="json"))

    def _send(self, topic: str, document: dict[str, Any]) -> None:
        payload = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        info = self._client.publish(topic, payload, qos=self._config.qos)
        # NO_CONN with QoS > 0 means paho holds the message until the broker is back.
        queued = info.rc is MQTTErrorCode.MQTT_ERR_NO_CONN and self._config.qos > 0
        if info.rc is MQTTErrorCode.MQTT_ERR_SUCCESS or queued:
            outcome = "ok"
        else:
            outcome = "dropped"
            log.warning("MQTT dropped a message to %s: %s", topic, mqtt.error_string(info.rc))
        self._metrics.sink_deliveries_total.labels(self.name, outcome).inc()

    async def stop(self) -> None:
        """Publish `offline` (retained), flush briefly, disconnect and end the network thread."""
        if not self._started:
            return
        self._started = False
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        client = self._client
        if self._connected.is_set():
            info = client.publish(self._available_topic, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=self._stop_timeout_s)
            except (RuntimeError, ValueError) as exc:  # the connection went away meanwhile
                log.warning("MQTT could not publish offline: %s", exc)
        self._connected.clear()
        client.disconnect()
        client.loop_stop()
