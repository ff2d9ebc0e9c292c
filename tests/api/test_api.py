"""The HTTP API end to end on a live server: ingest, queries, lifecycle, roles, bad input."""

from __future__ import annotations

import json
import uuid
from typing import Any

import capvalidator
import pytest

from tests.conftest import LiveServer


def fall(source: str = "cam-1", **kw: Any) -> dict[str, Any]:
    return {"kind": "video.fall", "source": source, "labels": ["person"], **kw}


def open_incident(live: LiveServer, source: str = "cam-1") -> dict[str, Any]:
    with live.client() as c:
        assert c.post("/api/v1/events", json=fall(source)).status_code == 202
        live.drain()
        items = c.get("/api/v1/incidents", params={"source": source}).json()["items"]
    assert len(items) == 1
    return dict(items[0])


def test_ingest_opens_incident_and_repeats_update_it(live: LiveServer) -> None:
    with live.client() as c:
        r = c.post("/api/v1/events/batch", json={"events": [fall(), fall(), fall("cam-2")]})
        assert r.status_code == 202
        assert r.json()["accepted"] == 3
        live.drain()
        items = c.get("/api/v1/incidents", params={"sort": "first_seen", "order": "asc"}).json()[
            "items"
        ]
    by_source = {i["source"]: i for i in items}
    assert set(by_source) == {"cam-1", "cam-2"}
    assert by_source["cam-1"]["event_count"] == 2
    assert by_source["cam-2"]["event_count"] == 1
    assert by_source["cam-1"]["severity"] == "high"
    assert "Person fallen" in by_source["cam-1"]["summary_en"]
    assert "人员跌倒" in by_source["cam-1"]["summary_zh"]


def test_resending_an_event_id_is_idempotent(live: LiveServer) -> None:
    event = fall(id="evt-1")
    with live.client() as c:
        assert c.post("/api/v1/events", json=event).json()["accepted"] == 1
        again = c.post("/api/v1/events", json=event).json()
        live.drain()
        incident = c.get("/api/v1/incidents").json()["items"][0]
    assert again == {"accepted": 0, "duplicates": 1, "ids": []}
    assert incident["event_count"] == 1


def test_lifecycle_acknowledge_assign_note_resolve(live: LiveServer) -> None:
    inc = open_incident(live)
    base = f"/api/v1/incidents/{inc['id']}"
    with live.client() as c:
        acked = c.post(f"{base}/acknowledge", json={"note": "looking"}).json()
        assert acked["status"] == "acknowledged"
        assert acked["acknowledged_by"] == "key:first-admin"
        assert c.post(f"{base}/acknowledge").status_code == 409
        assert c.post(f"{base}/assign", json={"assignee": "unit-7"}).json()["assignee"] == "unit-7"
        assert c.post(f"{base}/notes", json={"text": "ambulance called"}).status_code == 200
        stale = c.post(f"{base}/resolve", json={"resolution": "x", "expected_version": 1})
        assert stale.status_code == 409
        done = c.post(f"{base}/resolve", json={"resolution": "patient helped"}).json()
        assert done["status"] == "resolved"
        assert c.post(f"{base}/resolve", json={"resolution": "again"}).status_code == 409
        timeline = c.get(f"{base}/timeline").json()
    assert [t["action"] for t in timeline] == [
        "opened",
        "acknowledged",
        "assigned",
        "note",
        "resolved",
    ]
    assert [t["type"] for t in timeline] == ["new", "update", "update", "update", "end"]
    assert all(t["actor"] and t["at"] for t in timeline)
    assert timeline[2]["diff"]["assignee"] == [None, "unit-7"]


def test_roles_viewer_reads_but_cannot_act(live: LiveServer) -> None:
    inc = open_incident(live)
    viewer = live.key("viewer")
    with live.client(viewer) as c:
        assert c.get("/api/v1/incidents").status_code == 200
        r = c.post(f"/api/v1/incidents/{inc['id']}/acknowledge")
        assert r.status_code == 403
        assert "operator" in r.json()["detail"]
        assert c.post("/api/v1/events", json=fall()).status_code == 403
        assert c.get("/api/v1/keys").status_code == 403
    operator = live.key("operator")
    with live.client(operator) as c:
        assert c.post(f"/api/v1/incidents/{inc['id']}/acknowledge").status_code == 200
        assert c.post("/api/v1/keys", json={"name": "x", "role": "admin"}).status_code == 403


