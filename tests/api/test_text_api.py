"""Text feeds over HTTP on a live server: post messages, a rule on labels opens an incident."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citysentinel.app import build
from citysentinel.config import Settings, SiteConfig
from citysentinel.text.analyzer import TextModelError
from tests.conftest import LiveServer, make_runtime, make_site, start_live
from tests.text.test_analyzer import make_classifier

URL = "/api/v1/text/tips/messages"


def text_site(model_dir: Path) -> SiteConfig:
    return make_site(
        text_feeds=[
            {"id": "tips", "type": "http", "models": [str(model_dir)], "channel": "tips"},
            {"id": "calls", "type": "file", "path": str(model_dir / "absent.csv")},
        ],
        rules=[
            {
                "id": "fire-report",
                "match": {"kind": "text.report", "labels": ["fire"]},
                "incident": {
                    "category": "naturalDisaster",
                    "sub_category": "fire",
                    "severity": "high",
                },
            }
        ],
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "hazard"
    make_classifier().save(out)
    return out


@pytest.fixture
def live_text(tmp_path: Path, model_dir: Path) -> Iterator[LiveServer]:
    site = text_site(model_dir)
    runtime = make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path, site)
    server = start_live(runtime)
    try:
        yield server
    finally:
        server.stop()


def test_posted_messages_become_masked_events_and_open_an_incident(live_text: LiveServer) -> None:
    batch = {
        "messages": [
            {"text": "Big fire and smoke at the market, call 138-1234-5678", "id": "m1",
             "location": {"name": "Main St", "lat": 31.2, "lon": 121.4}},
            {"text": "the street is flooded, 2 people trapped", "location": "Bridge Rd",
             "area": "east-ward"},
            {"text": "   "},
            {"text": "\x00\x01\x02\x03"},
        ]
    }  # fmt: skip
    with live_text.client(live_text.key("operator")) as c:
        r = c.post(URL, json=batch)
        assert r.status_code == 202, r.text
        body = r.json()
        assert (body["received"], body["events"], body["accepted"]) == (4, 2, 2)
        assert body["skipped"] == [
            {"index": 2, "id": None, "reason": "empty"},
            {"index": 3, "id": None, "reason": "binary"},
        ]
        again = c.post(URL, json=batch["messages"][0]).json()
        assert (again["accepted"], again["duplicates"]) == (0, 1)
        live_text.drain()
        incidents = c.get("/api/v1/incidents", params={"source": "tips"}).json()["items"]
    assert len(incidents) == 1 and incidents[0]["sub_category"] == "fire"

    with live_text.client(live_text.key("viewer")) as c:
        items = c.get("/api/v1/text/messages").json()["items"]
        assert [i["category"] for i in items] == ["flood", "fire"]
        fire = items[1]
        assert fire["text"] == "Big fire and smoke at the market, call [PHONE]"
        assert fire["labels"] == ["fire"] and fire["lang"] == "en"
        assert fire["address"] == "Main St" and fire["channel"] == "tips"
        assert set(fire["scores"]) == {"fire", "flood"}
        only = c.get("/api/v1/text/messages", params={"label": "flood", "limit": 1}).json()
        assert [i["address"] for i in only["items"]] == ["Bridge Rd"]
        flood = only["items"][0]
        assert flood["area"] == "east-ward" and fire["area"] is None  # the feed sets none
        assert flood["extracted"]["casualties"] == {"trapped": 2}
        assert fire["sentiment"] is not None and -1 <= fire["sentiment"] <= 0  # VADER: "fire"
        paged = c.get("/api/v1/text/messages", params={"limit": 1}).json()
        nxt = c.get("/api/v1/text/messages", params={"limit": 1, "cursor": paged["next_cursor"]})
        assert [i["category"] for i in nxt.json()["items"]] == ["fire"]
        assert c.get("/api/v1/text/messages", params={"lang": "zh"}).json()["items"] == []
        assert c.get("/api/v1/text/messages", params={"cursor": "bad"}).status_code == 400
        assert c.post(URL, json={"text": "fire"}).status_code == 403


@pytest.mark.parametrize(
    ("url", "body", "status"),
    [
        ("/api/v1/text/nope/messages", {"text": "fire"}, 404),
        ("/api/v1/text/calls/messages", {"text": "fire"}, 409),
        (URL, {}, 422),
        (URL, {"messages": []}, 422),
        (URL, {"text": "fire", "time": "2024-05-01T08:30:00"}, 422),  # no time zone
        (URL, {"text": "fire", "colour": "red"}, 422),
        (URL, {"text": "fire", "location": {"lat": 91}}, 422),
        (URL, {"text": "fire", "area": ""}, 422),
        (URL, ["fire"], 422),
    ],
)
def test_bad_requests_get_clear_errors(
    live_text: LiveServer, url: str, body: object, status: int
) -> None:
    with live_text.client() as c:
        r = c.post(url, json=body)
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_a_missing_model_dir_fails_the_build_naming_it(tmp_path: Path) -> None:
    site = make_site(text_feeds=[{"id": "tips", "type": "http", "models": ["models/absent"]}])
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cs.sqlite'}", data_dir=tmp_path)
    with pytest.raises(TextModelError, match=r"text feed 'tips': text model models/absent"):
        build(site, settings, sinks=[])
