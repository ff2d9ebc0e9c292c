"""Hot swap on a live server: train a tiny model, register it, swap it in, see its labels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citysentinel.text.classify import TrainConfig, train_classifier
from citysentinel.text.encoders import TfidfEncoderConfig
from citysentinel.text.registry import TextModelRegistry, text_model_root
from tests.conftest import LiveServer, make_runtime, make_site, start_live
from tests.text.test_analyzer import make_classifier

FEED = "/api/v1/text/feeds/tips/models"
POST = "/api/v1/text/tips/messages"


def train_urgency(out: Path) -> None:
    """A second tiny model with other labels (urgent / routine), trained in about a second."""
    urgent = ["help trapped now", "people trapped need rescue", "urgent help injured", "sos now"]
    routine = ["road reopened", "power is back", "school open tomorrow", "weather is fine"]
    texts = urgent + routine
    labels = [("urgent",)] * 4 + [("routine",)] * 4
    config = TrainConfig(encoder=TfidfEncoderConfig(min_df=1), c_grid=(10.0,))
    train_classifier(texts, labels, [f"g{i % 4}" for i in range(8)], config).save(out)


@pytest.fixture
def live_swap(tmp_path: Path) -> Iterator[LiveServer]:
    make_classifier().save(tmp_path / "hazard")
    site = make_site(
        text_feeds=[{"id": "tips", "type": "http", "models": [str(tmp_path / "hazard")]}]
    )
    server = start_live(make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path, site))
    try:
        yield server
    finally:
        server.stop()


def test_a_registered_model_is_swapped_into_a_running_feed(
    live_swap: LiveServer, tmp_path: Path
) -> None:
    train_urgency(tmp_path / "trained")
    TextModelRegistry(text_model_root(tmp_path)).register(tmp_path / "trained", "urgency-v1")
    with live_swap.client(live_swap.key("operator")) as op:
        r = op.post(POST, json={"text": "people trapped, need rescue now", "id": "a"})
        assert r.status_code == 202, r.text
        with live_swap.client() as admin:
            assert admin.get(FEED).json()["models"] == ["hazard"]
            listed = admin.get("/api/v1/text/models").json()
            assert [(m["name"], m["labels"]) for m in listed] == [
                ("urgency-v1", ["routine", "urgent"])
            ]
            swapped = admin.put(FEED, json={"models": ["urgency-v1"]})
            assert swapped.status_code == 200, swapped.text
            assert swapped.json() == {
                "feed": "tips",
                "models": ["urgency-v1"],
                "labels": {"urgency-v1": ["routine", "urgent"]},
            }
        r = op.post(POST, json={"text": "people trapped, need rescue now", "id": "b"})
        assert r.status_code == 202, r.text
        live_swap.drain()
        items = op.get("/api/v1/text/messages").json()["items"]
    assert items[0]["category"] == "urgent" and set(items[0]["scores"]) == {"urgent", "routine"}
    assert set(items[1]["scores"]) == {"fire", "flood"}  # the message before the swap


@pytest.mark.parametrize(
    ("role", "url", "body", "status"),
    [
        ("operator", FEED, {"models": []}, 403),
        ("viewer", FEED, {"models": []}, 403),
        ("admin", "/api/v1/text/feeds/nope/models", {"models": []}, 404),
        ("admin", FEED, {"models": ["not-registered"]}, 422),
        ("admin", FEED, {"models": ["Bad Name"]}, 422),
        ("admin", FEED, {"models": "hazard"}, 422),
        ("admin", FEED, {"models": [], "extra": 1}, 422),
    ],
)
def test_bad_swaps_change_nothing(
    live_swap: LiveServer, role: str, url: str, body: object, status: int
) -> None:
    key = None if role == "admin" else live_swap.key(role)
    with live_swap.client(key) as c:
        r = c.put(url, json=body)
        assert r.status_code == status, r.text
        assert r.json()["detail"]
    with live_swap.client() as admin:
        assert admin.get(FEED).json()["models"] == ["hazard"]