def test_missing_unknown_and_revoked_keys_are_refused(live: LiveServer) -> None:
    with live.client() as admin:
        created = admin.post("/api/v1/keys", json={"name": "tmp", "role": "viewer"}).json()
        with live.client(created["key"]) as c:
            assert c.get("/api/v1/incidents").status_code == 200
        assert admin.delete(f"/api/v1/keys/{created['info']['id']}").status_code == 204
        with live.client(created["key"]) as c:
            assert c.get("/api/v1/incidents").status_code == 401
    with live.client("cs_not-a-key") as c:
        assert c.get("/api/v1/incidents").status_code == 401
    import httpx

    assert httpx.get(f"{live.url}/api/v1/incidents").status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 422, "JSON"),
        (json.dumps({"kind": "video.teleport", "source": "cam-1"}).encode(), 422, "kind"),
        (
            json.dumps({"kind": "video.fall", "source": "cam-1", "confidence": "high"}).encode(),
            422,
            "confidence",
        ),
        (json.dumps({"kind": "video.fall"}).encode(), 422, "source"),
        (
            json.dumps(
                {"kind": "video.fall", "source": "c", "time": "2026-01-01T00:00:00"}
            ).encode(),
            422,
            "timezone",
        ),
        (
            json.dumps({"kind": "video.fall", "source": "c", "payload": {"nope": 1}}).encode(),
            422,
            "nope",
        ),
    ],
)
def test_bad_events_get_clear_errors(
    live_sqlite: LiveServer, body: bytes, status: int, fragment: str
) -> None:
    with live_sqlite.client() as c:
        r = c.post("/api/v1/events", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert fragment.lower() in r.text.lower()


def test_bad_batch_stores_nothing(live_sqlite: LiveServer) -> None:
    events = [fall(), fall(), {"kind": "video.fall", "source": "x", "confidence": 7}]
    with live_sqlite.client() as c:
        r = c.post("/api/v1/events/batch", json={"events": events})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"][:3] == ["body", "events", 2]
        assert c.get("/api/v1/events").json()["items"] == []


def test_oversized_body_gets_413_and_server_keeps_serving(live_sqlite: LiveServer) -> None:
    big = json.dumps({"events": [fall(evidence=[{"type": "text", "text": "x" * 19_000}])] * 60})
    with live_sqlite.client() as c:
        assert (
            c.post(
                "/api/v1/events/batch", content=big, headers={"content-type": "application/json"}
            ).status_code
            == 413
        )
        assert c.get("/healthz").status_code == 200


def test_event_and_incident_paging_with_cursor(live: LiveServer) -> None:
    sources = [f"cam-{i}" for i in (1, 2)] + ["hotline"]
    with live.client() as c:
        c.post(
            "/api/v1/events/batch", json={"events": [fall(s) for s in sources for _ in range(3)]}
        )
        live.drain()
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "sort": "last_seen"}
            if cursor:
                params["cursor"] = cursor
            page = c.get("/api/v1/incidents", params=params).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 3
        events: list[int] = []
        cursor = None
        while True:
            params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/v1/events", params=params).json()
            events += [e["seq"] for e in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert events == sorted(events, reverse=True) and len(events) == 9
        assert c.get("/api/v1/incidents", params={"cursor": "garbage!"}).status_code == 400
        filtered = c.get("/api/v1/incidents", params={"source": "hotline", "status": "open"}).json()
        assert [i["source"] for i in filtered["items"]] == ["hotline"]
        assert c.get("/api/v1/incidents", params={"min_severity": "critical"}).json()["items"] == []


def test_cap_endpoint_returns_schema_valid_cap(live: LiveServer) -> None:
    inc = open_incident(live)
    with live.client() as c:
        r = c.get(f"/api/v1/incidents/{inc['id']}/cap")
        assert c.get(f"/api/v1/incidents/{uuid.uuid4().hex}/cap").status_code == 404
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/cap+xml")
    result = capvalidator.check_schema(r.content)
    assert result.passed, result.message


def test_silence_mutes_matching_incidents_until_expired(live: LiveServer) -> None:
    inc = open_incident(live)
    with live.client() as c:
        r = c.post(
            "/api/v1/silences",
            json={"matchers": {"rule": "fall"}, "duration_s": 600, "comment": "drill"},
        )
        assert r.status_code == 201
        silence = r.json()
        assert c.get(f"/api/v1/incidents/{inc['id']}").json()["silenced"] is True
        assert [s["id"] for s in c.get("/api/v1/silences").json()] == [silence["id"]]
        assert c.delete(f"/api/v1/silences/{silence['id']}").status_code == 200
        assert c.get(f"/api/v1/incidents/{inc['id']}").json()["silenced"] is False
        assert c.get("/api/v1/silences").json() == []
        bad = c.post("/api/v1/silences", json={"matchers": {}, "duration_s": 60})
        assert bad.status_code == 422


def test_every_write_is_audited(live_sqlite: LiveServer) -> None:
    with live_sqlite.client() as c:
        c.post("/api/v1/events", json=fall())
        c.post("/api/v1/silences", json={"matchers": {"source": "cam-*"}, "duration_s": 60})
        # Malformed JSON is rejected before any route dependency runs: still the key's.
        json_type = {"Content-Type": "application/json"}
        bad = c.post("/api/v1/incidents/x/notes", content=b"{not json", headers=json_type)
        assert bad.status_code == 422
    with live_sqlite.client("wrong-key") as c:
        bad = c.post("/api/v1/events", content=b"{not json", headers=json_type)
        assert bad.status_code == 422
    with live_sqlite.client() as c:
        entries = c.get("/api/v1/audit").json()
    writes = [(e["method"], e["path"], e["status"], e["actor"]) for e in entries]
    assert ("POST", "/api/v1/events", 202, "key:first-admin") in writes
    assert ("POST", "/api/v1/silences", 201, "key:first-admin") in writes
    assert ("POST", "/api/v1/incidents/x/notes", 422, "key:first-admin") in writes
    assert ("POST", "/api/v1/events", 422, "anonymous") in writes


def test_health_metrics_and_openapi(live_sqlite: LiveServer) -> None:
    import httpx

    with live_sqlite.client() as c:
        c.post("/api/v1/events", json=fall())
        live_sqlite.drain()
    health = httpx.get(f"{live_sqlite.url}/healthz").json()
    assert health["status"] == "ok" and health["checks"]["database"] == "ok"
    metrics = httpx.get(f"{live_sqlite.url}/metrics").text
    assert 'citysentinel_events_total{kind="video.fall"} 1.0' in metrics
    assert "citysentinel_bus_queue_depth" in metrics
    assert 'citysentinel_incident_changes_total{type="new"} 1.0' in metrics
    paths = httpx.get(f"{live_sqlite.url}/openapi.json").json()["paths"]
    assert "/api/v1/incidents/{incident_id}/cap" in paths
