"""A paho MQTT client built the same way for every connection (the sink, the traffic feed)."""

from __future__ import annotations

import os
import socket

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr


def make_client(
    prefix: str, client_id: str | None, username: str | None, password: SecretStr | None
) -> mqtt.Client:
    """A paho client (callback API 2) with credentials; the id defaults to prefix-host-pid.

    Example:
        >>> make_client("citysentinel", None, None, None)._client_id.startswith(b"citysentinel-")
        True
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"{prefix}-{socket.gethostname()}-{os.getpid()}",
    )
    if username is not None:
        client.username_pw_set(username, password.get_secret_value() if password else None)
    return client
