"""The whole path on real services: API -> engine -> MQTT broker and webhook, with dead letters."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import SITE, make_runtime, make_site, start_live
from tests.sinks.test_mqtt import HOST, PORT, Listener, broker_reachable


@pytest.mark.mqtt
def test_incident_from_the_api_reaches_the_broker_and_dead_letters_are_kept(tmp_path: Path) -> None:
    if not broker_reachable():
        pytest.skip(f"Mosquitto broker not reachable on {HOST}:{PORT}")
    prefix = f"cs-int/{uuid.uuid4().hex}"
    with socket.socket() as s:  # a port nobody listens on: deliveries fail and are retried
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    site = make_site(
        sinks={
            "mqtt": {
                "host": HOST,
                "port": PORT,
                "topic_prefix": prefix,
                "client_id": f"it-{uuid.uuid4().hex}",
            },
            "webhooks": [
                {
                    "id": "ops",
                    "url": f"http://127.0.0.1:{dead_port}/hook",
                    "secret": "s3cret",
                    "max_attempts": 2,
                    "backoff_initial_s": 0.01,
                    "backoff_max_s": 0.02,
                }
            ],
        },
        rules=SITE["rules"],
    )
    listener = Listener(prefix)
    live = start_live(make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path, site))
    try:
        with live.client() as c:
            c.post(
                "/api/v1/events",
                json={"kind": "video.fall", "source": "cam-1", "labels": ["person"]},
            )
            event = listener.next_json("events/video.fall")
            assert event["source"] == "cam-1"
            message = listener.next_json("incidents")
            assert message["type"] == "new" and message["before"] is None
            assert message["after"]["sub_category"] == "fallenPatient"
            online = [m.payload for m in listener.log if m.topic == f"{prefix}/available"]
            assert online[:1] == [b"online"]
            letters = []
            for _ in range(100):
                letters = c.get("/api/v1/dead-letters").json()
                if letters:
                    break
                time.sleep(0.05)
        assert letters, "the failed webhook delivery must be kept as a dead letter"
        letter = letters[0]
        assert letter["sink"] == "webhook:ops" and letter["attempts"] == 2
        assert json.loads(letter["payload"])["incident"]["id"] == message["after"]["id"]
    finally:
        live.stop()
        listener.close()
